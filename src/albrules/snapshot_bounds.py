"""Bounded cost of reading a snapshot: what is refused before any rule is validated.

A snapshot file is at most 10 MiB (``snapshot.MAX_DOCUMENT_BYTES``), but 10 MiB of tiny rules
is over a million of them, and validating each one (with a problem or three each) took
minutes and gigabytes. So, before validation:

- more than :data:`MAX_RULES` rules (50,000: a rule needs its own priority, 1 to 50,000, so no
  listener holds more; AWS's default quota is 100 per load balancer) is refused outright;
- a rule, or the rest of the document, of more than :data:`MAX_VALUES` values (scalars and
  containers) is refused: no real rule comes near (five condition values, five target
  groups, fifty tags);
- every number must be one a snapshot can hold: an integer of at most
  :data:`MAX_INT_DIGITS` digits (Python refuses to convert one of more than 4,300, and the
  largest field, a stickiness duration, has 6; a shorter out-of-range one is left to the
  range checks, which name the range), finite (no NaN, Infinity, ``1e999``). A malformed
  number is named with its field, in one sentence.

The YAML reader applies the rule count and the value budget to the parser's event stream
(:func:`scan_yaml_events`), before any node is composed: composing a million tiny mappings
takes more than half a minute and over a gigabyte even with the C loader. JSON is parsed by
the C decoder first (a 10 MiB document takes well under a second and a few hundred MB) and
checked by :func:`check_tree`.

Validation then stops keeping problems after :data:`MAX_PROBLEMS` and says how many more.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import InvalidInput

MAX_RULES = 50_000
MAX_VALUES = 1_000
MAX_PROBLEMS = 100
MAX_INT_DIGITS = 50
MAX_DEPTH = 32  # a snapshot nests 8 deep at most (rules[0].actions[0].ForwardConfig...)
_INT_BOUND = 10**MAX_INT_DIGITS
_FIX = "a snapshot's numbers are plain integers (priorities 1 to 50,000, ports, weights); fix it"


class MalformedNumber:
    """A number the parser met that no snapshot holds (kept as text, reported with its path)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def describe(self) -> str:
        digits = sum(c.isdigit() for c in self.text)
        if self.text.lower() in ("nan", ".nan"):
            return f"{self.text}, which is not a number"
        if self.text.lstrip("+-").lower() in ("infinity", ".inf"):
            return f"{self.text}, which is not a finite number"
        shown = self.text if len(self.text) <= 24 else f"{self.text[:12]}..."
        if digits > MAX_INT_DIGITS and "." not in self.text and "e" not in self.text.lower():
            return f"a number too long to be any value of a snapshot ({digits:,} digits)"
        return f"a number too large to be any value of a snapshot ({shown})"


# --- JSON: the decoder's number hooks -------------------------------------------------------


def json_int(text: str) -> int | MalformedNumber:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return MalformedNumber(text)
    return int(text)


def json_float(text: str) -> float | MalformedNumber:
    value = float(text)
    return value if math.isfinite(value) else MalformedNumber(text)


def json_constant(text: str) -> MalformedNumber:
    return MalformedNumber(text)  # NaN, Infinity, -Infinity: not JSON (RFC 8259), say so


def bounded_int(value: int, text: str) -> int | MalformedNumber:
    """A YAML integer (any base: 0x, 0o, 0b, sexagesimal) of at most MAX_INT_DIGITS decimal
    digits, else a marker."""
    return value if -_INT_BOUND < value < _INT_BOUND else MalformedNumber(text)


# --- checks on the parsed document ------------------------------------------------------------


def too_many_rules(name: str, count: int | None = None) -> InvalidInput:
    counted = f"{count:,} rules" if count is not None else f"more than {MAX_RULES:,} rules"
    return InvalidInput(
        f"{name} has {counted}; a listener holds at most {MAX_RULES:,} (one per priority), "
        "so this is not a snapshot of one and was not read further"
    )


def too_big(name: str, where: str) -> InvalidInput:
    return InvalidInput(
        f"{name}: {where} holds more than {MAX_VALUES:,} values; no rule or listener comes "
        "near that, so this is not a snapshot and was not read further"
    )


def too_deep(name: str) -> InvalidInput:
    return InvalidInput(f"{name} is nested too deeply to be a snapshot")


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key if len(key) <= 40 else key[:40] + "..."
    return "<key>"


class _Budget:
    def __init__(self, name: str, where: str):
        self.name, self.where, self.left = name, where, MAX_VALUES

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise too_big(self.name, self.where)


