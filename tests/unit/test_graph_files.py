"""``albrules graph`` on the real statemachine/*.asl.json files: pure file reading, no AWS.

The unit copy of tests/test_graph.py, with the same assertions. The Mermaid output is read back
with a small parser of the subset the generator writes, so a line it cannot read (a broken
label, an unbalanced subgraph) fails here too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from albrules.cli import app
from albrules.graph import describe_rule, mermaid

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("backup", "restore")

NODE = re.compile(
    r'^(?P<id>\w+)(?P<open>\[\[|\(\[|\{\{|\[|\(|\{)"(?P<label>[^"]*)"(?P<close>\]\]|\]\)|\}\}|\]|\)|\})$'
)
SUBGRAPH = re.compile(r'^subgraph (?P<id>\w+)\["(?P<label>[^"]*)"\]$')
EDGE = re.compile(r'^(?P<src>\w+) (?P<arrow>-->|-\.->)(?:\|"(?P<label>[^"]*)"\|)? (?P<dst>\w+)$')
SHAPES = {"[": "]", "[[": "]]", "([": "])", "(": ")", "{": "}", "{{": "}}"}
MAP_SUFFIX = re.compile(r" \((inline Map|Distributed Map|parallel)\)$")


def unescape(text: str) -> str:
    for code, char in (("#quot;", '"'), ("#lt;", "<"), ("#gt;", ">"), ("#35;", "#")):
        text = text.replace(code, char)
    return text


@dataclass
class Node:
    name: str
    shape: str
    detail: str
    scope: tuple[str, ...]


@dataclass
class Parsed:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str, str, str]] = field(default_factory=list)  # src, arrow, label, dst
    classes: dict[str, set[str]] = field(default_factory=dict)


def parse(text: str) -> Parsed:
    """Read the generator's Mermaid back; fail on any line it should not have written."""
    lines = text.splitlines()
    assert lines[0] == "flowchart TD", lines[0]
    parsed = Parsed()
    stack: list[str] = []
    for raw in lines[1:]:
        line = raw.strip()
        if m := SUBGRAPH.match(line):
            title = unescape(m["label"])
            parsed.nodes[m["id"]] = Node(MAP_SUFFIX.sub("", title), "subgraph", title, tuple(stack))
            stack.append(parsed.nodes[m["id"]].name)
        elif line == "end":
            assert stack, "an `end` without its subgraph"
            stack.pop()
        elif m := NODE.match(line):
            assert SHAPES[m["open"]] == m["close"], line
            name, _, detail = unescape(m["label"]).partition("<br/>")
            assert m["id"] not in parsed.nodes, f"{m['id']} declared twice"
            parsed.nodes[m["id"]] = Node(name, m["open"], detail, tuple(stack))
        elif m := EDGE.match(line):
            parsed.edges.append((m["src"], m["arrow"], unescape(m["label"] or ""), m["dst"]))
        elif line.startswith("classDef "):
            continue
        elif line.startswith("class "):
            _, ids, css = line.split(" ")
            parsed.classes.setdefault(css, set()).update(ids.split(","))
        else:
            pytest.fail(f"not a line of the expected Mermaid: {raw!r}")
    assert not stack, f"subgraph {stack[-1]} is never closed"
    for src, _, _, dst in parsed.edges:
        assert src in parsed.nodes and dst in parsed.nodes, (src, dst)
    for ids in parsed.classes.values():
        assert ids <= set(parsed.nodes), ids - set(parsed.nodes)
    return parsed


def definition(kind: str) -> dict[str, Any]:
    return json.loads((ROOT / "statemachine" / f"{kind}.asl.json").read_text())


def all_states(machine: dict[str, Any], scope: tuple[str, ...] = ()):
    """(scope, name, state) for every state, those inside Map iterations included."""
    for name, state in machine["States"].items():
        yield scope, name, state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from all_states(processor, (*scope, name))


