"""Each Lambda handler called directly (no state machine) inside the deployed stack, with its
function's own configured environment, the way the local seam runs it: the deployed
function's Environment variables in ``albrules.runtime_env.INVOCATION_ENV`` and a Lambda
context. The assertions are on what the handler left: items, objects, listeners, errors.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from albrules import approval
from albrules.aws import Aws
from albrules.catalog import Catalog
from albrules.errors import (
    AlbRulesError,
    InvalidInput,
    ListenerChanged,
    ListenerLocked,
    ListenerNotFound,
    RestoreRefused,
    RollbackFailed,
    TargetGroupsMissing,
    VerifyFailed,
)
from albrules.local import faults
from albrules.local.lambdas import LambdaContext
from albrules.pacing import TokenBucket
from albrules.runtime_env import INVOCATION_ENV
from albrules.state_documents import BackupState, BatchResult, ListenerResult, RestoreState, dump
from albrules.tasks import backup as backup_task
from lambda_apps import LOGICAL_IDS, backup, restore
from lambda_apps import approval as approval_handler
from lambda_apps import decision as decision_handler
from local_world import REGION, Calls, function_url_event
from rule_builders import fixed
from stack import ACCOUNT, Stack, break_listener, checksum, received, shop, subscribe

BAD_REQUEST = {"code": "ValidationError", "message": "injected: the call was refused"}


class Functions:
    """Call a handler as its deployed function would run it (environment and context)."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.lam = stack.session.client("lambda")
        self.configs: dict[str, dict[str, Any]] = {}

    def config(self, logical_id: str) -> dict[str, Any]:
        if logical_id not in self.configs:
            name = self.stack.deployment.physical_id(logical_id)
            self.configs[logical_id] = self.lam.get_function_configuration(FunctionName=name)
        return self.configs[logical_id]

    def __call__(self, handler: Callable[..., Any], event: Any) -> Any:
        config = self.config(LOGICAL_IDS[handler.folder])  # type: ignore[attr-defined]
        request_id = str(uuid.uuid4())
        context = LambdaContext(
            function_name=config["FunctionName"],
            function_version=config.get("Version", "$LATEST"),
            invoked_function_arn=config["FunctionArn"],
            memory_limit_in_mb=int(config.get("MemorySize", 128)),
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{config['FunctionName']}",
            log_stream_name=f"2026/11/23/[$LATEST]{request_id.replace('-', '')}",
            timeout_seconds=int(config.get("Timeout", 3)),
        )
        token = INVOCATION_ENV.set(dict(config["Environment"]["Variables"]))
        try:
            return handler(event, context)
        finally:
            INVOCATION_ENV.reset(token)


@pytest.fixture
def call(stack: Stack) -> Functions:
    return Functions(stack)


def execution(name: str, machine: str = "restore") -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:albrules-{machine}:{name}"


def item(listener: str, stack: Stack, **changes: Any) -> dict[str, Any]:
    """One listener of a backup batch, as discovery lists it."""
    return {
        "listener_arn": listener,
        "account_id": ACCOUNT,
        "region": REGION,
        "location": f"s3://{stack.bucket}/snapshots",
        "execution_arn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:albrules-backup:test",
        **changes,
    }


def batch(*items: dict[str, Any]) -> dict[str, Any]:
    """A backup Map child execution's input, as the Map's ItemBatcher makes it."""
    return {"Items": list(items)}


def backed_up(call: Functions, *items: dict[str, Any]) -> list[dict[str, Any]]:
    """Back up the listeners as one batch; each listener's result."""
    out = BatchResult.model_validate(call(backup.snapshot_listeners, batch(*items)))
    assert out.failed_batch is None
    return [dump(result) for result in out.results]


def catalog(stack: Stack) -> Catalog:
    return Catalog(Aws(stack.session), stack.table)


def key_of(stack: Stack, location: str) -> str:
    prefix = f"s3://{stack.bucket}/"
    assert location.startswith(prefix), location
    return location[len(prefix) :]


