"""The checks AWS Step Functions makes on a state machine definition, which moto does not.

Pure functions over a definition (the text, or the parsed JSON): each returns a list of
:class:`Finding`, empty when the definition passes. The local AWS raises them as AWS does
(``InvalidDefinition``, see :mod:`albrules.local.asl_validation`), so a local deploy fails
where ``sam deploy`` would. The definition is checked as AWS gets it: after
``DefinitionSubstitutions`` are applied.

Wording. AWS answers CreateStateMachine/UpdateStateMachine with one ``InvalidDefinition``
error whose message is ``Invalid State Machine Definition: '<finding>, <finding>, ...'``, each
finding ``<CODE>: <message> at <location>``. The codes are AWS's documented diagnostic codes
(API reference, ValidateStateMachineDefinitionDiagnostic). Messages, as far as they could be
checked in public error reports (CloudFormation and SDK errors quoted in GitHub issues, and
the AWS responses LocalStack records in its snapshot tests):

Confirmed wording:
- ``MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at /States/pass1/Next``
- ``MISSING_TRANSITION_TARGET: Missing 'Next' target: X at /StartAt`` (StartAt names no state)
- ``MISSING_TRANSITION_TARGET: State "pass2" is not reachable. at /States/pass2``
- ``DUPLICATE_STATE_NAME: Duplicate State name: X at /States/X`` (a top-level duplicate)
- ``SCHEMA_VALIDATION_FAILED: The field 'Type' should have one of these values: [Task, Wait,
  Pass, Succeed, Fail, Choice, Parallel, Map] at /States/X/Type``
- ``SCHEMA_VALIDATION_FAILED: Field 'F' is not supported at /States/X`` (a field the state's
  type does not have; used here for Next/End on Succeed, Fail and Choice)
- several findings joined with ", " inside the one pair of quotes.

Unconfirmed (the code is AWS's, the wording and location are this module's best guess):
- the location of a nested finding (``/States/M/ItemProcessor/States/X``,
  ``/States/P/Branches/0/States/X``) and of a Choice/Catch target (``/States/X/Choices/0/Next``,
  ``/States/X/Default``, ``/States/X/Catch/0/Next``); which of two duplicates AWS names;
- ``INVALID_JSON_DESCRIPTION``: AWS quotes its own (Jackson) parser's message; here Python's;
- ``SCHEMA_VALIDATION_FAILED: These fields are required: [StartAt] at /`` (and ``[States]``,
  ``[Type]``; the phrase is quoted by third-party linters, not seen in an AWS response);
- a state with neither or both of Next and End: ``SCHEMA_VALIDATION_FAILED: Exactly one of
  these fields is required: [Next, End] at /States/X``;
- a state name over 80 characters: ``INVALID_STATE_NAME: State name is longer than 80
  characters: X at /States/X`` (the 80-character limit is AWS's documented quota; the ASL
  specification allows 128);
- ``MISSING_END_STATE: The workflow has no terminal state at /States`` (a scope where no state
  ends: no End, Succeed or Fail);
- the order of the findings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

STATE_TYPES = ("Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map")
TERMINAL_TYPES = ("Succeed", "Fail")
MAX_STATE_NAME = 80
PREFIX = "Invalid State Machine Definition: "


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    location: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message} at {self.location}"


class _Object(dict[str, Any]):
    """A JSON object that remembers the keys it was given more than once."""

    duplicates: list[str]


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    obj.duplicates = []
    for key, value in pairs:
        if key in obj:
            obj.duplicates.append(key)
        obj[key] = value
    return obj


def parse(text: str) -> tuple[Any, list[Finding]]:
    """The definition's JSON, or None and the INVALID_JSON_DESCRIPTION finding."""
    if not text or not text.strip():
        return None, [Finding("MISSING_DESCRIPTION", "The definition is empty", "/")]
    try:
        return json.loads(text, object_pairs_hook=_object), []
    except ValueError as err:
        return None, [Finding("INVALID_JSON_DESCRIPTION", str(err), "/")]


def check_text(text: str) -> list[Finding]:
    """Every finding on a definition given as text (what CreateStateMachine receives)."""
    definition, findings = parse(text)
    return findings or check(definition)


def check(definition: Any) -> list[Finding]:
    """Every finding on a parsed definition: the machine and, on their own, its nested scopes."""
    if not isinstance(definition, dict):
        return [Finding("SCHEMA_VALIDATION_FAILED", "The definition must be a JSON object", "/")]
    findings = duplicate_names(definition)
    findings += check_scope(definition, "")
    return findings


def error_message(findings: list[Finding]) -> str:
    """The message of AWS's InvalidDefinition error for these findings."""
    return PREFIX + "'" + ", ".join(str(f) for f in findings) + "'"


# --- the whole machine ------------------------------------------------------------------------


