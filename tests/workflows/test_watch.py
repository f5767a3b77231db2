"""The watch view (albrules.watch), built from the history of real executions of the deployed
application; and, for what the local interpreter never produces (a retry, a Catch with no
...StateExited, an aborted execution), from histories shaped as AWS documents them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from rich.console import Console

from albrules import watch, workflows
from albrules.errors import InvalidInput
from albrules.local import faults, lambdas
from albrules.watch_view import Display, PlainLog, ending_lines
from local_world import FakeClock
from stack import Stack, break_listener, checksum, shop
from workflows.test_workflows import BAD_REQUEST, back_up, decide, snapshot_key, waiting_restore


def view_of(stack: Stack, execution_arn: str) -> watch.ExecutionView:
    return watch.Watcher(stack.sfn, execution_arn).poll()


def names(view: watch.ExecutionView) -> list[str]:
    return [s.name for s in view.states]


def state(view: watch.ExecutionView, name: str) -> watch.StateView:
    return next(s for s in view.states if s.name == name)


def top_level_names(stack: Stack, execution_arn: str, inner: set[str]) -> list[str]:
    """The states entered, from the raw history, leaving out the Map's inner states."""
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in stack.history(execution_arn)
        if "stateEnteredEventDetails" in e and e["stateEnteredEventDetails"]["name"] not in inner
    ]


def assert_in_order(view: watch.ExecutionView) -> None:
    ids = [s.id for s in view.states]
    assert ids == sorted(ids)
    entered = [s.entered for s in view.states]
    assert entered == sorted(entered)
    assert all(s.seconds(view.now) >= 0 for s in view.states)


# --- backups: the Map's progress -------------------------------------------------------------


def test_backup_map_progress_counts_every_listener_and_the_failed_one(stack: Stack) -> None:
    shop(stack, "shop", 2)
    shop(stack, "api", 2)
    doomed = shop(stack, "old", 1)

    def delete_it(event: Any, context: Any) -> None:
        if doomed in [i["listener_arn"] for i in event["Items"]]:  # deleted while the backup runs
            stack.world.elb.delete_listener(ListenerArn=doomed)

    lambdas.before_invoke("SnapshotListenersFunction", delete_it)
    result = stack.run("backup", stack.backup_targets())

    view = view_of(stack, result.execution_arn)
    assert (view.kind, view.status, view.exit_code) == ("backup", "FAILED", 1)
    assert view.exit_code == result.exit_code
    (progress,) = view.maps
    assert progress.state == "Back up the listeners in batches" and progress.distributed
    assert (progress.total, progress.done, progress.failed, progress.running) == (3, 3, 1, 0)
    assert view.backup is not None and (view.backup.stored, view.backup.failed) == (2, 1)
    assert view.backup.failed_listeners[0].listener_arn == doomed
    inner = {"Back up the batch", "Record the failed batch"}
    assert names(view) == top_level_names(stack, result.execution_arn, inner)
    assert not inner & set(names(view))
    assert state(view, "Back up the listeners in batches").status == "succeeded"
    assert state(view, "Some listeners were not backed up").status == "failed"
    assert view.current is None and view.plan is None
    assert_in_order(view)


def test_a_distributed_map_reports_the_map_runs_item_counts(stack: Stack) -> None:
    for name in ("shop", "api", "old"):
        shop(stack, name, 1)
    stack.set_setting("backup", "batch_size", 2)
    result = stack.run("backup", stack.backup_targets(), timeout=120)
    assert result.status == "SUCCEEDED", result.cause

    view = view_of(stack, result.execution_arn)
    (progress,) = view.maps
    runs = stack.sfn.list_map_runs(executionArn=result.execution_arn)["mapRuns"]
    assert progress.map_run_arn == runs[0]["mapRunArn"]
    assert progress.state == "Back up the listeners in batches"
    assert (progress.total, progress.done, progress.failed) == (3, 3, 0)  # items: listeners
    assert view.exit_code == 0 and view.backup is not None and view.backup.listeners == 3


# --- restores: plan summary, outcome and exit code -------------------------------------------