def test_each_handler_is_its_deployed_functions_handler(stack: Stack, call: Functions) -> None:
    lam = stack.session.client("lambda")
    for folder, logical_id in LOGICAL_IDS.items():
        config = call.config(logical_id)
        assert config["Handler"] == "app.handler"
        assert config["Environment"]["Variables"]["ALBRULES_BUCKET"] == stack.bucket
        code = lam.get_function(FunctionName=config["FunctionName"])["Code"]
        assert code  # the function's own package (functions/<folder>/), deployed
        packaged = stack.deployment.physical_id(logical_id)
        assert packaged == config["FunctionName"], folder


# --- backup ----------------------------------------------------------------------------------


def backup_state(name: str, request: dict[str, Any], **settings: int) -> dict[str, Any]:
    return {"request": request, "execution_arn": execution(name, "backup"), "settings": settings}


def test_discover_listeners_lists_them_in_s3(stack: Stack, call: Functions) -> None:
    listeners = [shop(stack, "shop", 1), shop(stack, "api", 1)]
    stack.world.listener(stack.world.load_balancer("other"))
    request = {
        "targets": [
            {"account_id": ACCOUNT, "region": REGION, "load_balancers": ["shop", "api"]},
            {"account_id": ACCOUNT, "region": REGION, "load_balancers": ["nowhere"]},
        ]
    }

    out = BackupState.model_validate(call(backup.discover_listeners, backup_state("d1", request)))

    assert out.listener_count == 2 and out.location == f"s3://{stack.bucket}/snapshots"
    assert out.items is not None and out.items.key == "runs/d1/listeners.json"
    listed = stack.read_json("runs/d1/listeners.json")  # the Map's items, whatever the fleet
    assert [i["listener_arn"] for i in listed] == listeners
    assert {i["execution_arn"] for i in listed} == {execution("d1", "backup")}
    assert [f.account_id for f in out.discovery_failures] == [ACCOUNT]
    assert "nowhere" in out.discovery_failures[0].error


def test_discover_listeners_refuses_bad_input(call: Functions) -> None:
    with pytest.raises(InvalidInput, match="targets"):
        call(backup.discover_listeners, backup_state("d3", {"targets": []}))
    typo = {"targets": [{"account_id": ACCOUNT, "region": REGION, "load_balancer": ["x"]}]}
    with pytest.raises(InvalidInput, match="load_balancer"):
        call(backup.discover_listeners, backup_state("d4", typo))


def test_snapshot_listeners_stores_and_catalogs_then_skips_unchanged(
    stack: Stack, call: Functions
) -> None:
    listener = shop(stack)

    first = ListenerResult.model_validate(backed_up(call, item(listener, stack))[0])

    assert (first.status, first.rules) == ("stored", 4)
    key = key_of(stack, first.location or "")
    document = stack.read_json(key)
    assert document["checksum"] == checksum(stack, listener)
    assert first.snapshot_id == document["checksum"][:12]
    head = stack.s3.head_object(Bucket=stack.bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(stack.outputs["DataKeyArn"].rsplit("/", 1)[-1])
    row = stack.item(f"SNAPSHOT#{first.snapshot_id}", "SNAPSHOT")
    assert row is not None and row["location"]["S"] == first.location
    assert catalog(stack).snapshots(listener)[0]["snapshot_id"] == first.snapshot_id

    [again] = backed_up(call, item(listener, stack))
    assert again["status"] == "unchanged" and stack.keys("snapshots/") == [key]

    with pytest.raises(InvalidInput, match="location"):
        call(backup.snapshot_listeners, batch(item(listener, stack, location=None)))
    with pytest.raises(InvalidInput, match="Items"):
        call(backup.snapshot_listeners, {"Items": []})
    other = shop(stack, "other", 1)
    stack.world.elb.delete_listener(ListenerArn=listener)
    gone, kept = backed_up(call, item(listener, stack), item(other, stack))  # one lost, not both
    assert (gone["status"], gone["error"]) == ("failed", ListenerNotFound.__name__)
    assert "does not exist" in gone["cause"] and kept["status"] == "stored"


def map_results(stack: Stack, name: str, files: dict[str, list[dict[str, Any]]]) -> dict:
    """A Distributed Map's ResultWriter export as AWS documents it (Step Functions developer
    guide, "ResultWriter (Map)", section "Exporting to Amazon S3":
    https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html):
    ``<prefix>/<map run id>/manifest.json`` holds ``DestinationBucket``, ``MapRunArn`` and
    ``ResultFiles`` {``FAILED``, ``PENDING``, ``SUCCEEDED``: [{``Key``, ``Size``}]}; each result
    file (``SUCCEEDED_0.json``...) is a JSON array of child executions with ``Input`` and
    ``Output`` as JSON strings, ``Status``, and for failed ones ``Error`` and ``Cause``. (moto
    5.2.5 writes the manifest with empty ResultFiles and no result files.) Returns the
    ``map_run`` the Map's ResultPath leaves in the state."""
    run_id = str(uuid.uuid4())
    map_run = f"arn:aws:states:{REGION}:{ACCOUNT}:mapRun:albrules-backup/{name}:{run_id}"
    prefix = f"runs/map-results/{run_id}"
    manifest: dict[str, Any] = {
        "DestinationBucket": stack.bucket,
        "MapRunArn": map_run,
        "ResultFiles": {"FAILED": [], "PENDING": [], "SUCCEEDED": []},
    }
    for status, rows in files.items():
        if rows:
            key = f"{prefix}/{status}_0.json"
            body = json.dumps(rows).encode()
            stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=body)
            manifest["ResultFiles"][status].append({"Key": key, "Size": len(body)})
    stack.s3.put_object(
        Bucket=stack.bucket, Key=f"{prefix}/manifest.json", Body=json.dumps(manifest).encode()
    )
    return {
        "MapRunArn": map_run,
        "ResultWriterDetails": {"Bucket": stack.bucket, "Key": f"{prefix}/manifest.json"},
    }


