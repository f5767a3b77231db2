"""One table says how a restore ends (albrules.outcomes): the restore machine's final states,
its Catch blocks and the CLI's exit codes all agree with it."""

from __future__ import annotations

import json
from pathlib import Path

from albrules import errors, workflows
from albrules.outcomes import EXIT_CODE_OF_ERROR, OUTCOMES, REFUSAL_ERRORS, exit_code_of

ROOT = Path(__file__).resolve().parents[2]
MACHINE = json.loads((ROOT / "statemachine" / "restore.asl.json").read_text())
STATES = MACHINE["States"]


def test_each_outcome_ends_in_the_state_its_error_names() -> None:
    choice = STATES["How did the restore end?"]
    ends = {c["StringEquals"]: c["Next"] for c in choice["Choices"]}
    ends["REFUSED"] = choice["Default"]
    assert set(ends) == set(OUTCOMES)
    for name, outcome in OUTCOMES.items():
        final = STATES[ends[name]]
        if outcome.error is None:
            assert final["Type"] == "Succeed", name
        else:
            assert (final["Type"], final["Error"]) == ("Fail", outcome.error), name


def test_every_note_state_sets_a_known_outcome() -> None:
    notes = [s for n, s in STATES.items() if n.startswith("Note that") and "Result" in s]
    assert {s["Result"] for s in notes} == set(OUTCOMES)


def test_refusals_are_caught_as_refusals_and_anything_else_as_a_failure() -> None:
    for name in (
        "Lock the listener",
        "Load and validate the snapshot",
        "Take the pre-restore snapshot",
        "Compute the plan",
    ):
        catches = STATES[name]["Catch"]
        refused = [c for c in catches if c["Next"] == "Note that the restore was refused"]
        assert [c["ErrorEquals"] for c in refused] == [list(REFUSAL_ERRORS)], name
        assert catches[-1]["ErrorEquals"] == ["States.ALL"], name
        assert catches[-1]["Next"] == "Note that the restore failed before any change", name


def test_the_refusal_names_are_the_input_errors_a_task_can_raise() -> None:
    raised_elsewhere = {
        "ListenerLocked",
        "LockLost",
        "ListenerChanged",
        "ApprovalError",
        "SelfApproval",  # the decision function's refusals, not the machine's
        "RequesterUnknown",
    }
    refusals = {
        cls.__name__
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.InvalidInput)
    } - raised_elsewhere
    assert refusals == set(REFUSAL_ERRORS)
    for name in REFUSAL_ERRORS:
        assert getattr(errors, name).exit_code == 2


def test_exit_codes_come_from_the_table() -> None:
    assert workflows.RESTORE_EXIT == EXIT_CODE_OF_ERROR
    assert exit_code_of("ROLLED_BACK") == 3 and exit_code_of("ROLLBACK_FAILED") == 4
    assert exit_code_of("FAILED") == 1 and exit_code_of("LISTENER_CHANGED") == 2
    assert exit_code_of("no such outcome") == 1
