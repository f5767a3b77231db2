"""Every sample in events/ run for real: the SAM application deployed into the local AWS, the
load balancers ``albrules local seed`` creates (``shop-web``, ``shop-api``), and each sample with
only its account-specific values (listener ARN, snapshot reference, approval token) replaced by
the real ones. Each test asserts on what the run left: listeners, objects, catalog, history.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from albrules import approval, workflows
from albrules.aws import Aws
from albrules.catalog import Catalog
from albrules.local import seed as seeding
from albrules.moments import moment_of
from albrules.snapshot import build_snapshot
from albrules.state_documents import BackupRequest, RestoreRequest, dump, parse
from albrules.versions import ChangeEvent, Version
from local_world import REGION
from stack import ROOT, Stack, deployed_stack, received, subscribe

EVENTS = ROOT / "events"
EXAMPLE_LISTENER = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop-web/"
    "50dc6c495c0c9188/f2f7dc8efc522ab2"
)
MODELS = {
    "backup.json": BackupRequest,
    "schedule.json": BackupRequest,
    "restore.json": RestoreRequest,
    "restore-dry-run.json": RestoreRequest,
    "restore-selective.json": RestoreRequest,
    "restore-approval.json": RestoreRequest,
    "restore-at.json": RestoreRequest,
    "restore-before-change.json": RestoreRequest,
}

COVERED: set[str] = set()


def runs(*names: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a test as the one that runs these samples (checked against the directory)."""

    def mark(fn: Callable[..., None]) -> Callable[..., None]:
        COVERED.update(names)
        return fn

    return mark


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


# --- the world the samples name ---------------------------------------------------------------