def child(status: str, given: dict[str, Any], output: Any = None, **extra: str) -> dict:
    """One child execution's record in a ResultWriter file."""
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:albrules-backup/m1:{uuid.uuid4()}"
    entry = {
        "ExecutionArn": arn,
        "Input": json.dumps(given),
        "InputDetails": {"Included": True},
        "Name": arn.rsplit(":", 1)[-1],
        "StartDate": "2026-11-23T17:00:00.000Z",
        "StateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:albrules-backup/m1",
        "Status": status,
        "StopDate": "2026-11-23T17:00:01.000Z",
        **extra,
    }
    if output is not None:
        entry["Output"] = json.dumps(output)
        entry["OutputDetails"] = {"Included": True}
    return entry


def test_summarise_backup_counts_the_batches_results(stack: Stack, call: Functions) -> None:
    listeners = [shop(stack, "shop", 2), shop(stack, "api", 1)]
    results = backed_up(call, *(item(arn, stack) for arn in listeners))
    failed = {  # what the batch function records for a listener that failed
        "listener_arn": listeners[0].replace("shop", "gone"),
        "status": "failed",
        "error": "ListenerNotFound",
        "cause": "listener not found",
    }
    given = batch(*(item(arn, stack) for arn in listeners))
    state = backup_state("s1", {"targets": [{"account_id": ACCOUNT, "region": REGION}]})
    state.update(
        location=f"s3://{stack.bucket}/snapshots",
        map_run=map_results(
            stack, "s1", {"SUCCEEDED": [child("SUCCEEDED", given, {"results": [*results, failed]})]}
        ),
    )

    out = BackupState.model_validate(call(backup.summarise_backup, state))

    assert out.summary is not None
    assert (out.summary.listeners, out.summary.rules) == (3, 3)
    assert (out.summary.stored, out.summary.unchanged, out.summary.failed) == (2, 0, 1)
    assert out.notification is not None
    assert out.notification.subject == "albrules backup: 1 of 3 listener(s) failed"
    stored = stack.read_json("runs/s1/summary.json")
    assert stored["summary"]["failed_listeners"][0]["error"] == "ListenerNotFound"
    assert len(stored["results"]) == 3

    clean = backup_state("s2", {"targets": [{"account_id": ACCOUNT, "region": REGION}]})
    clean["map_run"] = map_results(
        stack, "s2", {"SUCCEEDED": [child("SUCCEEDED", given, {"results": results})]}
    )
    assert "notification" not in call(backup.summarise_backup, clean)


