"""The real state machines, run by the local interpreter against template.yaml's deployment.

Each test asserts on the listeners' state, the objects in the bucket, the catalog table and
the execution history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from albrules import approval
from albrules.aws import Aws
from albrules.catalog import Catalog
from albrules.errors import ApprovalError
from albrules.local import faults, lambdas
from local_world import function_url_event
from rule_builders import fixed, path
from stack import Stack, break_listener, checksum, received, shop, subscribe

BAD_REQUEST = {"code": "ValidationError", "message": "injected: the call was refused"}


def rules_of(stack: Stack, listener: str) -> list[tuple[int, Any]]:
    state = stack.world.state(listener)
    return [(r.priority, r.model_dump(mode="json", exclude={"arn"})) for r in state.rules]


def load_balancer_of(stack: Stack, listener: str) -> str:
    found = stack.world.elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]
    return found["LoadBalancerArn"]


def back_up(stack: Stack, **narrow: Any) -> dict[str, Any]:
    result = stack.run("backup", stack.backup_targets(**narrow))
    assert result.status == "SUCCEEDED", result.cause
    return result.output


def snapshot_key(stack: Stack, listener: str) -> str:
    listener_id = listener.rsplit("/", 1)[-1]
    keys = [k for k in stack.keys("snapshots/") if f"/{listener_id}/" in k]
    return sorted(keys)[-1]


def state_names(stack: Stack, execution_arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in stack.history(execution_arn)
        if "stateEnteredEventDetails" in e
    ]


def catalog(stack: Stack) -> Catalog:
    return Catalog(Aws(stack.session), stack.table)


def audit(stack: Stack, execution_arn: str) -> dict[str, Any]:
    record = catalog(stack).audit(execution_arn)
    assert record is not None
    return record


def lock_of(stack: Stack, listener: str) -> dict[str, Any] | None:
    return catalog(stack).lock_holder(listener)


def decide(stack: Stack, execution: str, decision: Any, by: str, reason: str = "") -> None:
    approval.decide(Aws(stack.session), catalog(stack), execution, decision, by=by, reason=reason)


def wait_for_approval(stack: Stack, execution_arn: str, timeout: float = 30) -> dict[str, Any]:
    return stack.pending_approval(execution_arn, timeout)


def call_approval(stack: Stack, method: str, token: str) -> dict[str, Any]:
    """Invoke the approval function as its function URL would."""
    event = function_url_event(method, token, "192.0.2.1")
    response = stack.session.client("lambda").invoke(
        FunctionName=stack.deployment.physical_id("ApprovalFunction"),
        Payload=json.dumps(event).encode(),
    )
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


@dataclass
class Waiting:
    """A broken listener and a restore of its backup, waiting for approval."""

    listener: str
    before: list[tuple[int, Any]]  # the rules as backed up
    backed_up: str  # the listener's checksum as backed up
    broken: str  # its checksum while broken
    queue: str  # subscribed to the notifications before the restore started
    execution: str


def waiting_restore(stack: Stack) -> Waiting:
    listener = shop(stack)
    back_up(stack)
    before, backed_up = rules_of(stack, listener), checksum(stack, listener)
    break_listener(stack, listener)
    broken = checksum(stack, listener)
    queue = subscribe(stack)
    execution = stack.start(
        "restore", {"snapshot": snapshot_key(stack, listener), "require_approval": True}
    )
    wait_for_approval(stack, execution)
    return Waiting(listener, before, backed_up, broken, queue, execution)


# --- backup ---------------------------------------------------------------------------------


def test_backup_fans_out_over_load_balancers_and_listeners(stack: Stack) -> None:
    world = stack.world
    listeners = [shop(stack, "shop", 3), shop(stack, "api", 2)]
    listeners.append(world.listener(load_balancer_of(stack, listeners[1]), 8080))
    world.rule(listeners[2], 5, [path("/admin")])

    summary = back_up(stack)

    assert summary == {
        "listeners": 3,
        "rules": 6,
        "stored": 3,
        "unchanged": 0,
        "failed": 0,
        "drifted": 0,
        "failed_listeners": [],
        "discovery_failures": [],
        "location": f"s3://{stack.bucket}/snapshots",
    }
    assert len(stack.keys("snapshots/")) == 3
    for listener in listeners:
        key = snapshot_key(stack, listener)
        document = stack.read_json(key)
        assert document["source"]["listener_arn"] == listener
        assert document["checksum"] == checksum(stack, listener)
        row = stack.item(f"SNAPSHOT#{document['checksum'][:12]}", "SNAPSHOT")
        assert row is not None and row["location"]["S"] == f"s3://{stack.bucket}/{key}"
        head = stack.s3.head_object(Bucket=stack.bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"

    # A second run stores nothing new: every listener is unchanged.
    again = back_up(stack)
    assert (again["stored"], again["unchanged"]) == (0, 3)
    assert len(stack.keys("snapshots/")) == 3


def test_backup_targets_narrow_by_load_balancer_and_tag(stack: Stack) -> None:
    shop(stack, "shop", 1)
    api = shop(stack, "api", 1)
    team = [{"Key": "team", "Value": "x"}]
    stack.world.elb.add_tags(ResourceArns=[load_balancer_of(stack, api)], Tags=team)
    assert back_up(stack, load_balancers=["shop"])["listeners"] == 1
    assert back_up(stack, tags={"team": "x"})["listeners"] == 1
    assert snapshot_key(stack, api)


def test_one_broken_listener_does_not_lose_the_others(stack: Stack) -> None:
    good = [shop(stack, "shop", 2), shop(stack, "api", 2)]
    doomed = shop(stack, "old", 1)
    queue = subscribe(stack)

    def delete_it(event: Any, context: Any) -> None:
        if doomed in [i["listener_arn"] for i in event["Items"]]:  # deleted while it runs
            stack.world.elb.delete_listener(ListenerArn=doomed)

    lambdas.before_invoke("SnapshotListenersFunction", delete_it)
    result = stack.run("backup", stack.backup_targets())

    assert result.status == "FAILED" and result.error == "BackupIncomplete"
    for listener in good:
        assert snapshot_key(stack, listener)
    summary_key = next(k for k in stack.keys("runs/") if k.endswith("summary.json"))
    summary = stack.read_json(summary_key)["summary"]
    assert (summary["stored"], summary["failed"]) == (2, 1)
    assert summary["failed_listeners"][0]["listener_arn"] == doomed
    assert summary["failed_listeners"][0]["error"] == "ListenerNotFound"
    names = state_names(stack, result.execution_arn)
    assert "Notify about the failed listeners" in names
    messages = received(stack, queue)
    assert messages[0]["Subject"] == "albrules backup: 1 of 3 listener(s) failed"
    assert doomed in messages[0]["Message"]


def test_every_fleet_goes_through_one_distributed_map_in_batches(stack: Stack) -> None:
    listeners = [shop(stack, name, 2) for name in ("shop", "api", "old")]
    stack.set_setting("backup", "batch_size", 2)
    batches: list[list[str]] = []
    lambdas.before_invoke(
        "SnapshotListenersFunction",
        lambda event, _: batches.append([i["listener_arn"] for i in event["Items"]]),
    )

    result = stack.run("backup", stack.backup_targets(), timeout=120)

    assert result.status == "SUCCEEDED", result.cause
    assert (result.output["listeners"], result.output["stored"]) == (3, 3)
    names = state_names(stack, result.execution_arn)
    assert "Back up the listeners in batches" in names
    assert sorted(len(b) for b in batches) == [1, 2]  # 3 listeners, batches of 2: 2 invocations
    assert sorted(a for b in batches for a in b) == sorted(listeners)
    for listener in listeners:
        assert snapshot_key(stack, listener)
    # The listeners went to the Map through S3, and the results came back through S3.
    name = result.execution_arn.rsplit(":", 1)[-1]
    assert len(stack.read_json(f"runs/{name}/listeners.json")) == 3
    assert any(k.endswith("manifest.json") for k in stack.keys("runs/map-results/"))
    started = [e for e in stack.history(result.execution_arn) if e["type"] == "MapRunStarted"]
    assert len(started) == 1


# --- restore ----------------------------------------------------------------------------------


def test_restore_puts_a_broken_listener_back_and_records_it(stack: Stack) -> None:
    listener = shop(stack)
    back_up(stack)
    before = rules_of(stack, listener)
    break_listener(stack, listener)
    broken = checksum(stack, listener)

    result = stack.run(
        "restore", {"snapshot": snapshot_key(stack, listener), "requested_by": "alice"}
    )

    assert result.status == "SUCCEEDED", result.cause
    assert rules_of(stack, listener) == before
    names = state_names(stack, result.execution_arn)
    assert names[:6] == [
        "Read the restore settings",
        "Is this a restore of a whole load balancer?",  # no: one listener
        "Lock the listener",
        "Load and validate the snapshot",
        "Take the pre-restore snapshot",
        "Compute the plan",
    ]
    assert "Wait for approval" not in names
    assert "Roll back to the pre-restore snapshot" not in names
    record = audit(stack, result.execution_arn)
    assert record["outcome"] == "RESTORED" and record["requested_by"] == "alice"
    assert record["lock_released"] is True
    assert lock_of(stack, listener) is None
    pre = stack.read_json(record["pre_restore_location"].split(stack.bucket + "/", 1)[1])
    assert pre["checksum"] == broken
    plan = stack.read_json(f"plans/{result.execution_arn.rsplit(':', 1)[-1]}.json")
    assert plan["public"]["changes"] == record["changes"] == 4


def test_restore_by_catalog_id_with_nothing_to_change(stack: Stack) -> None:
    listener = shop(stack)
    back_up(stack)
    snapshot_id = stack.read_json(snapshot_key(stack, listener))["checksum"][:12]
    result = stack.run("restore", {"snapshot": snapshot_id})
    assert result.status == "SUCCEEDED"
    assert "The listener already matched" in state_names(stack, result.execution_arn)
    assert audit(stack, result.execution_arn)["outcome"] == "NO_CHANGES"


def test_dry_run_changes_nothing_and_stores_the_plan(stack: Stack) -> None:
    listener = shop(stack)
    back_up(stack)
    break_listener(stack, listener)
    broken = checksum(stack, listener)

    result = stack.run("restore", {"snapshot": snapshot_key(stack, listener), "dry_run": True})

    assert result.status == "SUCCEEDED"
    assert checksum(stack, listener) == broken
    names = state_names(stack, result.execution_arn)
    assert "Dry run: the plan is ready" in names and "Apply the plan" not in names
    assert result.output["plan"]["changes"] == 4
    assert stack.read_json(result.output["plan_location"].split(stack.bucket + "/", 1)[1])
    assert lock_of(stack, listener) is None


def test_selective_restore_touches_only_the_chosen_rule(stack: Stack) -> None:
    listener = shop(stack)
    back_up(stack)
    break_listener(stack, listener)
    result = stack.run(
        "restore",
        {"snapshot": snapshot_key(stack, listener), "mode": "selective", "priorities": [10]},
    )
    assert result.status == "SUCCEEDED", result.cause
    priorities = [p for p, _ in rules_of(stack, listener)]
    assert priorities == [10, 30, 40, 99]  # 10 back; 20 still gone; the rogue 99 still there


def test_bad_input_is_refused_with_nothing_changed(stack: Stack) -> None:
    listener = shop(stack)
    back_up(stack)
    break_listener(stack, listener)
    broken = checksum(stack, listener)
    result = stack.run("restore", {"snapshot": snapshot_key(stack, listener), "mode": "sideways"})
    assert result.status == "FAILED" and result.error == "RestoreRefused"
    assert "'sideways' is not allowed here" in result.cause
    assert checksum(stack, listener) == broken
    assert audit(stack, result.execution_arn)["outcome"] == "REFUSED"
    missing = stack.run("restore", {"snapshot": "snapshots/nowhere.json"})
    assert missing.error == "RestoreRefused"
    assert "does not exist" in missing.cause


def test_failure_in_apply_rolls_back_to_the_pre_restore_state(stack: Stack) -> None:
    listener = shop(stack)
    back_up(stack)
    break_listener(stack, listener)
    broken = rules_of(stack, listener)
    queue = subscribe(stack)
    faults.inject("CreateRule", nth=2, **BAD_REQUEST)

    result = stack.run("restore", {"snapshot": snapshot_key(stack, listener)})

    assert result.status == "FAILED" and result.error == "RestoreRolledBack"
    assert rules_of(stack, listener) == broken
    names = state_names(stack, result.execution_arn)
    assert names.index("Apply the plan") < names.index("Roll back to the pre-restore snapshot")
    assert "Verify the rollback" in names and "Verify the listener" not in names
    record = audit(stack, result.execution_arn)
    assert record["outcome"] == "ROLLED_BACK" and record["error"]["Error"] == "ApplyFailed"
    assert lock_of(stack, listener) is None
    name = result.execution_arn.rsplit(":", 1)[-1]
    journal = stack.read_json(f"pre-restore/{name}/journal.json")
    assert {entry["phase"] for entry in journal} == {"restore", "rollback"}
    message = received(stack, queue)[0]
    assert "failed and was rolled back" in message["Subject"]


def test_failure_in_verify_rolls_back(stack: Stack) -> None:
    listener = shop(stack)
    back_up(stack)
    break_listener(stack, listener)
    broken = rules_of(stack, listener)
    calls = []

    def meddle(event: Any, context: Any) -> None:
        calls.append(event.get("phase"))
        if len(calls) == 1:  # someone else changes a rule between apply and verify
            rule = stack.world.rules(listener)[0]
            stack.world.elb.modify_rule(RuleArn=rule["RuleArn"], Actions=[fixed("418")])

    lambdas.before_invoke("VerifyListenerFunction", meddle)
    result = stack.run("restore", {"snapshot": snapshot_key(stack, listener)})

    assert result.status == "FAILED" and result.error == "RestoreRolledBack"
    assert audit(stack, result.execution_arn)["error"]["Error"] == "VerifyFailed"
    assert rules_of(stack, listener) == broken
    assert calls == ["restore", "rollback"]


def test_rollback_failure_fails_with_rollback_failed_naming_the_pre_restore_snapshot(
    stack: Stack,
) -> None:
    listener = shop(stack)
    back_up(stack)
    break_listener(stack, listener)
    queue = subscribe(stack)
    faults.inject("CreateRule", nth=2, **BAD_REQUEST)
    faults.inject("DeleteRule", nth=1, times=0, **BAD_REQUEST)  # the rollback cannot delete

    result = stack.run("restore", {"snapshot": snapshot_key(stack, listener)})

    assert result.status == "FAILED" and result.error == "RollbackFailed"
    record = audit(stack, result.execution_arn)
    assert record["outcome"] == "ROLLBACK_FAILED"
    assert record["pre_restore_location"] in result.cause
    assert lock_of(stack, listener) is None
    message = received(stack, queue)[0]
    assert "ROLLBACK FAILED" in message["Subject"]
    assert record["pre_restore_location"] in message["Message"]


# --- approvals and the lock -------------------------------------------------------------------


def test_approval_by_cli_resumes_the_restore(stack: Stack) -> None:
    waiting = waiting_restore(stack)
    listener, before, queue, execution = (
        waiting.listener,
        waiting.before,
        waiting.queue,
        waiting.execution,
    )
    request = received(stack, queue)[0]
    assert request["Subject"].startswith("albrules: approve restore of shop listener")
    assert "Approve: https://" in request["Message"]
    assert f"albrules approve {execution}" in request["Message"]
    assert stack.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert rules_of(stack, listener) != before

    decide(stack, execution, "approve", by="bob")
    result = stack.finish("restore", execution)

    assert result.status == "SUCCEEDED", result.cause
    assert rules_of(stack, listener) == before
    assert audit(stack, execution)["approval"]["by"] == "bob"
    with pytest.raises(ApprovalError, match="already approved"):
        decide(stack, execution, "approve", by="bob")


def test_reject_ends_the_restore_with_no_change(stack: Stack) -> None:
    waiting = waiting_restore(stack)
    listener, broken, execution = waiting.listener, waiting.broken, waiting.execution
    decide(stack, execution, "reject", by="carol", reason="wrong snapshot")
    result = stack.finish("restore", execution)
    assert result.status == "FAILED" and result.error == "ApprovalRejected"
    assert "rejected by carol: wrong snapshot" in result.cause
    assert checksum(stack, listener) == broken
    assert "Apply the plan" not in state_names(stack, execution)
    assert lock_of(stack, listener) is None
    assert audit(stack, execution)["outcome"] == "REJECTED"


def test_approval_links_only_review_and_forged_links_do_nothing(stack: Stack) -> None:
    """The link's page shows the restore and the commands; no request to it decides
    (a public link cannot tell who opens it): the decision goes through the DecisionFunction."""
    waiting = waiting_restore(stack)
    listener, before, queue, execution = (
        waiting.listener,
        waiting.before,
        waiting.queue,
        waiting.execution,
    )
    message = received(stack, queue)[0]["Message"]
    link = next(
        line.split(": ", 1)[1] for line in message.splitlines() if line.startswith("Approve: ")
    )
    token = link.split("token=", 1)[1]

    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert call_approval(stack, "GET", forged)["statusCode"] == 403
    page = call_approval(stack, "GET", token)
    assert page["statusCode"] == 200 and "<form" not in page["body"]
    assert f"albrules approve {execution}" in page["body"]
    posted = call_approval(stack, "POST", token)
    assert posted["statusCode"] == 405 and "albrules approve" in posted["body"]
    assert stack.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert catalog(stack).approval(execution)["status"] == "pending"

    decide(stack, execution, "approve", by="bob")
    result = stack.finish("restore", execution)
    assert result.status == "SUCCEEDED"
    assert rules_of(stack, listener) == before
    reopened = call_approval(stack, "GET", token)
    assert reopened["statusCode"] == 409 and "already approved by bob" in reopened["body"]


def test_no_decision_in_time_times_out_with_no_change(stack: Stack) -> None:
    listener = shop(stack)
    back_up(stack)
    break_listener(stack, listener)
    broken = checksum(stack, listener)
    stack.set_approval_timeout(1)
    execution = stack.start(
        "restore", {"snapshot": snapshot_key(stack, listener), "require_approval": True}
    )
    result = stack.finish("restore", execution, timeout=30)
    assert result.status == "FAILED" and result.error == "ApprovalTimedOut"
    assert checksum(stack, listener) == broken
    assert lock_of(stack, listener) is None
    with pytest.raises(ApprovalError):
        decide(stack, execution, "approve", by="late")


def test_the_lock_refuses_a_concurrent_restore(stack: Stack) -> None:
    listener = shop(stack)
    back_up(stack)
    break_listener(stack, listener)
    broken = checksum(stack, listener)
    key = snapshot_key(stack, listener)
    first = stack.start("restore", {"snapshot": key, "require_approval": True})
    wait_for_approval(stack, first)
    assert lock_of(stack, listener)["owner"] == first

    second = stack.run("restore", {"snapshot": key})

    assert second.status == "FAILED" and second.error == "ListenerLocked"
    assert first in second.cause
    assert checksum(stack, listener) == broken
    assert lock_of(stack, listener)["owner"] == first  # the refused restore did not release it
    assert "Take the pre-restore snapshot" not in state_names(stack, second.execution_arn)
    decide(stack, first, "reject", by="test", reason="cleanup")
    assert stack.finish("restore", first).error == "ApprovalRejected"
    assert lock_of(stack, listener) is None


# --- drift (issue 4) ----------------------------------------------------------------------------


def nothing_received(stack: Stack, queue: str) -> bool:
    """No notification is in the queue (SNS delivers to SQS before the publish returns)."""
    sqs = stack.session.client("sqs")
    return not sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages")


def test_a_backup_after_a_change_notifies_the_drift(stack: Stack) -> None:
    listener = shop(stack)
    queue = subscribe(stack)
    assert back_up(stack)["drifted"] == 0  # a first snapshot is not drift
    assert nothing_received(stack, queue)
    previous = snapshot_key(stack, listener)
    break_listener(stack, listener)

    result = stack.run("backup", stack.backup_targets())

    assert result.status == "SUCCEEDED", result.cause
    assert (result.output["stored"], result.output["drifted"]) == (1, 1)
    names = state_names(stack, result.execution_arn)
    assert "Notify about the drift" in names
    assert "Notify about the failed listeners" not in names
    [message] = received(stack, queue)
    assert message["Subject"] == "albrules: drift detected on shop:80 (4 rule change(s))"
    body = message["Message"]
    assert f"listener: {listener}" in body
    assert "shop:80: 1 added, 2 removed, 1 changed" in body
    assert "  - removed priority 10 (path-pattern=/shop/1/*)" in body
    assert "  - removed priority 20 (path-pattern=/shop/2/*)" in body
    assert "  - changed priority 30 (path-pattern=/shop/3/*): actions" in body
    assert "  - added priority 99 (host-header=rogue.example.com)" in body
    assert f"albrules restore s3://{stack.bucket}/{previous}" in body
    assert f"new snapshot:      s3://{stack.bucket}/{snapshot_key(stack, listener)}" in body
    assert "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1" in body
    assert result.execution_arn in body
    name = result.execution_arn.rsplit(":", 1)[-1]
    [row] = stack.read_json(f"runs/{name}/summary.json")["results"]
    assert (row["drift"]["added"], row["drift"]["removed"], row["drift"]["changed"]) == (1, 2, 1)
    [key] = stack.keys("runs/drift/")  # the whole report, snapshot -> live
    report = stack.read_json(key)
    assert report["snapshot"] == f"s3://{stack.bucket}/{previous}"
    assert report["listener_arn"] == listener and key.endswith(f"/{row['snapshot_id']}.json")
    assert [c["kind"] for c in report["changes"]] == ["removed", "removed", "changed", "added"]


def test_a_backup_with_no_change_sends_no_drift_notification(stack: Stack) -> None:
    shop(stack)
    back_up(stack)
    queue = subscribe(stack)

    result = stack.run("backup", stack.backup_targets())

    assert result.status == "SUCCEEDED", result.cause
    assert (result.output["unchanged"], result.output["drifted"]) == (1, 0)
    assert "Notify about the drift" not in state_names(stack, result.execution_arn)
    assert nothing_received(stack, queue)


def test_failures_and_drift_in_one_backup_are_one_message(stack: Stack) -> None:
    listener = shop(stack, "shop", 4)
    doomed = shop(stack, "old", 1)
    back_up(stack)
    break_listener(stack, listener)
    queue = subscribe(stack)

    def delete_it(event: Any, context: Any) -> None:
        if doomed in [i["listener_arn"] for i in event["Items"]]:
            stack.world.elb.delete_listener(ListenerArn=doomed)

    lambdas.before_invoke("SnapshotListenersFunction", delete_it)
    result = stack.run("backup", stack.backup_targets())

    assert result.status == "FAILED" and result.error == "BackupIncomplete"
    names = state_names(stack, result.execution_arn)
    assert "Notify about the failed listeners" in names and "Notify about the drift" not in names
    [message] = received(stack, queue)
    assert message["Subject"] == "albrules backup: 1 of 2 listener(s) failed, drift on 1"
    assert doomed in message["Message"]
    assert "shop:80: 1 added, 2 removed, 1 changed" in message["Message"]


def test_an_unreadable_previous_snapshot_does_not_fail_the_backup(stack: Stack) -> None:
    listener = shop(stack)
    back_up(stack)
    stack.s3.delete_object(Bucket=stack.bucket, Key=snapshot_key(stack, listener))
    break_listener(stack, listener)
    queue = subscribe(stack)

    result = stack.run("backup", stack.backup_targets())

    assert result.status == "SUCCEEDED", result.cause
    assert (result.output["stored"], result.output["drifted"]) == (1, 0)
    assert snapshot_key(stack, listener)  # the new snapshot is stored all the same
    assert nothing_received(stack, queue)