def test_a_restore_that_succeeds_shows_its_plan_and_exits_0(stack: Stack) -> None:
    listener = shop(stack)
    back_up(stack)
    backed_up = checksum(stack, listener)
    break_listener(stack, listener)
    result = stack.run("restore", {"snapshot": snapshot_key(stack, listener)})
    assert checksum(stack, listener) == backed_up

    view = view_of(stack, result.execution_arn)
    assert (view.kind, view.status, view.exit_code, view.current) == (
        "restore", "SUCCEEDED", 0, None
    )  # fmt: skip
    assert view.plan is not None
    assert (view.plan.changes, view.plan.creates, view.plan.modifies, view.plan.deletes) == (
        4, 2, 1, 1
    )  # fmt: skip
    assert view.plan.operations[0].startswith("1. modify rule at priority 30")
    assert names(view) == top_level_names(stack, result.execution_arn, set())
    assert {s.status for s in view.states} == {"succeeded"}
    assert "Apply the plan" in names(view) and "Wait for approval" not in names(view)
    assert view.maps == [] and view.backup is None
    assert_in_order(view)
    public = json.loads(json.dumps(view.public(), default=str))
    assert (public["exit_code"], public["status"], public["plan"]["changes"]) == (0, "SUCCEEDED", 4)
    assert [s["name"] for s in public["steps"]] == names(view)


def test_a_rollback_exits_3_and_a_failed_rollback_exits_4(stack: Stack) -> None:
    listener = shop(stack)
    back_up(stack)
    break_listener(stack, listener)
    request = {"snapshot": snapshot_key(stack, listener)}

    faults.inject("CreateRule", nth=2, **BAD_REQUEST)
    rolled_back = view_of(stack, stack.run("restore", request).execution_arn)
    assert (rolled_back.status, rolled_back.outcome.error) == ("FAILED", "RestoreRolledBack")
    assert rolled_back.exit_code == 3
    applied = state(rolled_back, "Apply the plan")
    assert (applied.status, applied.error) == ("caught", "ApplyFailed")
    assert state(rolled_back, "Roll back to the pre-restore snapshot").status == "succeeded"
    assert state(rolled_back, "Verify the rollback").status == "succeeded"
    assert "Verify the listener" not in names(rolled_back)
    assert rolled_back.plan is not None and rolled_back.plan.changes == 4

    faults.inject("CreateRule", nth=2, **BAD_REQUEST)
    faults.inject("DeleteRule", nth=1, times=0, **BAD_REQUEST)  # the rollback cannot delete
    failed = view_of(stack, stack.run("restore", request).execution_arn)
    assert (failed.outcome.error, failed.exit_code) == ("RollbackFailed", 4)
    rollback = state(failed, "Roll back to the pre-restore snapshot")
    assert (rollback.status, rollback.error) == ("caught", "RollbackFailed")
    assert failed.states[-1].status == "failed"  # the Fail state that ends it
    assert "pre-restore snapshot" in (failed.outcome.cause or "")
    assert ending_lines(failed)[-1] == (
        "exit code 4 (ROLLBACK FAILED: the listener is not as it was)"
    )


def test_a_restore_waiting_for_approval_is_current_at_wait_for_approval(stack: Stack) -> None:
    waiting = waiting_restore(stack)
    watcher = watch.Watcher(stack.sfn, waiting.execution)

    running = watcher.poll()
    assert (running.status, running.finished) == ("RUNNING", False)
    assert running.current is not None and running.current.name == "Wait for approval"
    assert running.current.shown_status == "waiting" and running.current.callback
    assert running.plan is not None and running.plan.changes == 4
    assert all(s.status == "succeeded" for s in running.states[:-1])
    assert running.exit_code == 1  # not ended: not a success

    decide(stack, waiting.execution, "reject", by="carol", reason="wrong snapshot")
    stack.finish("restore", waiting.execution)
    ended = watcher.poll()  # reads only the events since the last poll
    assert (ended.status, ended.exit_code, ended.current) == ("FAILED", 2, None)
    rejected = state(ended, "Wait for approval")
    assert (rejected.status, rejected.error) == ("caught", "ApprovalRejected")
    fresh = view_of(stack, waiting.execution)
    assert [(s.id, s.name, s.status) for s in fresh.states] == [
        (s.id, s.name, s.status) for s in ended.states
    ]
    assert len(watcher.events) == len(stack.history(waiting.execution))


# --- histories as AWS documents them ---------------------------------------------------------

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:execution:albrules-restore:x"


