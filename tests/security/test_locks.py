"""Locks that hold, attacked on the stack as an operator deploys it.

- a listener ARN spelled with whitespace is the same lock: the second restore is locked out;
- a CLI restore of a listener a workflow restore holds exits 2 naming the holder;
- a stopped execution's lock is released (and its audit record closed) by its status change
  event, and a forged event for a running execution releases nothing;
- an apply whose lock was taken while it waited for approval changes nothing, and a rollback
  whose lock another restore holds does not fight it.

Each test asserts on the listener's state, the catalog's items and the mutating calls made.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.client import BaseClient

from albrules.local import faults, lambdas
from cli_runs import cli
from local_world import REGION, Calls
from security.people import approve_as_other, catalog, run_approved, wait_for_approval
from stack import Stack, break_listener, checksum, shop

BAD_REQUEST = {"code": "ValidationError", "message": "injected: the call was refused"}


def snapshot_key(stack: Stack, listener: str) -> str:
    listener_id = listener.rsplit("/", 1)[-1]
    return sorted(k for k in stack.keys("snapshots/") if f"/{listener_id}/" in k)[-1]


def broken_listener(stack: Stack) -> tuple[str, str, str, str]:
    """A listener backed up then broken: (listener, snapshot key, backed-up and broken
    checksums)."""
    listener = shop(stack)
    result = stack.run("backup", stack.backup_targets())
    assert result.status == "SUCCEEDED", result.cause
    backed_up = checksum(stack, listener)
    break_listener(stack, listener)
    return listener, snapshot_key(stack, listener), backed_up, checksum(stack, listener)


def waiting_restore(stack: Stack, key: str) -> str:
    """A workflow restore of ``key`` that holds its lock while it waits for approval."""
    execution = stack.start("restore", {"snapshot": key, "require_approval": True})
    wait_for_approval(stack, execution)
    return execution


def lock_items(stack: Stack) -> list[dict[str, Any]]:
    items = stack.ddb.scan(TableName=stack.table)["Items"]
    return [i for i in items if i["pk"]["S"].startswith("LOCK#")]


def wait_until(check: Any, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("it never happened")


def state_names(stack: Stack, execution_arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in stack.history(execution_arn)
        if "stateEnteredEventDetails" in e
    ]


@pytest.mark.parametrize(
    "field, spelling",
    [
        ("listener_arn", "{} "),
        ("listener_arn", "{}\n"),
        ("target_listener_arn", "\t{}\r\n"),
    ],
)
def test_a_whitespace_arn_is_locked_out(
    stack: Stack, calls: Calls, field: str, spelling: str
) -> None:
    listener, key, _, broken = broken_listener(stack)
    first = waiting_restore(stack, key)
    calls.made.clear()

    second = stack.run("restore", {"snapshot": key, field: spelling.format(listener)})

    assert second.status == "FAILED" and second.error == "ListenerLocked", second.cause
    assert "Another restore holds the lock" in state_names(stack, second.execution_arn)
    assert first in str(second.cause)  # the refusal names the holder
    assert calls.mutating == []
    assert checksum(stack, listener) == broken
    assert [i["pk"]["S"] for i in lock_items(stack)] == [f"LOCK#{listener}"]
    assert catalog(stack).lock_holder(listener)["owner"] == first
    record = catalog(stack).audit(second.execution_arn)
    assert record["outcome"] == "LOCKED" and record["listener_arn"] == listener
    assert stack.sfn.describe_execution(executionArn=first)["status"] == "RUNNING"


def test_a_cli_restore_during_a_workflow_restore_is_refused(stack: Stack, calls: Calls) -> None:
    listener, key, _, broken = broken_listener(stack)
    first = waiting_restore(stack, key)
    calls.made.clear()
    where = ["--aws", "--region", REGION, "--table", stack.table]

    for spelling in (listener, f"{listener}\n"):
        status, out, err = cli(
            "restore", f"s3://{stack.bucket}/{key}", "--listener-arn", spelling, "--yes", *where
        )
        assert status == 2, (out, err)
        assert f"is locked by restore {first}" in err
        assert "the lock expires at" in err and "Traceback" not in err

    assert calls.mutating == []
    assert checksum(stack, listener) == broken
    assert catalog(stack).lock_holder(listener)["owner"] == first
    assert len(lock_items(stack)) == 1


def test_a_cli_restore_holds_the_same_lock_and_releases_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the CLI applies, it holds the listener's lock (owner: who STS says runs it);
    at the end the lock is gone."""
    listener, key, backed_up, _ = broken_listener(stack)
    holders: list[Any] = []
    original = BaseClient._make_api_call

    def observe(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation in faults.MUTATING and not holders:
            holders.append(catalog(stack).lock_holder(listener))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", observe)
    status, out, err = cli(
        "restore", f"s3://{stack.bucket}/{key}", "--yes",
        "--aws", "--region", REGION, "--table", stack.table,
    )  # fmt: skip

    assert status == 0, (out, err)
    assert holders[0]["owner"].startswith("cli:arn:aws:")
    assert checksum(stack, listener) == backed_up
    assert catalog(stack).lock_holder(listener) is None
    assert "without a lock" not in out + err


def test_a_stopped_executions_lock_is_released_and_its_audit_closed(stack: Stack) -> None:
    listener, key, backed_up, broken = broken_listener(stack)
    first = waiting_restore(stack, key)
    assert catalog(stack).lock_holder(listener)["owner"] == first

    stack.sfn.stop_execution(executionArn=first, cause="stopped by an operator")

    wait_until(lambda: catalog(stack).lock_holder(listener) is None)
    record = wait_until(lambda: (catalog(stack).audit(first) or {}).get("ended_at") and
                        catalog(stack).audit(first))  # fmt: skip
    assert record["outcome"] == "ABANDONED" and record["execution_status"] == "ABORTED"
    assert record["lock_released"] is True
    assert checksum(stack, listener) == broken

    again = run_approved(stack, {"snapshot": key})
    assert again.status == "SUCCEEDED", again.cause
    assert checksum(stack, listener) == backed_up
    assert catalog(stack).lock_holder(listener) is None
    assert catalog(stack).audit(again.execution_arn)["outcome"] == "RESTORED"


def test_a_forged_status_event_releases_nothing(stack: Stack, calls: Calls) -> None:
    """Invoking the function with an event naming a running restore leaves its lock."""
    listener, key, _, broken = broken_listener(stack)
    first = waiting_restore(stack, key)
    forged = {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {"executionArn": first, "status": "ABORTED"},
    }
    response = stack.session.client("lambda").invoke(
        FunctionName=stack.deployment.physical_id("ReleaseAbandonedLockFunction"),
        Payload=json.dumps(forged).encode(),
    )
    payload = json.loads(response["Payload"].read())
    assert response.get("FunctionError") and payload["errorType"] == "InvalidInput"
    assert "is RUNNING, not ended" in payload["errorMessage"]
    assert catalog(stack).lock_holder(listener)["owner"] == first
    assert catalog(stack).audit(first)["outcome"] == "RUNNING"
    assert checksum(stack, listener) == broken


def take_lock_as_other(stack: Stack, listener: str, owner: str) -> None:
    """Another restore's lock on the listener, for an hour (written as the table holds it)."""
    stack.ddb.put_item(
        TableName=stack.table,
        Item={
            "pk": {"S": f"LOCK#{listener}"},
            "sk": {"S": "LOCK"},
            "owner": {"S": owner},
            "acquired_at": {"S": "2030-01-01T00:00:00+00:00"},
            "expires_at": {"N": str(int(time.time()) + 3600)},
        },
    )


def test_an_apply_whose_lock_was_taken_changes_nothing(stack: Stack, calls: Calls) -> None:
    """The lock expired while the restore waited and another restore took it: approved, the
    first restore ends LOCKED without a change, and the other's lock stays."""
    listener, key, _, broken = broken_listener(stack)
    first = waiting_restore(stack, key)
    take_lock_as_other(stack, listener, "cli:arn:aws:iam::123456789012:user/other:1")
    calls.made.clear()

    approve_as_other(stack, first)
    outcome = stack.finish("restore", first)

    assert outcome.status == "FAILED" and outcome.error == "ListenerLocked", outcome.cause
    assert "no longer holds the lock" in str(outcome.cause)
    assert "Apply the plan" in state_names(stack, first)
    assert "Roll back to the pre-restore snapshot" not in state_names(stack, first)
    assert calls.mutating == []
    assert checksum(stack, listener) == broken
    assert catalog(stack).lock_holder(listener)["owner"].endswith("user/other:1")


def test_a_rollback_does_not_fight_the_restore_that_holds_the_lock(
    stack: Stack, calls: Calls
) -> None:
    """The apply fails part-way; before the rollback another restore takes the lock: the
    rollback changes nothing and says so (ROLLBACK_FAILED), naming the holder."""
    listener, key, _, _ = broken_listener(stack)
    faults.inject("CreateRule", nth=2, **BAD_REQUEST)

    def steal(event: Any, context: Any) -> None:
        take_lock_as_other(stack, listener, "cli:arn:aws:iam::123456789012:user/other:2")
        calls.made.clear()

    lambdas.before_invoke("RollBackFunction", steal)
    outcome = run_approved(stack, {"snapshot": key})

    assert outcome.status == "FAILED" and outcome.error == "RollbackFailed", outcome.cause
    assert "user/other:2" in str(outcome.cause) and "was not started" in str(outcome.cause)
    assert calls.mutating == []  # from the rollback on: nothing
    assert catalog(stack).lock_holder(listener)["owner"].endswith("user/other:2")
    assert catalog(stack).audit(outcome.execution_arn)["outcome"] == "ROLLBACK_FAILED"


def test_a_cli_restore_releases_its_lock_when_interrupted(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the CLI restore holds the lock: it exits 1 and the lock is gone."""
    listener, key, _, broken = broken_listener(stack)

    def interrupted(*_: Any, **__: Any) -> Any:
        assert catalog(stack).lock_holder(listener)["owner"].startswith("cli:")
        raise KeyboardInterrupt

    monkeypatch.setattr("albrules.cli.restores.execute_restore", interrupted)
    status, out, err = cli(
        "restore", f"s3://{stack.bucket}/{key}", "--yes",
        "--aws", "--region", REGION, "--table", stack.table,
    )  # fmt: skip
    assert status == 1 and "interrupted" in err, (out, err)
    assert catalog(stack).lock_holder(listener) is None
    assert checksum(stack, listener) == broken