def expected_edges(machine: dict[str, Any]) -> Counter:
    """Every transition of the ASL as (scope, from, arrow, label, to)."""
    edges: Counter = Counter()
    for scope, name, state in all_states(machine):
        for rule in state.get("Choices", []):
            edges[(scope, name, "-->", describe_rule(rule), rule["Next"])] += 1
        if "Default" in state:
            edges[(scope, name, "-->", "otherwise", state["Default"])] += 1
        if "Next" in state:
            edges[(scope, name, "-->", "", state["Next"])] += 1
        for catcher in state.get("Catch", []):
            errors = ", ".join(
                "any error" if e == "States.ALL" else e for e in catcher["ErrorEquals"]
            )
            edges[(scope, name, "-.->", errors, catcher["Next"])] += 1
    return edges


def drawn_edges(parsed: Parsed) -> Counter:
    edges: Counter = Counter()
    for src, arrow, label, dst in parsed.edges:
        a, b = parsed.nodes[src], parsed.nodes[dst]
        if a.shape == "([" and a.name in ("Start", "for each item"):
            continue  # start markers
        assert a.scope == b.scope, f"an edge leaves its scope: {a.name} -> {b.name}"
        edges[(a.scope, a.name, arrow, label, b.name)] += 1
    return edges


@pytest.mark.parametrize("kind", KINDS)
def test_every_state_is_a_node_shaped_by_its_type(kind: str) -> None:
    machine = definition(kind)
    parsed = parse(mermaid(machine))
    by_place = {(n.scope, n.name): n for n in parsed.nodes.values()}
    states = list(all_states(machine))
    assert len(states) > 10
    for scope, name, state in states:
        node = by_place.get((scope, name))
        assert node is not None, f"state {name!r} is missing from the graph of {kind}"
        kind_of = state["Type"]
        if kind_of == "Choice":
            assert node.shape == "{"
        elif kind_of == "Map":
            assert node.shape == "subgraph"
            mode = (state["ItemProcessor"].get("ProcessorConfig") or {}).get("Mode", "INLINE")
            assert ("Distributed Map" if mode == "DISTRIBUTED" else "inline Map") in node.detail
        elif kind_of == "Fail":
            assert node.shape == "([" and node.detail == f"Error: {state['Error']}"
        elif kind_of == "Succeed":
            assert node.shape == "(["
        elif kind_of == "Task":
            waits = state["Resource"].endswith(".waitForTaskToken")
            assert node.shape == ("[[" if waits else "[")
            assert ("waits for a task token" in node.detail) == waits
        elif kind_of == "Pass":
            assert node.shape == "("
    # Every node is a state or a start marker; nothing invented.
    markers = [n for n in parsed.nodes.values() if n.name in ("Start", "for each item")]
    assert len(parsed.nodes) == len(states) + len(markers)
    fails = {i for i, n in parsed.nodes.items() if n.detail.startswith("Error: ")}
    assert fails and parsed.classes["fail"] == fails


@pytest.mark.parametrize("kind", KINDS)
def test_every_transition_is_an_edge(kind: str) -> None:
    machine = definition(kind)
    parsed = parse(mermaid(machine))
    assert drawn_edges(parsed) == expected_edges(machine)
    start = [e for e in parsed.edges if parsed.nodes[e[0]].name == "Start"]
    assert [parsed.nodes[e[3]].name for e in start] == [machine["StartAt"]]


def test_choice_and_catch_labels_read_as_words() -> None:
    parsed = parse(mermaid(definition("restore")))
    labels = {
        (parsed.nodes[s].name, label, parsed.nodes[d].name) for s, _, label, d in parsed.edges
    }
    assert ("Is there anything to change?", "changes = 0", "Note that nothing needs to change") in (
        labels
    )
    # "is present and = true" on one variable reads as "= true".
    assert (
        "Is approval required?",
        "request.require_approval = true",
        "Wait for approval",
    ) in labels
    assert (
        "How did the restore end?",
        "outcome = ROLLBACK_FAILED",
        "The rollback failed",
    ) in labels
    assert ("Lock the listener", "ListenerLocked", "Note that the listener is locked") in labels
    assert ("Wait for approval", "States.Timeout", "Note that approval timed out") in labels
    assert ("Apply the plan", "any error", "Roll back to the pre-restore snapshot") in labels