def events(*items: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """History events numbered from 1, a second apart; ``prev`` overrides previousEventId."""
    out = []
    for i, (kind, details) in enumerate(items, start=1):
        details = dict(details)
        prev = details.pop("prev", i - 1)
        event = {"id": i, "previousEventId": prev, "type": kind}
        out.append({**event, "timestamp": T0 + timedelta(seconds=i), **details})
    return out


def entered(name: str, state_type: str = "Task", **extra: Any) -> tuple[str, dict[str, Any]]:
    return f"{state_type}StateEntered", {"stateEnteredEventDetails": {"name": name}, **extra}


def exited(name: str, state_type: str = "Task", output: Any = None) -> tuple[str, dict]:
    details: dict[str, Any] = {"name": name}
    if output is not None:
        details["output"] = json.dumps(output)
    return f"{state_type}StateExited", {"stateExitedEventDetails": details}


def task(kind: str, **details: Any) -> tuple[str, dict[str, Any]]:
    key = kind[0].lower() + kind[1:] + "EventDetails"
    return kind, {key: {"resourceType": "lambda", "resource": "invoke", **details}}


STARTED = ("ExecutionStarted", {"executionStartedEventDetails": {"input": '{"snapshot": "x"}'}})


def view(history: list[dict[str, Any]], status: str = "RUNNING") -> watch.ExecutionView:
    described = {"status": status, "startDate": T0, "input": '{"snapshot": "x"}'}
    return watch.build(
        ARN, "restore", described, history, now=T0 + timedelta(seconds=len(history) + 1)
    )


def test_a_retried_task_is_retrying_then_succeeded_with_its_retries_counted() -> None:
    first_try = [
        STARTED,
        entered("Apply the plan"),
        task("TaskScheduled"),
        task("TaskStarted"),
        task("TaskFailed", error="Lambda.TooManyRequestsException", cause="slow down"),
    ]
    retrying = view(events(*first_try)).current
    assert retrying is not None and retrying.shown_status == "retrying"
    assert retrying.error == "Lambda.TooManyRequestsException"
    done = view(
        events(
            *first_try,
            task("TaskScheduled"),
            task("TaskStarted"),
            task("TaskSucceeded"),
            exited("Apply the plan"),
        )
    )
    applied = state(done, "Apply the plan")
    assert (applied.status, applied.retries, applied.error) == ("succeeded", 1, None)
    assert applied.seconds(done.now) == 7  # entered as event 2, exited as event 9


def test_a_catch_straight_into_the_next_state_marks_the_failed_one_caught() -> None:
    history = events(
        STARTED,
        entered("Apply the plan"),
        task("TaskScheduled"),
        task("TaskStarted"),
        task("TaskFailed", error="ApplyFailed", cause="step 3 failed"),
        entered("Roll back to the pre-restore snapshot"),  # no TaskStateExited in between
    )
    seen = view(history)
    assert (state(seen, "Apply the plan").status, state(seen, "Apply the plan").error) == (
        "caught", "ApplyFailed"
    )  # fmt: skip
    assert seen.current is not None and seen.current.name.startswith("Roll back")


def test_an_aborted_execution_aborts_its_open_state_and_exits_1() -> None:
    history = events(
        STARTED,
        entered("Wait for approval"),
        task("TaskScheduled", resource="invoke.waitForTaskToken"),
        task("TaskSubmitted"),
        ("ExecutionAborted", {}),
    )
    before = view(history[:-1])
    assert before.current is not None and before.current.shown_status == "waiting"
    after = view(history, status="ABORTED")
    assert state(after, "Wait for approval").status == "aborted"
    assert (after.current, after.exit_code) == (None, 1)


def test_the_plan_summary_comes_from_the_state_output() -> None:
    plan = {"changes": 2, "creates": 1, "deletes": 1, "operations": ["1. a", "2. b"]}
    seen = view(
        events(
            STARTED,
            entered("Compute the plan"),
            exited("Compute the plan", output={"plan": plan, "changes": 2}),
            entered("Is there anything to change?", "Choice"),
        )
    )
    assert seen.plan is not None and (seen.plan.changes, seen.plan.operations) == (
        2,
        ["1. a", "2. b"],
    )


# --- polling ------------------------------------------------------------------------------------


class PagedHistory:
    """GetExecutionHistory over ``count`` events, two a page, as AWS pages it."""

    def __init__(self, count: int):
        self.events = [{"id": i, "type": "X"} for i in range(1, count + 1)]
        self.pages = 0

    def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
        self.pages += 1
        ordered = list(reversed(self.events)) if kwargs.get("reverseOrder") else self.events
        start = int(kwargs.get("nextToken", 0))
        page: dict[str, Any] = {"events": ordered[start : start + 2]}
        if start + 2 < len(ordered):
            page["nextToken"] = str(start + 2)
        return page


def test_history_after_an_event_reads_only_the_newer_pages() -> None:
    sfn = PagedHistory(9)
    assert [e["id"] for e in workflows.history(sfn, ARN)] == list(range(1, 10))
    sfn.pages = 0
    assert [e["id"] for e in workflows.history(sfn, ARN, after=6)] == [7, 8, 9]
    assert sfn.pages == 2  # 9 8, then 7 6: stops there
    assert workflows.history(sfn, ARN, after=9) == []


class FakeWatcher:
    def __init__(self, statuses: list[str]):
        self.statuses = statuses
        self.polls = 0

    def poll(self) -> watch.ExecutionView:
        status = self.statuses[min(self.polls, len(self.statuses) - 1)]
        self.polls += 1
        return view(events(STARTED), status=status)


@pytest.mark.parametrize(
    ("statuses", "timeout", "polls", "status"),
    [
        (["RUNNING", "RUNNING", "SUCCEEDED"], 60, 3, "SUCCEEDED"),
        (["RUNNING"], 5, 4, "RUNNING"),  # at 0, 2, 4 and 5 s: then the time is up
    ],
)
def test_follow_ends_at_the_end_or_at_the_timeout(statuses, timeout, polls, status) -> None:
    fake, clock, seen = FakeWatcher(statuses), FakeClock(), []
    last = watch.follow(
        fake,  # type: ignore[arg-type]
        interval=2,
        timeout=timeout,
        on_view=seen.append,
        sleep=clock.sleep,
        clock=clock,
    )
    assert (last.status, fake.polls, len(seen)) == (status, polls, polls)


def test_wrong_execution_arns_are_refused_in_one_sentence() -> None:
    for wrong in ("nonsense", "arn:aws:states:us-east-1:123456789012:stateMachine:albrules"):
        with pytest.raises(InvalidInput, match="is not a Step Functions execution ARN"):
            watch.check_execution_arn(wrong)
    watch.check_execution_arn(ARN)


# --- plain output for logs and pipes ------------------------------------------------------------


def test_plain_output_is_one_line_per_state_change_and_never_repeats() -> None:
    steps = [
        STARTED,
        entered("Lock the listener"),
        task("TaskScheduled"),
        task("TaskStarted"),
        task("TaskSucceeded"),
        exited("Lock the listener"),
        entered("Apply the plan"),
    ]
    log = PlainLog()
    first = log.lines(view(events(*steps[:3])))
    assert first == [f"watching restore {ARN}", "12:00:02  Lock the listener: running"]
    second = log.lines(view(events(*steps)))
    assert second == [
        "12:00:02  Lock the listener: succeeded (4.0s)",
        "12:00:07  Apply the plan: running",
    ]
    assert log.lines(view(events(*steps))) == []

    out = StringIO()
    console = Console(file=out, width=200)  # not a terminal: a CI log or a pipe
    failure = [task("TaskScheduled"), task("TaskFailed", error="ApplyFailed")]
    ended = events(*steps, *failure, ("ExecutionFailed", {}))
    with Display(console) as display:
        assert display.live is False
        display.show(view(events(*steps[:3])))
        display.show(view(ended, status="FAILED"))
        display.finish()
    text = out.getvalue()
    assert "\x1b[" not in text  # no cursor moves, no colours
    assert text.splitlines() == [
        f"watching restore {ARN}",
        "12:00:02  Lock the listener: running",
        "12:00:02  Lock the listener: succeeded (4.0s)",
        "12:00:07  Apply the plan: failed (3.0s), ApplyFailed",
        "restore FAILED in 10.0s",
        "exit code 1 (failed)",
    ]


def test_the_live_view_wraps_long_lines_itself_so_redraws_leave_nothing_behind() -> None:
    # albrules' consoles soft-wrap (the terminal wraps long lines); Live redraws by moving the
    # cursor up the lines it printed, so while live every line must fit the terminal.
    out = StringIO()
    console = Console(file=out, width=60, force_terminal=True, soft_wrap=True)
    steps = [STARTED, entered("Lock the listener"), task("TaskScheduled")]
    with Display(console) as display:
        assert display.live is True
        display.show(view(events(*steps)))
        assert console.soft_wrap is False
        live = out.getvalue()
    assert console.soft_wrap is True  # given back once the live view ends
    lines = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line) for line in live.splitlines()]
    assert lines and max(len(line) for line in lines) <= 60
    assert ARN in "".join(line.strip() for line in lines)  # folded, not cropped
