"""albrules.local.asl_rules: the definition checks AWS makes, as pure functions (no emulator)."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from albrules.local import asl_rules
from albrules.local.asl_rules import Finding, check, check_text, error_message

ROOT = Path(__file__).resolve().parents[2]


def _substitute_script() -> Any:
    spec = importlib.util.spec_from_file_location(
        "asl_substitute", ROOT / "scripts" / "asl_substitute.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def machine(**states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


PASS_END = {"Type": "Pass", "End": True}


def codes(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.code, f.location) for f in findings]


@pytest.mark.parametrize("name", ["backup.asl.json", "restore.asl.json"])
def test_the_real_machines_pass_once_substituted(name: str) -> None:
    texts = _substitute_script().substituted(ROOT / "template.yaml")
    assert "${" not in texts[name]
    assert check_text(texts[name]) == []


def test_a_good_machine_with_every_kind_of_scope_passes() -> None:
    definition = machine(
        Start={"Type": "Pass", "Next": "Fan out"},
        **{
            "Fan out": {
                "Type": "Parallel",
                "Branches": [machine(Left=PASS_END), machine(Right=PASS_END)],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
                "Next": "Each",
            },
            "Each": {
                "Type": "Map",
                "ItemProcessor": machine(
                    Item={"Type": "Wait", "Seconds": 1, "Next": "Done item"},
                    **{"Done item": {"Type": "Succeed"}},
                ),
                "Next": "Pick",
            },
            "Pick": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "BooleanEquals": True, "Next": "Failed"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "Error": "E"},
        },
    )
    assert check(definition) == []


def test_duplicate_names_across_nested_scopes_are_found() -> None:
    definition = machine(
        A={"Type": "Pass", "Next": "M"},
        M={
            "Type": "Map",
            "Iterator": machine(A=PASS_END),
            "Next": "P",
        },
        P={"Type": "Parallel", "Branches": [machine(M=PASS_END)], "End": True},
    )
    findings = check(definition)
    assert codes(findings) == [
        ("DUPLICATE_STATE_NAME", "/States/M/Iterator/States/A"),
        ("DUPLICATE_STATE_NAME", "/States/P/Branches/0/States/M"),
    ]
    assert str(findings[0]) == (
        "DUPLICATE_STATE_NAME: Duplicate State name: A at /States/M/Iterator/States/A"
    )


def test_a_name_given_twice_in_one_object_is_a_duplicate() -> None:
    text = (
        '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}, "A": {"Type": "Succeed"}}}'
    )
    assert codes(check_text(text)) == [("DUPLICATE_STATE_NAME", "/States/A")]


def test_json_that_does_not_parse() -> None:
    assert [f.code for f in check_text('{"StartAt": ')] == ["INVALID_JSON_DESCRIPTION"]
    assert [f.code for f in check_text("  ")] == ["MISSING_DESCRIPTION"]
    assert [f.code for f in check_text("[]")] == ["SCHEMA_VALIDATION_FAILED"]


def test_start_at_missing_or_naming_no_state() -> None:
    assert [str(f) for f in check({"States": {"A": PASS_END}})] == [
        "SCHEMA_VALIDATION_FAILED: These fields are required: [StartAt] at /"
    ]
    findings = check({"StartAt": "Nope", "States": {"A": PASS_END}})
    assert [str(f) for f in findings] == [
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Nope at /StartAt",
        'MISSING_TRANSITION_TARGET: State "A" is not reachable. at /States/A',
    ]


def test_next_must_name_a_state_of_its_own_scope() -> None:
    inner_only = machine(
        A={"Type": "Pass", "Next": "M"},
        M={"Type": "Map", "ItemProcessor": machine(B={"Type": "Pass", "Next": "A"}), "End": True},
    )
    assert ("MISSING_TRANSITION_TARGET", "/States/M/ItemProcessor/States/B/Next") in codes(
        check(inner_only)
    )
    assert str(check(machine(A={"Type": "Pass", "Next": "Z"}))[0]) == (
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Z at /States/A/Next"
    )


def test_choice_and_catch_targets() -> None:
    definition = machine(
        C={
            "Type": "Choice",
            "Choices": [{"Variable": "$.x", "IsNull": True, "Next": "Gone"}],
            "Default": "Also gone",
        },
        T={
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Missing"}],
            "End": True,
        },
    )
    assert codes(check(definition)) == [
        ("MISSING_TRANSITION_TARGET", "/States/C/Choices/0/Next"),
        ("MISSING_TRANSITION_TARGET", "/States/C/Default"),
        ("MISSING_TRANSITION_TARGET", "/States/T/Catch/0/Next"),
        ("MISSING_TRANSITION_TARGET", "/States/T"),  # and so T is not reachable
    ]


def test_unknown_or_missing_type() -> None:
    findings = check(machine(A={"Type": "Sleep", "End": True}))
    assert str(findings[0]) == (
        "SCHEMA_VALIDATION_FAILED: The field 'Type' should have one of these values: "
        "[Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map] at /States/A/Type"
    )
    assert [str(f) for f in check(machine(A={"End": True}))] == [
        "SCHEMA_VALIDATION_FAILED: These fields are required: [Type] at /States/A"
    ]


@pytest.mark.parametrize("state", [{"Type": "Pass"}, {"Type": "Pass", "Next": "B", "End": True}])
def test_a_non_terminal_state_has_exactly_one_of_next_and_end(state: dict[str, Any]) -> None:
    findings = check(machine(A=state, B=PASS_END))
    assert str(findings[0]) == (
        "SCHEMA_VALIDATION_FAILED: Exactly one of these fields is required: [Next, End] "
        "at /States/A"
    )


@pytest.mark.parametrize("kind", ["Succeed", "Fail"])
def test_succeed_and_fail_take_no_next(kind: str) -> None:
    findings = check(machine(A={"Type": kind, "Next": "B"}, B={"Type": "Succeed"}))
    assert (
        str(findings[0]) == "SCHEMA_VALIDATION_FAILED: Field 'Next' is not supported at /States/A"
    )


def test_state_names_longer_than_80_characters() -> None:
    long = "x" * 81
    assert codes(check(machine(**{long: PASS_END}))) == [("INVALID_STATE_NAME", f"/States/{long}")]
    assert check(machine(**{"x" * 80: PASS_END})) == []


def test_unreachable_states_in_each_scope() -> None:
    definition = machine(
        A={"Type": "Pass", "Next": "M"},
        M={
            "Type": "Map",
            "ItemProcessor": machine(In=PASS_END, Stray=PASS_END),
            "End": True,
        },
        Orphan=PASS_END,
    )
    assert codes(check(definition)) == [
        ("MISSING_TRANSITION_TARGET", "/States/Orphan"),
        ("MISSING_TRANSITION_TARGET", "/States/M/ItemProcessor/States/Stray"),
    ]


def test_inner_scopes_are_checked_on_their_own() -> None:
    definition = machine(
        P={"Type": "Parallel", "Branches": [{"States": {"B": PASS_END}}], "Next": "M"},
        M={
            "Type": "Map",
            "ItemProcessor": {"StartAt": "C", "States": {"C": {"Type": "Pass"}}},
            "End": True,
        },
    )
    assert [str(f) for f in check(definition)] == [
        "SCHEMA_VALIDATION_FAILED: Exactly one of these fields is required: [Next, End] "
        "at /States/M/ItemProcessor/States/C",
        "MISSING_END_STATE: The workflow has no terminal state at /States/M/ItemProcessor/States",
        "SCHEMA_VALIDATION_FAILED: These fields are required: [StartAt] at /States/P/Branches/0",
    ]


def test_the_error_message_joins_the_findings_as_aws_does() -> None:
    definition = machine(A={"Type": "Pass", "Next": "Z"}, B=PASS_END)
    assert error_message(check(definition)) == (
        "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: Z "
        'at /States/A/Next, MISSING_TRANSITION_TARGET: State "B" is not reachable. at /States/B\''
    )


def test_checks_do_not_change_the_definition() -> None:
    definition = json.loads((ROOT / "statemachine" / "restore.asl.json").read_text())
    before = copy.deepcopy(definition)
    asl_rules.check(definition)
    assert definition == before
