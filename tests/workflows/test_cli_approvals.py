"""albrules approve / reject on the deployed application: the decision, then (--wait) the
restore's outcome and the contract's exit code.

The stack is deployed in-process (no CloudFormation stack), so the commands go to the
in-process mock with ``--aws --region`` and send the decision, signed, to the stack's
DecisionFunction URL served over HTTP (``--decision-url``).
"""

from __future__ import annotations

import threading
from typing import Any

from albrules.local import lambdas
from cli_runs import cli
from local_world import REGION
from stack import Stack, break_listener, checksum, shop
from workflows.test_workflows import (
    back_up,
    snapshot_key,
    state_names,
    wait_for_approval,
    waiting_restore,
)


def where(stack: Stack) -> list[str]:
    return ["--aws", "--region", REGION, "--decision-url", stack.url("DecisionFunction")]


def test_approve_wait_prints_the_outcome_and_restores(stack: Stack) -> None:
    waiting = waiting_restore(stack)
    listener, backed_up, execution = waiting.listener, waiting.backed_up, waiting.execution
    status, out, err = cli("approve", execution, *where(stack), "--wait", "--timeout", "60")
    assert status == 0, (out, err)
    assert f"approved {execution}" in out
    assert "status: SUCCEEDED" in out and "Apply the plan" in out
    assert checksum(stack, listener) == backed_up


def test_reject_wait_exits_2_and_changes_nothing(stack: Stack) -> None:
    waiting = waiting_restore(stack)
    listener, broken, execution = waiting.listener, waiting.broken, waiting.execution
    status, out, err = cli(
        "reject", execution, "--reason", "wrong snapshot", *where(stack), "--wait",
        "--timeout", "60",
    )  # fmt: skip
    assert status == 2, (out, err)
    assert f"rejected {execution}" in out
    assert "status: FAILED" in err and "error: ApprovalRejected" in err
    assert "wrong snapshot" in err
    assert checksum(stack, listener) == broken


def test_unknown_execution_and_missing_reason(stack: Stack) -> None:
    unknown = f"arn:aws:states:{REGION}:123456789012:execution:albrules-restore:nope"
    status, out, err = cli("approve", unknown, *where(stack), "--wait")
    assert status == 2 and out == ""
    assert err.startswith(f"error: no approval is pending for {unknown}") and err.count("\n") == 1
    status, _, err = cli("reject", unknown, *where(stack))
    assert status == 2 and "Missing option" in err and "--reason" in err


def test_a_decision_before_the_approval_step_says_where_the_restore_is(stack: Stack) -> None:
    """Held at its pre-restore snapshot, the restore has not asked for approval yet: approve
    and reject say so, with the state it is in (exit 2), and change nothing; once the request
    arrives, approve goes through."""
    listener = shop(stack)
    back_up(stack)
    backed_up = checksum(stack, listener)
    break_listener(stack, listener)
    broken = checksum(stack, listener)
    held, release = threading.Event(), threading.Event()

    def hold(event: Any, context: Any) -> None:
        held.set()
        release.wait(30)

    lambdas.before_invoke("TakePreRestoreSnapshotFunction", hold)
    execution = stack.start(
        "restore", {"snapshot": snapshot_key(stack, listener), "require_approval": True}
    )
    try:
        assert held.wait(30), "the restore never took its pre-restore snapshot"
        at = state_names(stack, execution)[-1]
        assert at == "Take the pre-restore snapshot"
        expected = (
            f"error: no approval is pending for {execution} yet: it is at '{at}'; try again "
            "when the approval request arrives\n"
        )
        assert cli("approve", execution, *where(stack)) == (2, "", expected)
        assert cli("reject", execution, "--reason", "too early", *where(stack)) == (
            2, "", expected
        )  # fmt: skip
    finally:
        release.set()
    wait_for_approval(stack, execution)
    assert checksum(stack, listener) == broken  # nothing decided, nothing applied
    status, out, err = cli("approve", execution, *where(stack), "--wait", "--timeout", "60")
    assert status == 0, (out, err)
    assert checksum(stack, listener) == backed_up


def test_a_decision_on_a_restore_that_ended_says_how_it_ended(stack: Stack) -> None:
    listener = shop(stack)
    back_up(stack)
    execution = stack.start(
        "restore", {"snapshot": snapshot_key(stack, listener), "require_approval": True}
    )
    ended = stack.finish("restore", execution)  # the listener already matched its backup
    assert ended.status == "SUCCEEDED"
    last = state_names(stack, execution)[-1]
    status, out, err = cli("approve", execution, *where(stack))
    assert (status, out) == (2, "")
    assert err == (
        f"error: no approval is pending for {execution}: the restore already ended, "
        f"SUCCEEDED at '{last}'; nothing was done\n"
    )


def test_a_decision_on_a_restore_that_asked_for_no_approval_keeps_todays_answer(
    stack: Stack,
) -> None:
    """A running restore that never waits for approval: the answer that none is pending."""
    listener = shop(stack)
    back_up(stack)
    break_listener(stack, listener)
    held, release = threading.Event(), threading.Event()

    def hold(event: Any, context: Any) -> None:
        held.set()
        release.wait(30)

    lambdas.before_invoke("TakePreRestoreSnapshotFunction", hold)
    execution = stack.start("restore", {"snapshot": snapshot_key(stack, listener)})
    try:
        assert held.wait(30)
        status, out, err = cli("approve", execution, *where(stack))
        assert (status, out) == (2, "")
        assert err.startswith(f"error: no approval is pending for {execution}; check the ")
    finally:
        release.set()
    assert stack.finish("restore", execution).status == "SUCCEEDED"  # it needed no one