def test_summarise_backup_reads_failed_batches_and_children(stack: Stack, call: Functions) -> None:
    """A batch whose function failed as a whole ("Record the failed batch" names its listeners)
    and a child execution that failed (its input names them) count each listener as failed."""
    listeners = [shop(stack, "shop", 2), shop(stack, "api", 1)]
    [ok] = backed_up(call, item(listeners[0], stack))
    recorded = {  # what "Record the failed batch" (a Pass state) leaves
        "results": [],
        "failed_batch": {
            "listener_arns": [listeners[1]],
            "error": "Sandbox.Timedout",
            "cause": "the function timed out",
        },
    }
    lost = item(listeners[1].replace("api", "lost"), stack)
    files = {
        "SUCCEEDED": [
            child("SUCCEEDED", batch(item(listeners[0], stack)), {"results": [ok]}),
            child("SUCCEEDED", batch(item(listeners[1], stack)), recorded),
        ],
        "FAILED": [
            child(
                "FAILED", batch(lost), Error="States.Timeout", Cause="the child execution timed out"
            )
        ],
        "PENDING": [],
    }
    state = backup_state("m1", {"targets": [{"account_id": ACCOUNT, "region": REGION}]})
    state["map_run"] = map_results(stack, "m1", files)

    out = BackupState.model_validate(call(backup.summarise_backup, state))

    summary = out.summary
    assert summary is not None
    assert (summary.listeners, summary.stored, summary.failed, summary.rules) == (3, 1, 2, 2)
    failures = {f.listener_arn: f for f in summary.failed_listeners}
    assert failures[listeners[1]].error == "Sandbox.Timedout"
    assert failures[lost["listener_arn"]].error == "States.Timeout"
    assert failures[lost["listener_arn"]].cause == "the child execution timed out"
    assert stack.read_json("runs/m1/summary.json")["summary"]["failed"] == 2

    del state["map_run"]["ResultWriterDetails"]
    with pytest.raises(AlbRulesError, match="ResultWriterDetails"):
        call(backup.summarise_backup, state)


# --- restore ---------------------------------------------------------------------------------


class Restore:
    """A backed-up listener, then broken: the state documents of one restore, step by step."""

    def __init__(self, stack: Stack, call: Functions, name: str = "r1", **request: Any):
        self.stack, self.call = stack, call
        self.listener = shop(stack)
        [self.snapshot] = backed_up(call, item(self.listener, stack))
        self.good = checksum(stack, self.listener)
        break_listener(stack, self.listener)
        self.broken = checksum(stack, self.listener)
        self.key = key_of(stack, self.snapshot["location"])
        self.state: dict[str, Any] = {
            "request": {"snapshot": self.key, **request},
            "execution_arn": execution(name),
            "started_at": "2026-11-23T17:10:00+00:00",
            "settings": {"approval_timeout_seconds": 600},  # as the machine's first state sets
        }

    def step(self, handler: Callable[..., Any]) -> dict[str, Any]:
        self.state = self.call(handler, self.state)
        RestoreState.model_validate(self.state)
        return self.state

    def planned(self) -> dict[str, Any]:
        for handler in (
            restore.acquire_lock,
            restore.load_snapshot,
            restore.take_pre_restore_snapshot,
            restore.compute_plan,
        ):
            self.step(handler)
        return self.state

    def meddle(self) -> None:
        """Someone else changes a rule."""
        rule = self.stack.world.rules(self.listener)[0]
        self.stack.world.elb.modify_rule(RuleArn=rule["RuleArn"], Actions=[fixed("418")])


def test_acquire_lock_audits_and_locks_and_a_second_restore_is_locked_out(
    stack: Stack, call: Functions
) -> None:
    first = Restore(stack, call, "first", requested_by="alice", reason="bad deploy")

    state = first.step(restore.acquire_lock)

    assert state["listener_arn"] == first.listener
    assert state["snapshot_location"] == first.snapshot["location"]
    record = catalog(stack).audit(first.state["execution_arn"])
    assert record is not None and record["outcome"] == "RUNNING"
    assert (record["requested_by"], record["reason"]) == ("alice", "bad deploy")
    assert record["snapshot"] == first.snapshot["location"]
    assert catalog(stack).lock_holder(first.listener)["owner"] == execution("first")

    second = {**first.state, "execution_arn": execution("second")}
    for key in ("listener_arn", "snapshot_location"):
        second.pop(key)
    with pytest.raises(ListenerLocked, match=execution("first")):
        call(restore.acquire_lock, second)
    assert catalog(stack).lock_holder(first.listener)["owner"] == execution("first")
    # The same execution again (a retried task) keeps its lock.
    call(restore.acquire_lock, {**first.state, "listener_arn": None})


