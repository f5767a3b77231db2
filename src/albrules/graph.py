"""A Mermaid flowchart of a state machine, generated from its ASL file (``albrules graph``).

Nodes are the states, by their names, shaped by type: Task a rectangle (a subroutine box when
it waits for a task token), Pass a rounded box, Wait a hexagon, Choice a rhombus, Succeed and
Fail a stadium (the Fail's error under its name), Map and Parallel a subgraph holding their
states (its title says which kind of Map). Edges: ``Next``, each Choice rule (labelled with
its condition) and ``Default`` ("otherwise"), and ``Catch`` (dashed, labelled with the error
names). The output depends only on the file: states keep the file's order, so the same ASL
always gives the same text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InvalidInput

KINDS = ("backup", "restore", "changes")
BREAK = "<br/>"
# Words Mermaid reads as syntax when used as a node id.
RESERVED = frozenset(
    {"end", "graph", "subgraph", "flowchart", "class", "classdef", "click", "style", "linkstyle",
     "direction", "default"}
)  # fmt: skip
CLASSES = {
    "succeed": "fill:#e6f4ea,stroke:#1e8e3e,color:#000",
    "fail": "fill:#fce8e6,stroke:#d93025,color:#000",
    "waits": "fill:#fef7e0,stroke:#f9ab00,stroke-dasharray:5 5,color:#000",
    "start": "fill:#e8eaed,stroke:#5f6368,color:#000",
}
COMPARISONS = {
    "Equals": "=",
    "LessThan": "<",
    "GreaterThan": ">",
    "LessThanEquals": "<=",
    "GreaterThanEquals": ">=",
    "Matches": "matches",
}
TYPE_TESTS = {
    "IsNull": "null",
    "IsBoolean": "a boolean",
    "IsNumeric": "a number",
    "IsString": "a string",
    "IsTimestamp": "a timestamp",
}


def definition_path(kind: str, file: str | None = None) -> Path:
    """The ASL file of ``kind``: ``--file``, else ``statemachine/<kind>.asl.json`` here (as
    ``albrules local deploy`` finds ``template.yaml``: relative to the current directory)."""
    if kind not in KINDS:
        raise InvalidInput(f"graph backup, graph restore or graph changes, not {kind!r}")
    if file:
        return Path(file)
    return Path("statemachine") / f"{kind}.asl.json"


def load_definition(path: Path) -> dict[str, Any]:
    """The state machine definition in ``path``, or InvalidInput (one sentence)."""
    if not path.is_file():
        raise InvalidInput(
            f"no state machine definition at {path}; run from the albrules checkout or give "
            "--file PATH"
        )
    try:
        definition = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InvalidInput(f"{path} is not valid JSON ({err}); fix the file") from None
    if not isinstance(definition, dict) or not isinstance(definition.get("States"), dict):
        raise InvalidInput(f"{path} has no States; is it an ASL state machine definition?")
    if definition.get("StartAt") not in definition["States"]:
        raise InvalidInput(f"{path}: StartAt does not name one of its States; fix the file")
    return definition


# --- labels ---------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Text safe inside a quoted Mermaid label (entity codes for ``#``, quotes, ``<`` ``>``)."""
    return (
        text.replace("#", "#35;")
        .replace('"', "#quot;")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
        .replace("\n", " ")
    )


def _path(value: Any) -> str:
    text = str(value)
    return text[2:] if text.startswith("$.") else text


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe_rule(rule: dict[str, Any]) -> str:
    """A Choice rule in a few words: ``outcome = RESTORED``, ``request.dry_run = true``."""
    if "Condition" in rule:  # JSONata
        return str(rule["Condition"]).removeprefix("{%").removesuffix("%}").strip()
    if "And" in rule or "Or" in rule:
        word, parts = ("and", rule["And"]) if "And" in rule else ("or", rule["Or"])
        # "X is present and X = true" says no more than "X = true".
        compared = {p.get("Variable") for p in parts if not _is_presence(p)}
        kept = [p for p in parts if not (_is_presence(p) and p.get("Variable") in compared)]
        texts = [describe_rule(p) for p in kept]
        if len(texts) == 1:
            return texts[0]
        return f" {word} ".join(f"({t})" if (" and " in t or " or " in t) else t for t in texts)
    if "Not" in rule:
        return f"not ({describe_rule(rule['Not'])})"
    variable = _path(rule.get("Variable", "?"))
    for key, value in rule.items():
        if key in ("Variable", "Next"):
            continue
        if key == "IsPresent":
            return f"{variable} is {'present' if value else 'absent'}"
        if key in TYPE_TESTS:
            return f"{variable} is {'' if value else 'not '}{TYPE_TESTS[key]}"
        for suffix, symbol in COMPARISONS.items():
            stem = key.removesuffix("Path")
            if stem.endswith(suffix):
                shown = _path(value) if key.endswith("Path") else _value(value)
                return f"{variable} {symbol} {shown}"
    return variable


def _is_presence(rule: dict[str, Any]) -> bool:
    return rule.get("IsPresent") is True and "Variable" in rule


def describe_errors(errors: list[str]) -> str:
    """A Catch's error names, ``States.ALL`` as "any error"."""
    return ", ".join("any error" if e == "States.ALL" else e for e in errors)


# --- the graph ------------------------------------------------------------------------------