def scopes(scope: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """This scope and every nested one (Map processors, Parallel branches), with their paths."""
    yield path, scope
    states = scope.get("States")
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        here = f"{path}/States/{name}"
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                yield from scopes(state[key], f"{here}/{key}")
        branches = state.get("Branches")
        if isinstance(branches, list):
            for index, branch in enumerate(branches):
                if isinstance(branch, dict):
                    yield from scopes(branch, f"{here}/Branches/{index}")


def duplicate_names(definition: dict[str, Any]) -> list[Finding]:
    """State names are unique across the whole machine, nested scopes included."""
    seen: set[str] = set()
    findings = []
    for path, scope in scopes(definition):
        states = scope.get("States")
        if not isinstance(states, dict):
            continue
        for name in getattr(states, "duplicates", []):
            findings.append(_duplicate(name, f"{path}/States/{name}"))
        for name in states:
            if name in seen:
                findings.append(_duplicate(name, f"{path}/States/{name}"))
            seen.add(name)
    return findings


def _duplicate(name: str, location: str) -> Finding:
    return Finding("DUPLICATE_STATE_NAME", f"Duplicate State name: {name}", location)


# --- one scope (the machine, a Map's processor, a Parallel branch) ----------------------------


def check_scope(scope: dict[str, Any], path: str) -> list[Finding]:
    """StartAt, the states and their transitions of one scope, then its nested scopes."""
    where = path or "/"
    missing = [key for key in ("StartAt", "States") if key not in scope]
    if missing:
        return [_required(missing, where)]
    states = scope["States"]
    if not isinstance(states, dict) or not states:
        return [
            Finding(
                "SCHEMA_VALIDATION_FAILED",
                "The field 'States' must be a non-empty object",
                f"{path}/States",
            )
        ]
    findings: list[Finding] = []
    start = scope["StartAt"]
    if start not in states:
        findings.append(_missing_target(start, f"{path}/StartAt"))
    for name, state in states.items():
        findings += check_state(name, state, set(states), f"{path}/States/{name}")
    findings += unreachable(scope, path)
    if not any(_ends(state) for state in states.values()):
        findings.append(
            Finding("MISSING_END_STATE", "The workflow has no terminal state", f"{path}/States")
        )
    for key in ("ItemProcessor", "Iterator"):
        for name, state in states.items():
            if isinstance(state, dict) and isinstance(state.get(key), dict):
                findings += check_scope(state[key], f"{path}/States/{name}/{key}")
    for name, state in states.items():
        branches = state.get("Branches") if isinstance(state, dict) else None
        if isinstance(branches, list):
            for index, branch in enumerate(branches):
                if isinstance(branch, dict):
                    findings += check_scope(branch, f"{path}/States/{name}/Branches/{index}")
    return findings


def check_state(name: str, state: Any, names: set[str], location: str) -> list[Finding]:
    """One state's name, Type, Next/End and transition targets (within its own scope)."""
    findings = []
    if len(name) > MAX_STATE_NAME:
        findings.append(
            Finding(
                "INVALID_STATE_NAME",
                f"State name is longer than {MAX_STATE_NAME} characters: {name}",
                location,
            )
        )
    if not isinstance(state, dict):
        return [
            *findings,
            Finding("SCHEMA_VALIDATION_FAILED", "A state must be a JSON object", location),
        ]
    kind = state.get("Type")
    if kind is None:
        return [*findings, _required(["Type"], location)]
    if kind not in STATE_TYPES:
        return [
            *findings,
            Finding(
                "SCHEMA_VALIDATION_FAILED",
                f"The field 'Type' should have one of these values: [{', '.join(STATE_TYPES)}]",
                f"{location}/Type",
            ),
        ]
    if kind in (*TERMINAL_TYPES, "Choice"):
        for field in ("Next", "End"):
            if field in state:
                findings.append(
                    Finding(
                        "SCHEMA_VALIDATION_FAILED", f"Field '{field}' is not supported", location
                    )
                )
    elif ("Next" in state) == (state.get("End") is True):
        findings.append(
            Finding(
                "SCHEMA_VALIDATION_FAILED",
                "Exactly one of these fields is required: [Next, End]",
                location,
            )
        )
    for target, at in transitions(state, location):
        if not isinstance(target, str) or target not in names:
            findings.append(_missing_target(target, at))
    return findings


def transitions(state: dict[str, Any], location: str) -> Iterator[tuple[Any, str]]:
    """Each state a state can go to, with where it says so: Next, Choices, Default, Catch."""
    if state.get("Type") not in (*TERMINAL_TYPES, "Choice") and "Next" in state:
        yield state["Next"], f"{location}/Next"
    if state.get("Type") == "Choice":
        choices = state.get("Choices")
        for index, choice in enumerate(choices if isinstance(choices, list) else []):
            if isinstance(choice, dict) and "Next" in choice:
                yield choice["Next"], f"{location}/Choices/{index}/Next"
        if "Default" in state:
            yield state["Default"], f"{location}/Default"
    catchers = state.get("Catch")
    for index, catcher in enumerate(catchers if isinstance(catchers, list) else []):
        if isinstance(catcher, dict) and "Next" in catcher:
            yield catcher["Next"], f"{location}/Catch/{index}/Next"


def unreachable(scope: dict[str, Any], path: str) -> list[Finding]:
    """States of the scope that no path from StartAt reaches."""
    states: dict[str, Any] = scope["States"]
    reached: set[str] = set()
    todo = [scope["StartAt"]]
    while todo:
        name = todo.pop()
        if not isinstance(name, str) or name in reached or name not in states:
            continue
        reached.add(name)
        state = states[name]
        if isinstance(state, dict):
            todo += [target for target, _ in transitions(state, "")]
    return [
        Finding(
            "MISSING_TRANSITION_TARGET",
            f'State "{name}" is not reachable.',
            f"{path}/States/{name}",
        )
        for name in states
        if name not in reached
    ]


def _ends(state: Any) -> bool:
    if not isinstance(state, dict):
        return True  # reported on its own; not also as a missing end
    return state.get("Type") in TERMINAL_TYPES or state.get("End") is True


def _required(fields: list[str], location: str) -> Finding:
    return Finding(
        "SCHEMA_VALIDATION_FAILED", f"These fields are required: [{', '.join(fields)}]", location
    )


def _missing_target(target: Any, location: str) -> Finding:
    return Finding("MISSING_TRANSITION_TARGET", f"Missing 'Next' target: {target}", location)