def test_acquire_lock_refuses_bad_input_with_no_lock_taken(stack: Stack, call: Functions) -> None:
    case = Restore(stack, call)
    state = case.state

    def refused(error: type[Exception], match: str, **request: Any) -> None:
        with pytest.raises(error, match=match) as raised:
            call(restore.acquire_lock, {**state, "request": {**state["request"], **request}})
        assert type(raised.value).__name__ == error.__name__  # the state machine's error name

    refused(InvalidInput, "'sideways'", mode="sideways")
    refused(InvalidInput, "selective", mode="selective")
    refused(InvalidInput, "priorit", priorities=[0])
    refused(InvalidInput, "snapshots", snapshots="typo")
    refused(RestoreRefused, "catalog id 0123456789ab", snapshot="0123456789ab")
    refused(InvalidInput, "does not exist|not found|NoSuch", snapshot="snapshots/nowhere.json")
    other = shop(stack, "other", 1)
    refused(RestoreRefused, "target_listener_arn", listener_arn=other)
    with pytest.raises(InvalidInput, match="restore state"):
        call(restore.acquire_lock, {"request": state["request"]})
    assert catalog(stack).lock_holder(case.listener) is None
    assert catalog(stack).lock_holder(other) is None


def test_load_snapshot_checks_the_target_groups(stack: Stack, call: Functions) -> None:
    case = Restore(stack, call)
    locked = case.step(restore.acquire_lock)
    assert case.step(restore.load_snapshot) == locked  # checks only: the state goes on as is

    group = stack.world.elb.describe_target_groups(Names=["shop-app"])["TargetGroups"][0]
    for rule in stack.world.rules(case.listener):  # the live rules let go of it, then it goes
        stack.world.elb.delete_rule(RuleArn=rule["RuleArn"])
    stack.world.elb.delete_target_group(TargetGroupArn=group["TargetGroupArn"])
    with pytest.raises(TargetGroupsMissing) as raised:  # an InvalidInput: refused, nothing done
        call(restore.load_snapshot, case.state)
    assert any(group["TargetGroupArn"] in str(p) for p in raised.value.problems)


def test_pre_restore_snapshot_and_plan_are_stored(stack: Stack, call: Functions) -> None:
    case = Restore(stack, call, "p1")
    case.step(restore.acquire_lock)

    state = case.step(restore.take_pre_restore_snapshot)
    pre_key = key_of(stack, state["pre_restore_location"])
    assert pre_key.startswith("pre-restore/p1/")
    assert stack.read_json(pre_key)["checksum"] == case.broken

    state = case.step(restore.compute_plan)
    assert key_of(stack, state["plan_location"]) == "plans/p1.json"
    assert state["changes"] == state["plan"]["changes"] == 4
    assert (state["plan"]["creates"], state["plan"]["modifies"]) == (2, 1)
    assert state["plan"]["deletes"] == 1 and len(state["plan"]["operations"]) == 4
    plan = stack.read_json("plans/p1.json")
    assert plan["base_checksum"] == case.broken
    assert plan["public"]["changes"] == 4
    assert checksum(stack, case.listener) == case.broken  # planning changes nothing


def test_compute_plan_refuses_a_listener_changed_since_its_pre_restore_snapshot(
    stack: Stack, call: Functions
) -> None:
    case = Restore(stack, call)
    for handler in (restore.acquire_lock, restore.load_snapshot, restore.take_pre_restore_snapshot):
        case.step(handler)
    case.meddle()
    with pytest.raises(ListenerChanged, match="changed after its pre-restore snapshot"):
        call(restore.compute_plan, case.state)
    assert "plans/r1.json" not in stack.keys("plans/")


def test_apply_plan_restores_and_verify_agrees(stack: Stack, call: Functions) -> None:
    case = Restore(stack, call)
    case.planned()

    state = case.step(restore.apply_plan)

    assert state["applied"] == 4
    assert checksum(stack, case.listener) == case.good
    journal = stack.read_json(key_of(stack, state["journal_location"]))
    assert len(journal) >= 4 and {entry["phase"] for entry in journal} == {"restore"}
    assert case.step(restore.verify_listener) == state