@dataclass
class _Graph:
    lines: list[str] = field(default_factory=list)
    ids: dict[tuple[str, ...], str] = field(default_factory=dict)  # scope + name -> id
    used: set[str] = field(default_factory=set)
    classes: dict[str, list[str]] = field(default_factory=dict)

    def new_id(self, name: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "state"
        if base[0].isdigit() or base in RESERVED:
            base = f"s_{base}"
        candidate, n = base, 2
        while candidate in self.used:
            candidate, n = f"{base}_{n}", n + 1
        self.used.add(candidate)
        return candidate

    def mark(self, node: str, css: str) -> None:
        self.classes.setdefault(css, []).append(node)


def _node(node: str, name: str, state: dict[str, Any]) -> tuple[str, str | None]:
    """The node's declaration and its class, by the state's type."""
    kind = state.get("Type")
    label = escape(name)
    if kind == "Task":
        if str(state.get("Resource", "")).endswith(".waitForTaskToken"):
            return f'{node}[["{label}{BREAK}(waits for a task token)"]]', "waits"
        return f'{node}["{label}"]', None
    if kind == "Choice":
        return f'{node}{{"{label}"}}', None
    if kind == "Pass":
        return f'{node}("{label}")', None
    if kind == "Wait":
        return f'{node}{{{{"{label}"}}}}', None
    if kind == "Succeed":
        return f'{node}(["{label}"])', "succeed"
    if kind == "Fail":
        error = state.get("Error") or state.get("ErrorPath")
        detail = f"{BREAK}{escape('Error: ' + str(error))}" if error else ""
        return f'{node}(["{label}{detail}"])', "fail"
    return f'{node}["{label}{BREAK}{escape(str(kind))}"]', None


def _map_title(name: str, state: dict[str, Any]) -> str:
    processor = state.get("ItemProcessor") or state.get("Iterator") or {}
    mode = (processor.get("ProcessorConfig") or {}).get("Mode", "INLINE")
    what = "Distributed Map" if mode == "DISTRIBUTED" else "inline Map"
    return f"{escape(name)} ({what})"


def _declare(graph: _Graph, states: dict[str, Any], scope: tuple[str, ...], indent: str) -> None:
    """Declare the states of one scope (the machine, a Map's iteration, a Parallel branch)."""
    for name, state in states.items():
        node = graph.new_id(name)
        graph.ids[(*scope, name)] = node
        kind = state.get("Type")
        if kind == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator") or {}
            graph.lines.append(f'{indent}subgraph {node}["{_map_title(name, state)}"]')
            _inner(graph, node, processor, (*scope, name), indent + "    ", "for each item")
            graph.lines.append(f"{indent}end")
        elif kind == "Parallel":
            graph.lines.append(f'{indent}subgraph {node}["{escape(name)} (parallel)"]')
            for i, branch in enumerate(state.get("Branches") or [], start=1):
                _inner(graph, node, branch, (*scope, name, str(i)), indent + "    ", f"branch {i}")
            graph.lines.append(f"{indent}end")
        else:
            declaration, css = _node(node, name, state)
            graph.lines.append(indent + declaration)
            if css:
                graph.mark(node, css)


def _inner(
    graph: _Graph,
    owner: str,
    machine: dict[str, Any],
    scope: tuple[str, ...],
    indent: str,
    start_label: str,
) -> None:
    """A nested machine inside its subgraph: a start marker, its states and its edges."""
    states = machine.get("States") or {}
    start = graph.new_id(f"{owner} start")
    graph.lines.append(f'{indent}{start}(["{escape(start_label)}"])')
    graph.mark(start, "start")
    _declare(graph, states, scope, indent)
    if machine.get("StartAt") in states:
        graph.lines.append(f"{indent}{start} --> {graph.ids[(*scope, machine['StartAt'])]}")
    _edges(graph, states, scope, indent)


def _edges(graph: _Graph, states: dict[str, Any], scope: tuple[str, ...], indent: str) -> None:
    def target(name: str) -> str:
        if (*scope, name) not in graph.ids:
            raise InvalidInput(f"a transition goes to {name!r}, which is not a state; fix the file")
        return graph.ids[(*scope, name)]

    for name, state in states.items():
        node = graph.ids[(*scope, name)]
        for rule in state.get("Choices") or []:
            label = escape(describe_rule(rule))
            graph.lines.append(f'{indent}{node} -->|"{label}"| {target(rule["Next"])}')
        if state.get("Default"):
            graph.lines.append(f'{indent}{node} -->|"otherwise"| {target(state["Default"])}')
        if state.get("Next"):
            graph.lines.append(f"{indent}{node} --> {target(state['Next'])}")
        for catcher in state.get("Catch") or []:
            label = escape(describe_errors(catcher.get("ErrorEquals") or []))
            graph.lines.append(f'{indent}{node} -.->|"{label}"| {target(catcher["Next"])}')
        if state.get("End") and not scope:
            graph.lines.append(f"{indent}{node} --> machine_end")


def mermaid(definition: dict[str, Any]) -> str:
    """The Mermaid flowchart of a state machine definition."""
    graph = _Graph(used={"machine_start", "machine_end"})
    states = definition["States"]
    graph.lines.append("flowchart TD")
    graph.lines.append('    machine_start(["Start"])')
    graph.mark("machine_start", "start")
    _declare(graph, states, (), "    ")
    if any(s.get("End") for s in states.values()):
        graph.lines.append('    machine_end(["End"])')
        graph.mark("machine_end", "start")
    graph.lines.append(f"    machine_start --> {graph.ids[(definition['StartAt'],)]}")
    _edges(graph, states, (), "    ")
    for css, style in CLASSES.items():
        if graph.classes.get(css):
            graph.lines.append(f"    classDef {css} {style}")
            graph.lines.append(f"    class {','.join(graph.classes[css])} {css}")
    return "\n".join(graph.lines) + "\n"


def graph_of(kind: str, file: str | None = None) -> str:
    """``albrules graph KIND [--file PATH]``: the Mermaid text of that ASL file."""
    return mermaid(load_definition(definition_path(kind, file)))