def _walk(value: Any, path: str, budget: _Budget, name: str, depth: int = 1) -> None:
    budget.spend()
    if depth > MAX_DEPTH:
        raise too_deep(name)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                _check_scalar(key, f"{path} (a key)", name)
            where = f"{path}.{_key_text(key)}" if path else _key_text(key)
            _walk(item, where, budget, name, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{path}[{i}]", budget, name, depth + 1)
    else:
        _check_scalar(value, path, name)


def _check_scalar(value: Any, path: str, name: str) -> None:
    bad: MalformedNumber | None = None
    if isinstance(value, MalformedNumber):
        bad = value
    elif isinstance(value, float) and not math.isfinite(value):
        bad = MalformedNumber(repr(value))
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _INT_BOUND:
        bad = MalformedNumber("9" * (MAX_INT_DIGITS + 1))  # never str() it: it may not fit
    if bad is not None:
        raise InvalidInput(f"{name}: {path or 'the document'} holds {bad.describe()}; {_FIX}")


def check_tree(data: Any, name: str) -> None:
    """Refuse (InvalidInput, one sentence) too many rules, an oversized rule or document, or a
    malformed number, before anything is validated. Cheap: stops at the first."""
    if not isinstance(data, dict):
        _walk(data, "", _Budget(name, "the document"), name)
        return
    rules = data.get("rules")
    if isinstance(rules, list) and len(rules) > MAX_RULES:
        raise too_many_rules(name, len(rules))
    rest = _Budget(name, "the document outside its rules")
    for key, value in data.items():
        if not isinstance(key, str):
            _check_scalar(key, "a top-level key", name)
        if key == "rules" and isinstance(value, list):
            rest.spend()
            for i, rule in enumerate(value):
                _walk(rule, f"rules[{i}]", _Budget(name, f"rules[{i}]"), name, 2)
        else:
            _walk(value, _key_text(key), rest, name)


# --- YAML: the same limits on the parser's events, before composing ---------------------------


def scan_yaml_events(events: Any, name: str) -> None:
    """Refuse aliases, more than MAX_RULES rules and oversized rules from YAML parser events
    (constant memory), so that composing the document is bounded."""
    import yaml

    stack: list[list[Any]] = []  # [is_mapping, next_is_key, role] role: "top"|"rules"|""
    rules = 0
    budget: _Budget | None = None  # the current rule's, or the rest of the document's
    rest = _Budget(name, "the document outside its rules")
    last_key: Any = None
    for event in events:
        if isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            raise InvalidInput(
                f"{name} is not valid YAML: {where}YAML aliases are not allowed in a snapshot"
            )
        if isinstance(event, yaml.CollectionEndEvent):
            ended = stack.pop()
            if ended[2] == "rules" or (len(stack) == 2 and stack[-1][2] == "rules"):
                budget = None  # a rule, or the rules, ended
            continue
        if not isinstance(event, yaml.NodeEvent):
            continue
        parent = stack[-1] if stack else None
        is_key = bool(parent and parent[0] and parent[1])
        if parent is not None and parent[0]:
            parent[1] = not parent[1]
        if parent is not None and parent[2] == "rules" and len(stack) == 2:
            rules += 1
            if rules > MAX_RULES:
                raise too_many_rules(name)
            budget = _Budget(name, f"rules[{rules - 1}]")
        (budget or rest).spend()
        role = ""
        if parent is None:
            role = "top"
        elif parent[2] == "top" and not is_key and last_key == "rules":
            role = "rules"
        if parent is not None and parent[2] == "top" and is_key:
            last_key = event.value if isinstance(event, yaml.ScalarEvent) else None
        if isinstance(event, yaml.CollectionStartEvent) and len(stack) >= MAX_DEPTH:
            raise too_deep(name)
        if isinstance(event, yaml.MappingStartEvent):
            stack.append([True, True, role])
        elif isinstance(event, yaml.SequenceStartEvent):
            stack.append([False, False, role])


class ProblemCounter:
    """The first MAX_PROBLEMS problems, and how many more there were."""

    def __init__(self) -> None:
        from .errors import Problem

        self.kept: list[Problem] = []
        self.more = 0
        self._seen: set[Problem] = set()

    def add(self, problems: list[Any]) -> None:
        for problem in problems:
            if problem in self._seen:
                continue
            if len(self.kept) < MAX_PROBLEMS:
                self.kept.append(problem)
                self._seen.add(problem)
            else:
                self.more += 1

    def __bool__(self) -> bool:
        return bool(self.kept)