def test_apply_plan_after_someone_changed_the_listener_changes_nothing(
    stack: Stack, call: Functions, calls: Calls
) -> None:
    case = Restore(stack, call)
    case.planned()
    case.meddle()
    meddled = checksum(stack, case.listener)
    calls.clear()

    with pytest.raises(ListenerChanged, match="nothing was changed"):
        call(restore.apply_plan, case.state)

    assert calls.mutating == []
    assert checksum(stack, case.listener) == meddled
    assert not [k for k in stack.keys("pre-restore/r1/") if k.endswith("journal.json")]


def test_verify_listener_fails_on_any_difference(stack: Stack, call: Functions) -> None:
    case = Restore(stack, call)
    case.planned()
    case.step(restore.apply_plan)
    case.meddle()
    with pytest.raises(VerifyFailed):
        call(restore.verify_listener, case.state)


def test_roll_back_returns_to_the_pre_restore_snapshot(stack: Stack, call: Functions) -> None:
    case = Restore(stack, call)
    case.planned()
    case.step(restore.apply_plan)
    assert checksum(stack, case.listener) == case.good

    state = case.step(restore.roll_back)

    assert state["phase"] == "rollback"
    assert checksum(stack, case.listener) == case.broken
    journal = stack.read_json(key_of(stack, state["journal_location"]))
    assert {entry["phase"] for entry in journal} == {"restore", "rollback"}
    assert case.step(restore.verify_listener) == state  # phase rollback: against pre-restore
    with pytest.raises(VerifyFailed):  # ...which the snapshot's state is not
        call(restore.verify_listener, {**state, "phase": "restore"})


def test_roll_back_that_cannot_finish_raises_rollback_failed(stack: Stack, call: Functions) -> None:
    case = Restore(stack, call)
    case.planned()
    case.step(restore.apply_plan)
    faults.inject("DeleteRule", nth=1, times=0, **BAD_REQUEST)

    with pytest.raises(RollbackFailed) as raised:
        call(restore.roll_back, case.state)

    assert case.state["pre_restore_location"] in str(raised.value)
    assert raised.value.differences
    assert checksum(stack, case.listener) != case.broken  # not back: the deletes were refused


def test_release_lock_releases_only_its_owners_lock(stack: Stack, call: Functions) -> None:
    case = Restore(stack, call, "owner")
    case.planned()
    other = {**case.state, "execution_arn": execution("intruder"), "outcome": "REFUSED"}

    out = RestoreState.model_validate(call(restore.release_lock, other))

    assert out.outcome == "REFUSED" and out.notification is not None
    assert catalog(stack).lock_holder(case.listener)["owner"] == execution("owner")
    assert catalog(stack).audit(execution("intruder"))["lock_released"] is False

    state = case.step(restore.release_lock)

    assert state["outcome"] == "RESTORED"
    assert catalog(stack).lock_holder(case.listener) is None
    record = catalog(stack).audit(execution("owner"))
    assert (record["outcome"], record["lock_released"], record["changes"]) == ("RESTORED", True, 4)
    assert record["requested_by"] == "not given in the input"  # kept from acquire_lock
    assert "succeeded (4 rule change(s))" in state["notification"]["subject"]


def test_request_approval_records_the_token_and_sends_signed_links(
    stack: Stack, call: Functions
) -> None:
    queue = subscribe(stack)
    case = Restore(stack, call, "a1", require_approval=True, requested_by="alice")
    case.planned()

    answer = call(restore.request_approval, {"state": case.state, "task_token": "TOKEN-1"})

    record = catalog(stack).approval(execution("a1"))
    assert record is not None and record["task_token"] == "TOKEN-1"
    assert record["status"] == "pending" and record["expires_at"] == answer["expires_at"]
    assert answer["expires_at"] - time.time() == pytest.approx(600, abs=30)  # the stack's TTL
    message = received(stack, queue)[0]
    assert message["Subject"].startswith("albrules: approve restore of shop listener")
    links = dict(
        line.split(": ", 1) for line in message["Message"].splitlines() if ": https://" in line
    )
    key = signing_key(stack)
    for decision in ("approve", "reject"):
        claim = approval.verify_token(key, links[decision.capitalize()].split("?token=", 1)[1])
        assert (claim.execution_arn, claim.decision) == (execution("a1"), decision)
        assert claim.nonce == record["nonce"]

    with pytest.raises(AlbRulesError, match="without a task token"):
        call(restore.request_approval, {"state": case.state})


