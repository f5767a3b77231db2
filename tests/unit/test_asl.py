"""The ASL files and template.yaml agree, and hold the rules the console and AWS rely on.

(What the machines do is tested by running them: tests/test_workflows.py.)
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from albrules.local.deploy import load_template

ROOT = Path(__file__).resolve().parents[2]
MACHINES = {
    "BackupStateMachine": "backup",
    "RestoreStateMachine": "restore",
    "ChangeBackupStateMachine": "changes",
}
LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
}


def definition(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "statemachine" / f"{name}.asl.json").read_text())


def states(machine: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, those inside Map iterations included."""
    for name, state in machine["States"].items():
        yield name, state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from states(processor)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


@pytest.mark.parametrize("name", MACHINES.values())
def test_every_lambda_task_retries_the_lambda_service_errors(name: str) -> None:
    tasks = [
        (state_name, state)
        for state_name, state in states(definition(name))
        if state["Type"] == "Task" and ":lambda:" in state["Resource"]
    ]
    assert tasks
    for state_name, state in tasks:
        retriers = [r for r in state.get("Retry", []) if set(r["ErrorEquals"]) >= LAMBDA_ERRORS]
        assert retriers, f"{state_name} does not retry the Lambda service errors"
        retry = retriers[0]
        assert retry["BackoffRate"] > 1 and retry.get("JitterStrategy") == "FULL", state_name
        assert retry["MaxAttempts"] >= 3, state_name


@pytest.mark.parametrize("name", MACHINES.values())
def test_state_names_read_like_sentences(name: str) -> None:
    for state_name, _ in states(definition(name)):
        assert " " in state_name and state_name[0].isupper(), state_name
        assert not re.search(r"[a-z][A-Z]", state_name), f"{state_name} looks like an identifier"


@pytest.mark.parametrize("name", MACHINES.values())
def test_a_timeout_bounds_every_execution(name: str) -> None:
    assert 0 < definition(name)["TimeoutSeconds"] <= 7 * 24 * 3600


@pytest.mark.parametrize("logical_id", MACHINES)
def test_substitutions_match_the_placeholders_exactly(template: dict, logical_id: str) -> None:
    resource = template["Resources"][logical_id]["Properties"]
    text = (ROOT / resource["DefinitionUri"]).read_text()
    placeholders = set(re.findall(r"\$\{(\w+)\}", text))
    assert placeholders == set(resource["DefinitionSubstitutions"])
    assert resource["Type"] == "STANDARD"  # restore waits on task tokens: never EXPRESS


def test_every_task_function_is_in_the_template_with_its_handler(template: dict) -> None:
    functions = {
        logical: props["Properties"]
        for logical, props in template["Resources"].items()
        if props["Type"] == "AWS::Serverless::Function"
    }
    for logical_id in MACHINES:
        subs = template["Resources"][logical_id]["Properties"]["DefinitionSubstitutions"]
        for key, value in subs.items():
            if key.endswith("FunctionArn"):
                function = value["Fn::GetAtt"][0]
                assert function in functions, f"{key} names {function}, not in template.yaml"
    for logical, props in functions.items():
        module, _, attribute = props["Handler"].rpartition(".")
        source = ROOT / props["CodeUri"] / f"{module.replace('.', '/')}.py"
        assert source.is_file(), f"{logical}: no {source} for {props['Handler']}"
        spec = importlib.util.spec_from_file_location(f"app_of_{logical}", source)
        assert spec is not None and spec.loader is not None
        imported = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(imported)
        assert callable(getattr(imported, attribute)), f"{logical}: {props['Handler']}"


def test_every_restore_path_releases_the_lock_and_notifies() -> None:
    """From every state, each way on (Next, Default, Choices, Catch) leads through
    "Release the lock and record the outcome" (or, restoring a whole load balancer, "Release
    every listener's lock and record the outcome") before the machine ends, once locked."""
    machine = definition("restore")
    graph = machine["States"]
    release = "Release the lock and record the outcome"
    releases = {release, "Release every listener's lock and record the outcome"}

    def successors(state: dict[str, Any]) -> list[str]:
        found = [state[k] for k in ("Next", "Default") if k in state]
        found += [c["Next"] for c in state.get("Choices", [])]
        found += [c["Next"] for c in state.get("Catch", [])]
        return found

    def reaches_end_without_release(start: str, seen: set[str]) -> bool:
        if start in releases:
            return False
        state = graph[start]
        if state["Type"] in ("Succeed", "Fail") or state.get("End"):
            return True
        seen.add(start)
        return any(
            reaches_end_without_release(n, seen) for n in successors(state) if n not in seen
        )

    after_release: set[str] = set()
    todo = list(releases)
    while todo:
        for nxt in successors(graph[todo.pop()]):
            if nxt not in after_release:
                after_release.add(nxt)
                todo.append(nxt)
    for name in graph:
        if name in ("Read the restore settings", *releases) or name in after_release:
            continue
        if graph[name]["Type"] in ("Succeed", "Fail"):
            continue
        assert not reaches_end_without_release(name, set()), f"{name} can end without release"
