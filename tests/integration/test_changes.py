"""The change-triggered backup's tasks (albrules.tasks.changes) against the local AWS, with
CloudTrail-shaped events: what the catalog and the bucket hold afterwards.

The tasks run with their deployed function's environment; the settle time is long (600 s) so
that the executions the note starts only wait, while the test calls the back-up step itself
with a clock of its own (``now``)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from albrules.catalog import Catalog
from albrules.runtime_env import INVOCATION_ENV
from albrules.state_documents import ChangeState
from albrules.tasks.changes import back_up_changed_listener, note_listener_change
from change_events import REGION, assumed_role, cloudtrail_event, rule_of, user
from stack import ACCOUNT, Stack, deployed_stack, shop

SETTLE = 600


@pytest.fixture
def stack() -> Iterator[Stack]:
    """The stack with its change rules off (deployed_stack's default): these tests hand the
    tasks their events themselves."""
    yield from deployed_stack({"ChangeSettleSeconds": str(SETTLE)})


@contextmanager
def as_function(stack: Stack, logical_id: str) -> Iterator[None]:
    name = stack.deployment.physical_id(logical_id)
    config = stack.session.client("lambda").get_function_configuration(FunctionName=name)
    token = INVOCATION_ENV.set(dict(config["Environment"]["Variables"]))
    try:
        yield
    finally:
        INVOCATION_ENV.reset(token)


def note(stack: Stack, event: dict[str, Any], now: float | None = None) -> list[str]:
    with as_function(stack, "NoteListenerChangeFunction"):
        return note_listener_change(event, now=now)


def pending(stack: Stack, listener: str) -> dict[str, Any] | None:
    return catalog(stack).pending_changes(listener)


def catalog(stack: Stack) -> Catalog:
    return Catalog(stack.world.aws, stack.table)


def settle(stack: Stack, listener: str, now: float) -> ChangeState:
    """One turn of the change machine's back-up step, as the execution settling it."""
    item = pending(stack, listener)
    assert item is not None and item.get("settling"), item
    state = ChangeState(
        listener_arn=listener,
        execution_arn=f"arn:aws:states:{REGION}:{ACCOUNT}:execution:x:{item['settling']}",
        owner=str(item["settling"]),
    )
    with as_function(stack, "BackUpChangedListenerFunction"):
        return back_up_changed_listener(state, now=now)


def executions(stack: Stack) -> list[dict[str, Any]]:
    arn = stack.outputs["ChangeBackupStateMachineArn"]
    return stack.sfn.list_executions(stateMachineArn=arn)["executions"]


@pytest.fixture(autouse=True)
def stop_executions(stack: Stack) -> Iterator[None]:
    yield
    for run in executions(stack):
        if run["status"] == "RUNNING":
            stack.sfn.stop_execution(executionArn=run["executionArn"])


def modify(listener: str, who: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return cloudtrail_event("ModifyRule", {"ruleArn": rule_of(listener)}, identity=who, **kw)


def test_a_change_is_backed_up_once_quiet_with_its_event_and_who_made_it(stack: Stack) -> None:
    listener = shop(stack)
    event = modify(listener, user("alice"))

    assert note(stack, event) == [listener]

    runs = executions(stack)
    assert len(runs) == 1 and runs[0]["status"] == "RUNNING"  # waiting for quiet
    item = pending(stack, listener)
    assert item is not None and item["settling"] == runs[0]["name"]
    assert int(item["quiet_at"]) >= int(time.time()) + SETTLE - 5

    not_yet = settle(stack, listener, now=time.time())
    assert not_yet.status == "waiting" and SETTLE - 5 <= not_yet.wait_seconds <= SETTLE
    assert catalog(stack).history(listener) == []

    done = settle(stack, listener, now=time.time() + SETTLE + 1)

    assert done.status == "stored" and done.events == 1
    [version] = catalog(stack).history(listener)
    assert version.trigger == "change" and version.execution_arn is None
    assert [(e.id, e.name, e.by) for e in version.events] == [
        (event["detail"]["eventID"], "ModifyRule", f"arn:aws:iam::{ACCOUNT}:user/alice")
    ]
    assert version.changed_by == [f"arn:aws:iam::{ACCOUNT}:user/alice"]
    assert version.location and version.location.startswith(f"s3://{stack.bucket}/snapshots/")
    assert catalog(stack).find_event(event["detail"]["eventID"])["version"] == version.sort_key
    assert pending(stack, listener) is None  # the events it covers are cleared


def test_an_unchanged_listener_still_gets_a_version_for_the_change(stack: Stack) -> None:
    """The content is read fresh and is the same: the version records the events anyway."""
    listener = shop(stack)
    for _ in range(2):
        note(stack, modify(listener))
        assert settle(stack, listener, now=time.time() + SETTLE + 1).status == "stored"
    first, second = catalog(stack).history(listener)[::-1]
    assert first.checksum == second.checksum and first.location == second.location
    assert first.events[0].id != second.events[0].id


def test_changes_are_gathered_until_quiet_and_one_execution_settles_them(stack: Stack) -> None:
    listener = shop(stack)
    start = time.time()
    events = [modify(listener, user(name)) for name in ("alice", "bob", "carol")]
    for i, event in enumerate(events):
        note(stack, event, now=start + i)
    note(stack, events[0], now=start + 3)  # EventBridge delivers at least once

    assert len(executions(stack)) == 1
    assert settle(stack, listener, now=start + SETTLE + 1).status == "waiting"  # moved by the last
    done = settle(stack, listener, now=start + SETTLE + 4)

    assert done.status == "stored"
    [version] = catalog(stack).history(listener)
    assert sorted(e.id for e in version.events) == sorted(e["detail"]["eventID"] for e in events)
    assert sorted(version.changed_by) == sorted(
        f"arn:aws:iam::{ACCOUNT}:user/{name}" for name in ("alice", "bob", "carol")
    )


def test_a_change_noted_during_the_backup_is_settled_next(stack: Stack) -> None:
    listener = shop(stack)
    note(stack, modify(listener, user("alice")))
    item = pending(stack, listener)
    assert item is not None
    later = modify(listener, user("bob"))
    # bob's change arrives after the backup read the pending changes: simulated by noting it
    # between a read and the finish (the finish sees the count moved).
    original = Catalog.pending_changes
    reads: list[str] = []

    def read_then_note(self: Catalog, arn: str) -> dict[str, Any] | None:
        found = original(self, arn)
        reads.append(arn)
        if len(reads) == 2:  # the back-up step's read (the first is settle()'s own)
            Catalog.pending_changes = original  # type: ignore[method-assign]
            note(stack, later)
        return found

    Catalog.pending_changes = read_then_note  # type: ignore[method-assign]
    try:
        first = settle(stack, listener, now=time.time() + SETTLE + 1)
    finally:
        Catalog.pending_changes = original  # type: ignore[method-assign]

    assert first.status == "waiting" and first.wait_seconds > 0
    left = pending(stack, listener)
    assert left is not None and left["settling"] == item["settling"]
    assert [k for k in left if k.startswith("event#")] == [f"event#{later['detail']['eventID']}"]
    assert settle(stack, listener, now=time.time() + SETTLE + 2).status == "stored"
    by = [v.changed_by for v in catalog(stack).history(listener)]
    assert by == [[f"arn:aws:iam::{ACCOUNT}:user/bob"], [f"arn:aws:iam::{ACCOUNT}:user/alice"]]
    assert len(executions(stack)) == 1


def test_a_deleted_listener_records_its_deletion_and_who_did_it(stack: Stack) -> None:
    listener = shop(stack)
    note(stack, modify(listener))
    settle(stack, listener, now=time.time() + SETTLE + 1)
    stack.world.elb.delete_listener(ListenerArn=listener)
    gone = cloudtrail_event("DeleteListener", {"listenerArn": listener}, identity=user("mallory"))

    note(stack, gone)
    done = settle(stack, listener, now=time.time() + SETTLE + 1)

    assert done.status == "deleted"
    deletion, snapshot = catalog(stack).history(listener)
    assert deletion.kind == "deletion" and deletion.location is None
    assert deletion.changed_by == [f"arn:aws:iam::{ACCOUNT}:user/mallory"]
    assert [e.name for e in deletion.events] == ["DeleteListener"]
    assert snapshot.kind == "snapshot" and snapshot.location  # the one to restore


def test_a_deleted_load_balancer_deletes_each_of_its_catalogued_listeners(stack: Stack) -> None:
    listener = shop(stack)
    second = stack.world.listener(stack.world.elb.describe_listeners(
        ListenerArns=[listener])["Listeners"][0]["LoadBalancerArn"], port=8080)
    for arn in (listener, second):
        note(stack, modify(arn))
        settle(stack, arn, now=time.time() + SETTLE + 1)
    balancer = stack.world.elb.describe_listeners(ListenerArns=[listener])["Listeners"][0][
        "LoadBalancerArn"
    ]
    stack.world.elb.delete_load_balancer(LoadBalancerArn=balancer)

    assert sorted(note(stack, cloudtrail_event(
        "DeleteLoadBalancer", {"loadBalancerArn": balancer}
    ))) == sorted([listener, second])
    for arn in (listener, second):
        assert settle(stack, arn, now=time.time() + SETTLE + 1).status == "deleted"
        assert catalog(stack).history(arn)[0].kind == "deletion"


def test_a_change_by_the_restore_holding_the_lock_is_the_restores(stack: Stack) -> None:
    listener = shop(stack)
    restore = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:albrules-restore:r1"
    apply_role = stack.world.aws.client("iam").get_role(
        RoleName=stack.deployment.physical_id("ApplyPlanFunctionRole")
    )["Role"]["Arn"]
    catalog(stack).acquire_lock(listener, restore, 600)

    note(stack, modify(listener, assumed_role(apply_role, "apply")))
    settle(stack, listener, now=time.time() + SETTLE + 1)

    [version] = catalog(stack).history(listener)
    assert version.trigger == "restore" and version.execution_arn == restore
    assert version.events[0].issuer == apply_role


def test_the_same_role_without_the_lock_held_is_a_change(stack: Stack) -> None:
    """Anyone able to assume the apply role outside a restore is not that restore."""
    listener = shop(stack)
    apply_role = stack.world.aws.client("iam").get_role(
        RoleName=stack.deployment.physical_id("ApplyPlanFunctionRole")
    )["Role"]["Arn"]
    note(stack, modify(listener, assumed_role(apply_role, "apply")))
    settle(stack, listener, now=time.time() + SETTLE + 1)
    assert catalog(stack).history(listener)[0].trigger == "change"


def test_an_event_from_another_account_naming_this_accounts_listener_is_dropped(
    stack: Stack,
) -> None:
    listener = shop(stack)
    forged = modify(listener, user("eve", "111111111111"), account="111111111111")

    assert note(stack, forged) == []

    assert pending(stack, listener) is None and executions(stack) == []


def test_a_failed_call_is_not_noted(stack: Stack) -> None:
    listener = shop(stack)
    assert note(stack, modify(listener, error="AccessDenied")) == []
    assert pending(stack, listener) is None and executions(stack) == []


def test_nobody_can_put_a_forged_cloudtrail_event_on_a_bus(stack: Stack) -> None:
    """aws.* sources are AWS's own: PutEvents refuses them, on the default and the changes
    bus alike (the other entries go on), so a forged change never reaches the note."""
    listener = shop(stack)
    event = modify(listener, user("alice"))
    events = stack.session.client("events")
    for bus in ("default", stack.outputs["ChangesEventBusArn"]):
        answer = events.put_events(
            Entries=[
                {
                    "Source": "aws.elasticloadbalancing",
                    "DetailType": "AWS API Call via CloudTrail",
                    "Detail": json.dumps(event["detail"]),
                    "EventBusName": bus,
                },
                {"Source": "my.app", "DetailType": "hello", "Detail": "{}", "EventBusName": bus},
            ]
        )
        assert answer["FailedEntryCount"] == 1
        assert answer["Entries"][0]["ErrorCode"] == "NotAuthorizedForSourceException"
        assert "EventId" in answer["Entries"][1]
    time.sleep(1)
    assert pending(stack, listener) is None and executions(stack) == []