# --- the approval function -------------------------------------------------------------------


def url_event(method: str, token: str, **fields: str) -> dict[str, Any]:
    return function_url_event(method, token, "192.0.2.7", **fields)


def test_approval_function_pages_and_the_decision_function_decides(
    stack: Stack, call: Functions
) -> None:
    """A real waiting task token: a one-state machine runs the deployed RequestApproval
    function with ``.waitForTaskToken``; the approval handler (review only) and the decision
    handler (the IAM caller decides) are then called directly."""
    case = Restore(stack, call, "a2", require_approval=True)
    case.planned()
    restore_machine = stack.sfn.describe_state_machine(
        stateMachineArn=stack.outputs["RestoreStateMachineArn"]
    )
    function = call.config("RequestApprovalFunction")["FunctionArn"]
    definition = {
        "StartAt": "Wait for approval",
        "States": {
            "Wait for approval": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": function,
                    "Payload": {"state.$": "$", "task_token.$": "$$.Task.Token"},
                },
                "End": True,
            }
        },
    }
    machine = stack.sfn.create_state_machine(
        name="wait-for-approval",
        definition=json.dumps(definition),
        roleArn=restore_machine["roleArn"],
    )["stateMachineArn"]
    waiting = stack.sfn.start_execution(stateMachineArn=machine, input=json.dumps(case.state))
    deadline = time.monotonic() + 20
    while (catalog(stack).approval(execution("a2")) or {}).get("status") != "pending":
        assert time.monotonic() < deadline, "the approval was never requested"
        time.sleep(0.05)
    nonce = catalog(stack).approval(execution("a2"))["nonce"]
    key = signing_key(stack)
    expires = int(time.time()) + 600
    token = approval.sign(key, approval.LinkClaim(execution("a2"), "approve", nonce, expires))

    page = call(approval_handler.handle, url_event("GET", token))
    assert page["statusCode"] == 200 and "<form" not in page["body"]
    assert f"albrules approve {execution('a2')}" in page["body"]
    assert page["headers"]["Cache-Control"] == "no-store"
    assert catalog(stack).approval(execution("a2"))["status"] == "pending"  # GET decides nothing

    forged = approval.sign(
        b"not the key", approval.LinkClaim(execution("a2"), "approve", nonce, expires)
    )
    assert call(approval_handler.handle, url_event("GET", forged))["statusCode"] == 403
    stale = approval.sign(key, approval.LinkClaim(execution("a2"), "approve", nonce, 1))
    expired = call(approval_handler.handle, url_event("GET", stale))
    assert expired["statusCode"] == 403 and "expired" in expired["body"]
    old = approval.sign(key, approval.LinkClaim(execution("a2"), "approve", "old-nonce", expires))
    assert call(approval_handler.handle, url_event("GET", old))["statusCode"] == 409
    posted = call(approval_handler.handle, url_event("POST", token))  # the page decides nothing
    assert posted["statusCode"] == 405 and "albrules approve" in posted["body"]
    assert catalog(stack).approval(execution("a2"))["status"] == "pending"

    bob = "arn:aws:iam::123456789012:user/bob"
    unsigned = call(decision_handler.handle, decision_event(execution("a2"), "approve", None))
    assert unsigned["statusCode"] == 403
    forged_body = decision_event(execution("a2"), "approve", bob, by="arn:aws:iam::1:user/x")
    decided = json.loads(call(decision_handler.handle, forged_body)["body"])
    assert (decided["decision"], decided["by"]) == ("approved", bob)  # never the body's "by"
    record = catalog(stack).approval(execution("a2"))
    assert (record["status"], record["decided_by"], record["delivered"]) == ("approved", bob, True)
    deadline = time.monotonic() + 20
    while (
        status := stack.sfn.describe_execution(executionArn=waiting["executionArn"])["status"]
    ) == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status == "SUCCEEDED"
    output = json.loads(
        stack.sfn.describe_execution(executionArn=waiting["executionArn"])["output"]
    )
    assert output["decision"] == "approved"

    reused = call(approval_handler.handle, url_event("GET", token))
    assert reused["statusCode"] == 409 and "already approved" in reused["body"]
    again = call(decision_handler.handle, decision_event(execution("a2"), "approve", bob))
    assert again["statusCode"] == 409 and "already approved" in again["body"]