class Shop:
    """``albrules local seed`` in the deployed stack's account: shop-web and shop-api."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.arns = seeding.seed(stack.session)
        self.web = self.listener("shop-web:80")

    def listener(self, name: str) -> str:
        return str(self.arns["listeners"][name]["arn"])

    def checksum(self, listener: str | None = None) -> str:
        return build_snapshot(self.stack.world.state(listener or self.web)).checksum

    def rules(self, listener: str | None = None) -> dict[int, dict[str, Any]]:
        state = self.stack.world.state(listener or self.web)
        return {r.priority: r.model_dump(mode="json", exclude={"arn"}) for r in state.rules}

    def back_up(self) -> dict[str, Any]:
        """Run the backup sample (what a restore sample needs first); its summary."""
        result = self.stack.run("backup", sample("backup.json"))
        assert result.status == "SUCCEEDED", result.cause
        return result.output

    def back_up_web(self) -> None:
        """A snapshot of shop-web:80 by the deployed SnapshotListenersFunction (what a backup
        run does for each listener; quicker than a whole run, which the backup tests cover)."""
        given = {  # a child execution's input, as the backup Map's ItemBatcher makes it
            "Items": [
                {
                    "listener_arn": self.web,
                    "account_id": "123456789012",
                    "region": REGION,
                    "location": f"s3://{self.stack.bucket}/snapshots",
                    "execution_arn": f"arn:aws:states:{REGION}:123456789012:execution:b:x",
                }
            ]
        }
        response = self.stack.session.client("lambda").invoke(
            FunctionName=self.stack.deployment.physical_id("SnapshotListenersFunction"),
            Payload=json.dumps(given).encode(),
        )
        assert "FunctionError" not in response, response["Payload"].read()
        [result] = json.loads(response["Payload"].read())["results"]
        assert result["status"] == "stored"

    def snapshot_key(self, listener: str | None = None) -> str:
        listener_id = (listener or self.web).rsplit("/", 1)[-1]
        keys = [k for k in self.stack.keys("snapshots/") if f"/{listener_id}/" in k]
        assert len(keys) == 1, keys
        return keys[0]

    def break_web(self) -> list[str]:
        """The demo's bad deploy on shop-web:80: deletes 10, 40, 80; 503s at 20 and 50; swaps
        1 and 5; untags 30."""
        return seeding.break_listener(self.stack.session, self.web)

    def catalog(self) -> Catalog:
        return Catalog(Aws(self.stack.session), self.stack.table)

    def audit(self, execution_arn: str) -> dict[str, Any]:
        record = self.catalog().audit(execution_arn)
        assert record is not None
        return record


@pytest.fixture
def shop(stack: Stack) -> Shop:
    return Shop(stack)


def with_listener(payload: dict[str, Any], shop: Shop, snapshot: str) -> dict[str, Any]:
    """The sample with its account-specific values replaced: the listener and the snapshot."""
    assert payload.get("listener_arn", EXAMPLE_LISTENER) == EXAMPLE_LISTENER
    replaced = {**payload, "snapshot": snapshot}
    if "listener_arn" in payload:
        replaced["listener_arn"] = shop.web
    return replaced


def state_names(stack: Stack, execution_arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in stack.history(execution_arn)
        if "stateEnteredEventDetails" in e
    ]


# --- the samples as they are -------------------------------------------------------------------


def test_every_sample_is_run_by_a_test_and_valid_as_it_is() -> None:
    files = sorted(p.name for p in EVENTS.iterdir() if p.is_file() and p.name != "README.md")
    assert sorted(COVERED) == files, "a sample in events/ has no test that runs it (use @runs)"
    readme = (EVENTS / "README.md").read_text()
    for name in files:
        assert f"`{name}`" in readme, f"events/README.md does not describe {name}"
    for name, model in MODELS.items():
        parse(model, sample(name), name)  # unmodified
        kind = "backup" if model is BackupRequest else "restore"
        # what `albrules run KIND --input FILE` reads and starts
        assert workflows.load_input(EVENTS / name, kind) == dump(parse(model, sample(name), name))
    assert set(MODELS) | {"approval-request.json"} == set(files)


def test_the_approval_request_sample_is_a_function_url_event() -> None:
    event = sample("approval-request.json")
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["requestContext"]["http"]["method"] == "GET"
    token = event["queryStringParameters"]["token"]
    assert event["rawQueryString"] == urlencode({"token": token})
    body, _, _mac = token.partition(".")
    claim = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert set(claim) == {"e", "d", "n", "x"} and claim["d"] == "approve"
    assert claim["e"].startswith("arn:aws:states:us-east-1:123456789012:execution:")
    with pytest.raises(Exception, match="not valid"):  # a placeholder: no real key signed it
        approval.verify_token(b"any key", token, now=0)


# --- backup ------------------------------------------------------------------------------------


@runs("backup.json")
def test_backup_sample_backs_up_both_shop_load_balancers(stack: Stack, shop: Shop) -> None:
    world = stack.world
    other = world.listener(world.load_balancer("other"))  # not named by the sample
    summary = shop.back_up()

    assert summary["listeners"] == 4 and summary["rules"] == 33
    assert (summary["stored"], summary["failed"]) == (4, 0)
    for name in ("shop-web:80", "shop-web:8080", "shop-api:80", "shop-api:9000"):
        listener = shop.listener(name)
        key = shop.snapshot_key(listener)
        assert key.startswith(f"snapshots/123456789012/{REGION}/{name.split(':')[0]}/")
        document = stack.read_json(key)
        assert document["checksum"] == shop.checksum(listener)
        assert stack.item(f"SNAPSHOT#{document['checksum'][:12]}", "SNAPSHOT") is not None
    assert not [k for k in stack.keys("snapshots/") if other.rsplit("/", 1)[-1] in k]


def scheduled_stack(backup_targets: str) -> Iterator[Stack]:
    """template.yaml deployed with the BackupTargets parameter set (as `sam deploy` would)."""
    yield from deployed_stack({"BackupTargets": backup_targets})


@runs("schedule.json")
def test_schedule_sample_is_what_the_scheduler_starts() -> None:
    one_line = json.dumps(sample("schedule.json"))  # e.g. `jq -c . events/schedule.json`
    for stack in scheduled_stack(one_line):
        scheduler = stack.session.client("scheduler")
        schedule = scheduler.get_schedule(
            Name=stack.deployment.physical_id("BackupStateMachineSchedule")
        )
        assert schedule["State"] == "ENABLED"  # enabled once BackupTargets names something
        assert schedule["Target"]["Arn"] == stack.outputs["BackupStateMachineArn"]
        assert json.loads(schedule["Target"]["Input"]) == sample("schedule.json")

        shop = Shop(stack)
        world = stack.world
        other = world.listener(world.load_balancer("other"))  # untagged: not backed up
        balancers = list(shop.arns["load_balancers"].values())
        world.elb.add_tags(ResourceArns=balancers, Tags=[{"Key": "app", "Value": "shop"}])

        # What EventBridge Scheduler does when the schedule fires: StartExecution with Input.
        execution = workflows.start(
            stack.sfn, schedule["Target"]["Arn"], json.loads(schedule["Target"]["Input"])
        )
        result = stack.finish("backup", execution)

        assert result.status == "SUCCEEDED", result.cause
        # The tagged target: the 4 shop listeners. The member account (moto's AssumeRole into
        # 210987654321 works and gives an empty account): reached, nothing in it, no failure.
        assert result.output["listeners"] == 4 and result.output["stored"] == 4
        assert result.output["discovery_failures"] == []
        name = execution.rsplit(":", 1)[-1]
        listed = stack.read_json(f"runs/{name}/listeners.json")
        assert {item["account_id"] for item in listed} == {"123456789012"}
        assert other not in {item["listener_arn"] for item in listed}
        assert len(stack.keys("snapshots/123456789012/")) == 4


# --- restore -----------------------------------------------------------------------------------


@runs("restore.json")
def test_restore_sample_puts_shop_web_back(stack: Stack, shop: Shop) -> None:
    shop.back_up_web()
    before = shop.rules()
    shop.break_web()
    broken = shop.checksum()
    payload = with_listener(sample("restore.json"), shop, shop.snapshot_key())

    result = stack.run("restore", payload)

    assert result.status == "SUCCEEDED", result.cause
    assert shop.rules() == before
    record = shop.audit(result.execution_arn)
    assert record["outcome"] == "RESTORED" and record["lock_released"] is True
    assert record["requested_by"] == "alice@example.com"
    assert record["reason"] == sample("restore.json")["reason"]
    pre = stack.read_json(record["pre_restore_location"].split(f"{stack.bucket}/", 1)[1])
    assert pre["checksum"] == broken
    assert shop.catalog().lock_holder(shop.web) is None


@runs("restore-dry-run.json")
def test_dry_run_sample_plans_by_catalog_id_and_changes_nothing(stack: Stack, shop: Shop) -> None:
    shop.back_up_web()
    key = shop.snapshot_key()
    catalog_id = stack.read_json(key)["checksum"][:12]
    shop.break_web()
    broken = shop.checksum()
    payload = {**sample("restore-dry-run.json"), "snapshot": catalog_id}

    result = stack.run("restore", payload)

    assert result.status == "SUCCEEDED", result.cause
    assert shop.checksum() == broken
    names = state_names(stack, result.execution_arn)
    assert "Dry run: the plan is ready" in names and "Apply the plan" not in names
    assert result.output["snapshot_location"] == f"s3://{stack.bucket}/{key}"
    plan = stack.read_json(f"plans/{result.execution_arn.rsplit(':', 1)[-1]}.json")
    assert plan["public"]["changes"] == result.output["plan"]["changes"] > 0
    assert shop.audit(result.execution_arn)["outcome"] == "DRY_RUN"


@runs("restore-selective.json")
def test_selective_sample_restores_only_the_chosen_rules(stack: Stack, shop: Shop) -> None:
    shop.back_up_web()
    before = shop.rules()
    shop.break_web()
    broken = shop.rules()
    payload = with_listener(sample("restore-selective.json"), shop, shop.snapshot_key())

    result = stack.run("restore", payload)

    assert result.status == "SUCCEEDED", result.cause
    after = shop.rules()
    chosen = {10, 20, 40}  # priorities 10 and 20, and the rule matching path-pattern=/img/*
    for priority in chosen:
        assert after[priority] == before[priority]
    assert {p: r for p, r in after.items() if p not in chosen} == {
        p: r for p, r in broken.items() if p not in chosen
    }  # 1 and 5 still swapped, 50 still a 503, 80 still gone
    assert 80 not in after and after[50] != before[50]


@runs("restore-approval.json", "approval-request.json")
def test_approval_samples_wait_then_the_decision_function_approves(
    stack: Stack, shop: Shop
) -> None:
    shop.back_up_web()
    before = shop.rules()
    shop.break_web()
    broken = shop.checksum()
    queue = subscribe(stack)
    payload = with_listener(sample("restore-approval.json"), shop, shop.snapshot_key())

    execution = stack.start("restore", payload)
    wait_for_pending(shop, execution)
    message = received(stack, queue)[0]
    assert "Requested by (as given by the requester): alice@example.com" in message["Message"]
    assert f"Reason: {payload['reason']}" in message["Message"]
    link = next(
        line.split(": ", 1)[1]
        for line in message["Message"].splitlines()
        if line.startswith("Approve: ")
    )
    token = link.split("?token=", 1)[1]

    # The sample as it is: a placeholder token, refused, nothing done.
    as_is = invoke_approval(stack, sample("approval-request.json"))
    assert as_is["statusCode"] == 403 and "not valid" in as_is["body"]

    # The sample with the real token: the review page, no decision.
    event = sample("approval-request.json")
    event["queryStringParameters"]["token"] = token
    event["rawQueryString"] = urlencode({"token": token})
    page = invoke_approval(stack, event)
    assert page["statusCode"] == 200 and f"albrules approve {execution}" in page["body"]
    assert "Approve this restore?" in page["body"] and execution in page["body"]

    # A POST to the page (an old page's button): it decides nothing.
    post = json.loads(json.dumps(event))
    post["requestContext"]["http"]["method"] = "POST"
    post["headers"]["content-type"] = "application/x-www-form-urlencoded"
    post["body"] = base64.b64encode(urlencode({"token": token}).encode()).decode()
    post["isBase64Encoded"] = True
    assert invoke_approval(stack, post)["statusCode"] == 405
    assert shop.catalog().approval(execution)["status"] == "pending"
    assert stack.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert shop.checksum() == broken

    # The decision: the DecisionFunction, as its AWS_IAM URL hands it a signed caller's request.
    decision = json.loads(json.dumps(event))
    decision["requestContext"]["http"]["method"] = "POST"
    decision["requestContext"]["authorizer"] = {
        "iam": {"accessKey": "AKIA0", "accountId": "123456789012", "callerId": "AIDA0",
                "userArn": "arn:aws:iam::123456789012:user/bob", "userId": "AIDA0"}
    }  # fmt: skip
    decision["headers"]["content-type"] = "application/json"
    decision["body"] = json.dumps({"execution_arn": execution, "decision": "approve"})
    decision["isBase64Encoded"] = False
    decided = invoke_approval(stack, decision, "DecisionFunction")
    assert decided["statusCode"] == 200, decided

    result = stack.finish("restore", execution)
    assert result.status == "SUCCEEDED", result.cause
    assert shop.rules() == before
    record = shop.audit(execution)
    assert record["outcome"] == "RESTORED"
    assert record["approval"]["by"] == "arn:aws:iam::123456789012:user/bob"
    assert invoke_approval(stack, event)["statusCode"] == 409  # the link says it was decided


# --- point in time (issue 12: history) ----------------------------------------------------------


def two_versions(shop: Shop) -> tuple[Version, Version, dict[int, dict[str, Any]]]:
    """A snapshot of shop-web:80 (the rules before), the demo's bad deploy, a snapshot of it a
    second later: the two versions (oldest first) and the rules of the first."""
    shop.back_up_web()
    before = shop.rules()
    time.sleep(1.1)  # CloudTrail's times are whole seconds: the change comes after the first
    shop.break_web()
    shop.back_up_web()
    newer, older = shop.catalog().history(shop.web)
    return older, newer, before


@runs("restore-at.json")
def test_restore_at_sample_restores_the_version_of_that_moment(stack: Stack, shop: Shop) -> None:
    older, newer, before = two_versions(shop)
    between = (
        moment_of(older.taken_at) + (moment_of(newer.taken_at) - moment_of(older.taken_at)) / 2
    )
    payload = {**sample("restore-at.json"), "listener_arn": shop.web, "at": between.isoformat()}

    result = stack.run("restore", payload)

    assert result.status == "SUCCEEDED", result.cause
    assert shop.rules() == before
    choice = result.output["snapshot_choice"]
    assert result.output["snapshot_location"] == choice["snapshot"] == older.location
    assert choice["reason"].startswith("the latest snapshot at or before ")
    assert f"{older.location}, taken " in choice["reason"]
    assert shop.audit(result.execution_arn)["snapshot_choice"] == choice


@runs("restore-before-change.json")
def test_restore_before_change_sample_restores_the_version_before_the_event(
    stack: Stack, shop: Shop
) -> None:
    older, newer, before = two_versions(shop)
    event = ChangeEvent(
        id=sample("restore-before-change.json")["before_change"],
        name="DeleteRule",
        time=moment_of(newer.taken_at).strftime("%Y-%m-%dT%H:%M:%SZ"),
        by="arn:aws:iam::123456789012:user/bob",
    )
    # the version the change backup would have recorded for that event
    assert newer.snapshot_id and newer.location and newer.checksum and newer.rules is not None
    shop.catalog().record_snapshot(
        snapshot_id=newer.snapshot_id,
        listener_arn=shop.web,
        location=newer.location,
        checksum=newer.checksum,
        rules=newer.rules,
        created_at=newer.taken_at,
        trigger="change",
        events=[event],
    )

    result = stack.run("restore", sample("restore-before-change.json"))

    assert result.status == "SUCCEEDED", result.cause
    assert shop.rules() == before
    choice = result.output["snapshot_choice"]
    assert choice["snapshot"] == older.location and choice["before_change"] == event.id
    assert f"CloudTrail event {event.id} (DeleteRule by {event.by}" in choice["reason"]
    assert shop.audit(result.execution_arn)["listener_arn"] == shop.web


# --- helpers for the approval flow -------------------------------------------------------------


def wait_for_pending(shop: Shop, execution: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = shop.catalog().approval(execution)
        if record and record.get("status") == "pending":
            return
        status = shop.stack.sfn.describe_execution(executionArn=execution)["status"]
        assert status == "RUNNING", status
        time.sleep(0.05)
    raise AssertionError("the restore never asked for approval")


def invoke_approval(
    stack: Stack, event: dict[str, Any], function: str = "ApprovalFunction"
) -> dict[str, Any]:
    """Invoke the deployed ApprovalFunction (or another function) with a function URL event."""
    response = stack.session.client("lambda").invoke(
        FunctionName=stack.deployment.physical_id(function),
        Payload=json.dumps(event).encode(),
    )
    assert "FunctionError" not in response, response["Payload"].read()
    return dict(json.loads(response["Payload"].read()))