def test_the_output_is_the_same_in_every_process() -> None:
    """No set or hash order leaks into the text: interpreters with different hash seeds print
    the same bytes. (The unit copy runs what ``albrules graph restore`` runs, ``graph_of``,
    without importing the whole CLI three times; the CLI's printing is checked below.)"""
    outputs = set()
    script = (
        "import sys; from albrules.graph import graph_of; sys.stdout.write(graph_of('restore'))"
    )
    for seed in ("1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        outputs.add(done.stdout)
    assert len(outputs) == 1
    assert outputs.pop() == mermaid(definition("restore"))


def test_the_cli_prints_the_graph_of_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, ["graph", "backup"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == mermaid(definition("backup"))
    # --file: another definition, and the graph follows it.
    machine = definition("backup")
    machine["States"]["Discover the listeners"]["Next"] = "Summarise the backup"
    other = tmp_path / "other.asl.json"
    other.write_text(json.dumps(machine))
    result = CliRunner().invoke(app, ["graph", "backup", "--file", str(other)])
    assert result.exit_code == 0, result.stderr
    parsed = parse(result.stdout)
    names = {(parsed.nodes[s].name, parsed.nodes[d].name) for s, _, _, d in parsed.edges}
    assert ("Discover the listeners", "Summarise the backup") in names
    assert ("Discover the listeners", "Are there few enough listeners for one execution?") not in (
        names
    )


@pytest.mark.parametrize(
    ("args", "content", "words"),
    [
        (["graph", "restore", "--file", "{tmp}/missing.json"], None, "no state machine definition"),
        (["graph", "restore", "--file", "{tmp}/bad.json"], "{not json", "is not valid JSON"),
        (["graph", "restore", "--file", "{tmp}/bad.json"], '{"States": 1}', "has no States"),
        (
            ["graph", "restore", "--file", "{tmp}/bad.json"],
            '{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}',
            "'B', which is not a state",
        ),
        (["graph", "deploy"], None, "graph backup, graph restore or graph changes"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(
    tmp_path: Path, monkeypatch, args: list[str], content: str | None, words: str
) -> None:
    monkeypatch.chdir(ROOT)
    if content is not None:
        (tmp_path / "bad.json").write_text(content)
    result = CliRunner().invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 2
    assert words in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_the_default_file_is_found_from_the_current_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["graph", "backup"])
    assert result.exit_code == 2
    assert "statemachine/backup.asl.json" in result.stderr and "--file" in result.stderr


def test_names_are_escaped_and_every_shape_is_drawn() -> None:
    """Quotes, #, < and > in names survive; Wait, Parallel and End get their shapes."""
    machine = {
        "StartAt": 'Say "hi" #1 <now>',
        "States": {
            'Say "hi" #1 <now>': {"Type": "Pass", "Next": "Pause"},
            "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Both"},
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
                    {"StartAt": "Right", "States": {"Right": {"Type": "Pass", "End": True}}},
                ],
                "Next": "end",
            },
            "end": {"Type": "Pass", "End": True},
        },
    }
    text = mermaid(machine)
    parsed = parse(text)
    names = {n.name: n for n in parsed.nodes.values()}
    assert names['Say "hi" #1 <now>'].shape == "("
    assert names["Pause"].shape == "{{"
    assert names["Both"].shape == "subgraph"
    assert names["Left"].scope == ("Both",) and names["Right"].scope == ("Both",)
    assert names["End"].shape == "(["  # the machine's end marker
    ids = {n.name: i for i, n in parsed.nodes.items()}
    assert ids["end"] != "end"  # a state named "end" must not become Mermaid's keyword
    assert (ids["end"], "-->", "", ids["End"]) in parsed.edges
    assert text == mermaid(json.loads(json.dumps(machine)))