def decision_event(
    execution_arn: str, decision: str, caller: str | None, **extra: str
) -> dict[str, Any]:
    """What the DecisionFunction URL hands the function: the JSON body, and the IAM caller
    Lambda authenticated (``None``: no authorizer context)."""
    event = url_event_for_json({"execution_arn": execution_arn, "decision": decision, **extra})
    if caller is not None:
        event["requestContext"]["authorizer"] = {
            "iam": {"accessKey": "AKIA0", "accountId": ACCOUNT, "callerId": "AIDA0",
                    "userArn": caller, "userId": "AIDA0"}
        }  # fmt: skip
    return event


def url_event_for_json(body: dict[str, Any]) -> dict[str, Any]:
    from albrules.local.function_urls import url_event as build

    return build(
        method="POST",
        raw_path="/",
        raw_query="",
        headers=[("content-type", "application/json")],
        body=json.dumps(body).encode(),
        source_ip="192.0.2.7",
        domain_name="decisions.lambda-url.us-east-1.on.aws",
    )


# --- helpers ---------------------------------------------------------------------------------


def signing_key(stack: Stack) -> bytes:
    arn = stack.deployment.physical_id("ApprovalSigningSecret")
    secret = stack.session.client("secretsmanager").get_secret_value(SecretId=arn)
    return str(secret["SecretString"]).encode()


def test_a_batch_reuses_a_fresh_description_from_discovery_and_reads_a_stale_one_again(
    stack: Stack, call: Functions, calls: Calls
) -> None:
    listener = shop(stack, "shop", 2)
    live = stack.world.elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]
    wrong = {**live, "DefaultActions": [fixed("418")]}  # what a stale description could hold
    old = (datetime.now(UTC) - timedelta(seconds=backup_task.DESCRIPTION_MAX_AGE + 60)).isoformat()

    calls.clear()
    [stale] = backed_up(call, item(listener, stack, description=wrong, described_at=old))

    made = calls.of("elasticloadbalancing")
    assert made == [
        "DescribeListeners",
        "DescribeRules",
        "DescribeListenerAttributes",
        "DescribeTags",
        "DescribeLoadBalancers",  # the scheme and type (format 2)
    ]
    document = stack.read_json(key_of(stack, stale["location"]))
    assert document["default_actions"][0]["FixedResponseConfig"]["StatusCode"] == "404"

    now = datetime.now(UTC).isoformat()
    calls.clear()
    backed_up(call, item(listener, stack, description=live, described_at=now))
    assert calls.of("elasticloadbalancing") == [  # the description reused
        "DescribeRules",
        "DescribeListenerAttributes",
        "DescribeTags",
        "DescribeLoadBalancers",
    ]


def test_every_describe_call_of_a_backup_goes_through_its_token_bucket(
    stack: Stack, call: Functions, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    listeners = [shop(stack, "shop", 2), shop(stack, "api", 3)]
    taken: list[tuple[float, float]] = []
    take = TokenBucket.take

    def counted(self: TokenBucket) -> float:
        taken.append((self.rate, self.capacity))
        return take(self)

    monkeypatch.setattr(TokenBucket, "take", counted)
    calls.clear()
    state = backup_state("d9", {"targets": [{"account_id": ACCOUNT, "region": REGION}]})
    out = BackupState.model_validate(call(backup.discover_listeners, state))
    discovered = len(calls.of("elasticloadbalancing"))
    assert discovered == 3 and len(taken) == 3  # DescribeLoadBalancers, 2 DescribeListeners
    assert set(taken) == {(5.0, 20.0)}  # the whole DescribeCallsPerSecond (template default)
    items = stack.read_json(out.items.key if out.items else "")
    assert {i["describe_calls_per_second"] for i in items} == {5.0}  # one batch: all of it

    taken.clear()
    backed_up(call, *items)
    made = calls.of("elasticloadbalancing")[discovered:]
    assert made == [
        "DescribeRules",
        "DescribeListenerAttributes",
        "DescribeRules",
        "DescribeListenerAttributes",
        "DescribeTags",
        "DescribeLoadBalancers",
    ]
    assert len(taken) == len(made)
    assert sorted(i["listener_arn"] for i in items) == sorted(listeners)
