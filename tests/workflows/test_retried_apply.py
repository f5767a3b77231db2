"""An apply retried after a Lambda service error (issue 11, section 5; issue 13, section 4): the
local AWS cuts the first invocation of the apply function off after N mutating calls
(``faults.inject_lambda``: Invoke answers ServiceException, HTTP 500), the restore machine's
Retry runs it again, and the retry resumes from its predecessor's journal: the call in doubt
(journaled as started, no outcome) is read back from the live listener, never sent again
blindly. It never reports "the listener changed; nothing was changed" on a listener it partly
changed itself."""

from __future__ import annotations

import time
from typing import Any

from albrules.local import faults
from stack import Stack, break_listener, checksum, shop
from workflows.test_workflows import audit, back_up, lock_of, snapshot_key


def apply_attempts(stack: Stack, execution_arn: str) -> list[str]:
    """The errors of the task invocations that failed in the Lambda service, in order (read
    until the history holds the execution's end)."""
    for _ in range(50):
        events = stack.history(execution_arn)
        if events and events[-1]["type"] in ("ExecutionFailed", "ExecutionSucceeded"):
            break
        time.sleep(0.1)
    errors = [str((e.get("taskFailedEventDetails") or {}).get("error", "")) for e in events]
    return [error for error in errors if error.startswith("Lambda.")]


def journal_of(stack: Stack, execution_arn: str) -> list[dict[str, Any]]:
    name = execution_arn.rsplit(":", 1)[-1]
    journal: list[dict[str, Any]] = stack.read_json(f"pre-restore/{name}/journal.json")
    return journal


def test_a_retry_after_partial_work_resumes_from_the_journal_without_re_applying(
    stack: Stack,
) -> None:
    """The first invocation dies right after its second call took effect, before noting it:
    the retry reads step 2 back from the live listener (done), goes on from step 3, and every
    step is made once."""
    listener = shop(stack)
    back_up(stack)
    wanted = checksum(stack, listener)
    break_listener(stack, listener)
    fault = faults.inject_lambda("ApplyPlan", after_calls=2)

    result = stack.run("restore", {"snapshot": snapshot_key(stack, listener)}, timeout=90)

    assert fault.fired == 1
    assert apply_attempts(stack, result.execution_arn) == ["Lambda.ServiceException"]
    assert result.status == "SUCCEEDED", result.cause
    record = audit(stack, result.execution_arn)
    assert record["outcome"] == "RESTORED"
    assert "nothing was changed" not in str(record)
    assert checksum(stack, listener) == wanted
    journal = journal_of(stack, result.execution_arn)
    steps = [(e["step"], e["status"]) for e in journal if e.get("step")]
    assert steps == [(1, "done"), (2, "done"), (3, "done"), (4, "done")]  # each made once
    (note,) = [e for e in journal if e.get("call") == "RetriedApply"]
    assert note["note"] == "step 2 had taken effect; going on from step 3"
    assert note["journal_said"] == "1 of 4 steps done, step 2 the last started"
    assert {e["phase"] for e in journal} == {"restore"}
    assert lock_of(stack, listener) is None


def restored_after_a_cut_off(stack: Stack, after_calls: int) -> tuple[str, str]:
    """Break a backed-up listener (four changes to undo: the plan has four calls), cut the
    apply's first invocation off after ``after_calls`` calls, and check the restore still
    ended RESTORED, as its backup, after one Lambda service error. The listener and the
    execution's ARNs."""
    listener = shop(stack)
    back_up(stack)
    wanted = checksum(stack, listener)
    break_listener(stack, listener)
    fault = faults.inject_lambda("ApplyPlan", after_calls=after_calls)

    result = stack.run("restore", {"snapshot": snapshot_key(stack, listener)}, timeout=90)

    assert fault.fired == 1
    assert apply_attempts(stack, result.execution_arn) == ["Lambda.ServiceException"]
    assert result.status == "SUCCEEDED", result.cause
    assert audit(stack, result.execution_arn)["outcome"] == "RESTORED"
    assert checksum(stack, listener) == wanted
    return listener, result.execution_arn


def test_a_retry_after_the_whole_plan_was_applied_finishes_the_restore(stack: Stack) -> None:
    _, execution_arn = restored_after_a_cut_off(stack, after_calls=4)
    (note,) = [e for e in journal_of(stack, execution_arn) if e.get("call") == "RetriedApply"]
    assert note["note"] == "step 4 had taken effect; going on from step 5"


def test_a_retry_after_an_attempt_that_changed_nothing_applies_the_plan(stack: Stack) -> None:
    """The first invocation dies at its first call, before that call takes effect: the journal
    says step 1 started, the listener is still the plan's base, and the retry applies the
    whole plan once."""
    listener, execution_arn = restored_after_a_cut_off(stack, after_calls=0)
    journal = journal_of(stack, execution_arn)
    (note,) = [e for e in journal if e.get("call") == "RetriedApply"]
    assert note["note"] == "step 1 had not taken effect; sending it again"
    assert note["journal_said"].startswith("0 of 4 steps done, step 1 the last started")
    done = [e["step"] for e in journal if e.get("step") and e.get("status") == "done"]
    assert done == [1, 2, 3, 4]  # each step done once, by the retry
    assert lock_of(stack, listener) is None
