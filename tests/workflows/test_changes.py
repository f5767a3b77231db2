"""Change-triggered backups on the deployed stack: a CloudTrail event of a listener change, on
the default bus (this account's CloudTrail) or on the changes bus (a member account's rule
forwards it), becomes a catalog version with trigger ``change``, its events and who made them,
within the settle time; the NotifyOnChange message; the backup's and restore's own triggers.

The event is put on the bus as CloudTrail's delivery to EventBridge would put it (the local
AWS's own ELBv2 events come with the "trail" part of issue 12)."""

from __future__ import annotations

import json
import time
from typing import Any

from albrules.catalog import Catalog
from albrules.local import cloudtrail
from albrules.versions import Version
from change_events import ACCOUNT, REGION, cloudtrail_event, rule_of, user
from rule_builders import fixed
from security.people import arn_of, person
from stack import Stack, break_listener, checksum, received, shop, subscribe


def listening(stack: Stack) -> None:
    """The change rules on (the session stack keeps them off between tests, tests/stack.py),
    once the CloudTrail events of the test's set-up have been delivered: from here on, the
    changes the test makes are backed up."""
    assert cloudtrail.drain(10)
    stack.change_rules(True)


def deliver(stack: Stack, event: dict[str, Any], bus: str = "default") -> None:
    """EventBridge receives a CloudTrail event (only AWS services may put aws.* sources, so
    the test puts it on the local AWS's bus as the service would, not through PutEvents)."""
    from moto.events.models import events_backends

    events_backends[ACCOUNT][REGION].put_events(
        [
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "Resources": event["resources"],
                "EventBusName": bus,
            }
        ]
    )


def versions(stack: Stack, listener: str, count: int = 1, timeout: float = 30) -> list[Version]:
    catalog = Catalog(stack.world.aws, stack.table)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = catalog.history(listener)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no version of {listener} within {timeout} s")


def runs_for(stack: Stack, listener: str) -> list[str]:
    """The change machine's executions that settle ``listener``."""
    machine = stack.outputs["ChangeBackupStateMachineArn"]
    runs = stack.sfn.list_executions(stateMachineArn=machine)["executions"]
    return [
        run["executionArn"]
        for run in runs
        if listener in stack.sfn.describe_execution(executionArn=run["executionArn"])["input"]
    ]


def test_a_change_becomes_a_version_with_its_event_within_the_settle_time(stack: Stack) -> None:
    listener = shop(stack)
    rule = stack.world.rules(listener)[0]["RuleArn"]
    stack.world.elb.modify_rule(RuleArn=rule, Actions=[fixed("503")])
    listening(stack)
    event = cloudtrail_event("ModifyRule", {"ruleArn": rule}, identity=user("alice"))
    started = time.monotonic()

    deliver(stack, event)

    [version] = versions(stack, listener)
    assert time.monotonic() - started < 30
    assert version.trigger == "change"
    assert [(e.id, e.name) for e in version.events] == [(event["detail"]["eventID"], "ModifyRule")]
    assert version.changed_by == [f"arn:aws:iam::{ACCOUNT}:user/alice"]
    stored = stack.read_json(version.location.removeprefix(f"s3://{stack.bucket}/"))
    assert {r["priority"]: r["actions"][0]["Type"] for r in stored["rules"]}[10] == "fixed-response"
    [run] = runs_for(stack, listener)
    assert stack.finish("backup", run).status == "SUCCEEDED"


def test_a_failed_call_starts_nothing(stack: Stack) -> None:
    listener = shop(stack)
    listening(stack)
    deliver(stack, cloudtrail_event("DeleteRule", {"ruleArn": rule_of(listener)}, error="x"))
    time.sleep(1)
    assert runs_for(stack, listener) == []
    assert Catalog(stack.world.aws, stack.table).pending_changes(listener) is None


def test_a_change_forwarded_to_the_changes_bus_is_backed_up(stack: Stack) -> None:
    listener = shop(stack)
    listening(stack)
    bus = stack.outputs["ChangesEventBusArn"].rsplit("/", 1)[-1]
    deliver(stack, cloudtrail_event("ModifyListener", {"listenerArn": listener}), bus=bus)
    [version] = versions(stack, listener)
    assert version.trigger == "change" and version.events[0].name == "ModifyListener"


def test_notify_on_change_names_the_listener_who_and_the_rules_changed(stack: Stack) -> None:
    lam = stack.session.client("lambda")
    name = stack.deployment.physical_id("BackUpChangedListenerFunction")
    environment = lam.get_function_configuration(FunctionName=name)["Environment"]
    environment["Variables"]["ALBRULES_NOTIFY_ON_CHANGE"] = "true"
    lam.update_function_configuration(FunctionName=name, Environment=environment)
    queue = subscribe(stack)
    listener = shop(stack)
    listening(stack)
    deliver(stack, cloudtrail_event("ModifyListener", {"listenerArn": listener}))
    versions(stack, listener)
    received(stack, queue)  # the first snapshot's message: nothing to compare with yet
    stack.change_rules(False)  # the rule below is made by "mallory" (the event delivered)
    stack.world.rule(listener, 99, [{"Field": "path-pattern", "Values": ["/rogue/*"]}])
    listening(stack)
    event = cloudtrail_event(
        "CreateRule", {"listenerArn": listener}, identity=user("mallory")
    )

    deliver(stack, event)

    versions(stack, listener, count=2)
    [message] = received(stack, queue, timeout=30)
    assert "shop" in message["Subject"] and "changed" in message["Subject"]
    body = message["Message"]
    assert f"arn:aws:iam::{ACCOUNT}:user/mallory" in body and listener in body
    assert "added priority 99 (path-pattern=/rogue/*)" in body
    assert event["detail"]["eventID"] in body


def test_a_backup_started_by_a_person_records_manual_versions(stack: Stack) -> None:
    listener = shop(stack)
    outcome = stack.run("backup", stack.backup_targets())
    assert outcome.status == "SUCCEEDED"
    [version] = Catalog(stack.world.aws, stack.table).history(listener)
    assert version.trigger == "manual" and version.execution_arn == outcome.execution_arn


def test_a_restores_pre_restore_snapshot_is_a_version_of_the_listener(stack: Stack) -> None:
    listener = shop(stack)
    assert stack.run("backup", stack.backup_targets()).status == "SUCCEEDED"
    [backup] = Catalog(stack.world.aws, stack.table).history(listener)
    break_listener(stack, listener)
    broken = checksum(stack, listener)

    result = stack.run("restore", {"snapshot": str(backup.location)})

    assert result.status == "SUCCEEDED", result.cause
    newest = Catalog(stack.world.aws, stack.table).history(listener)[0]
    assert newest.trigger == "pre-restore" and newest.execution_arn == result.execution_arn
    assert newest.checksum == broken
    assert newest.location and "/pre-restore/" in newest.location


# End to end: a person's boto3 call, the local AWS's CloudTrail event on the default bus, the
# note, the machine, the catalog.
def test_another_users_change_is_in_the_history_within_a_minute_with_their_arn(
    stack: Stack,
) -> None:
    listener = shop(stack)
    dana = person(stack, "dana")
    rule = stack.world.rules(listener)[0]["RuleArn"]
    listening(stack)
    started = time.monotonic()

    dana.client("elbv2").modify_rule(RuleArn=rule, Actions=[fixed("503")])

    catalog = Catalog(stack.world.aws, stack.table)
    while time.monotonic() - started < 60:
        hers = [v for v in catalog.history(listener) if arn_of(dana) in v.changed_by]
        if hers:
            break
        time.sleep(0.2)
    assert hers, "no version with dana's change within a minute"
    assert hers[0].trigger == "change"
    assert [e.name for e in hers[0].events if e.by == arn_of(dana)] == ["ModifyRule"]
