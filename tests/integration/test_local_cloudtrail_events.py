"""The local AWS emits what CloudTrail would (albrules.local.cloudtrail, albrules.local.events):
every ELBv2 write call, by whoever made it, is recorded and put on the caller's default event bus
as "AWS API Call via CloudTrail", failed calls with their errorCode; delivered asynchronously to
the bus's rules, to other accounts' buses only as their policies allow; and no customer can put
an ``aws.*`` event on a bus.

moto records no CloudTrail event, delivers nothing to EventBridge for an API call, forwards to
another account's bus whatever its policy says (rewriting the event's account) and accepts any
PutEvents source: these tests fail without the local AWS's layer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from albrules.local import cloudtrail, faults, lambdas
from integration.test_local_lambdas import SAM_CONFIG, SELFTEST, Lambdas
from local_world import REGION, World, key_session, role_session
from rule_builders import fixed

ACCOUNT = "123456789012"
MEMBER = "222222222222"
ELB = "elasticloadbalancing.amazonaws.com"
SUCCESSFUL_CHANGES = {
    "source": ["aws.elasticloadbalancing"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {
        "eventSource": [ELB],
        "eventName": ["CreateRule", "ModifyRule", "DeleteRule", "SetRulePriorities"],
        "errorCode": [{"exists": False}],
    },
}
EVERY_ELB_CALL = {"source": ["aws.elasticloadbalancing"], "detail": {"eventSource": [ELB]}}


@pytest.fixture
def session() -> Iterator[boto3.Session]:
    lambdas.clear_hooks()
    with mock_aws(config=SAM_CONFIG):
        yield boto3.Session(region_name=REGION)
        assert cloudtrail.drain(10)
    lambdas.clear_hooks()


def user(session: boto3.Session, name: str) -> boto3.Session:
    iam = session.client("iam")
    iam.create_user(UserName=name)
    return key_session(iam, name)


def queue_rule(session: boto3.Session, name: str, pattern: dict[str, Any]) -> str:
    """A rule on the default bus whose target is a new SQS queue; the queue's URL."""
    sqs, events = session.client("sqs"), session.client("events")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])
    return str(url)


def received(session: boto3.Session, url: str) -> list[dict[str, Any]]:
    """Every event the queue holds, once the queued deliveries are done."""
    assert cloudtrail.drain(10)
    sqs = session.client("sqs")
    found: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return found
        found += [json.loads(m["Body"]) for m in batch]
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def a_listener(session: boto3.Session) -> tuple[World, str]:
    """A load balancer and its listener, their own events delivered (to no rule yet): as on
    AWS, an event is matched against the rules there are when it is delivered, so a rule
    made next must not see them (a loaded machine delivered CreateListener after it)."""
    world = World(session)
    listener = world.listener(world.load_balancer())
    assert cloudtrail.drain(10)
    return world, listener


def path_rule(priority: int, path: str) -> dict[str, Any]:
    return {
        "Priority": priority,
        "Conditions": [{"Field": "path-pattern", "Values": [path]}],
        "Actions": [fixed("200")],
    }


def test_another_users_rule_change_reaches_the_rule_with_cloudtrails_shape(session) -> None:
    _, listener = a_listener(session)
    url = queue_rule(session, "changes", SUCCESSFUL_CHANGES)
    alice = user(session, "alice")
    created = alice.client("elbv2").create_rule(ListenerArn=listener, **path_rule(5, "/a"))
    rule_arn = created["Rules"][0]["RuleArn"]
    alice.client("elbv2").set_rule_priorities(RulePriorities=[{"RuleArn": rule_arn, "Priority": 7}])

    create, priorities = received(session, url)
    assert (create["source"], create["detail-type"]) == (
        "aws.elasticloadbalancing",
        "AWS API Call via CloudTrail",
    )
    assert (create["account"], create["region"], create["resources"]) == (ACCOUNT, REGION, [])
    assert isinstance(create["time"], str) and create["time"].endswith("Z")
    detail = create["detail"]
    assert detail["eventName"] == "CreateRule" and detail["eventSource"] == ELB
    assert detail["userIdentity"]["type"] == "IAMUser"
    assert detail["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert detail["userIdentity"]["userName"] == "alice"
    assert detail["requestParameters"] == {
        "listenerArn": listener,
        "priority": 5,
        "conditions": [{"field": "path-pattern", "values": ["/a"]}],
        "actions": [{"type": "fixed-response", "fixedResponseConfig": {"statusCode": "200"}}],
    }
    assert detail["responseElements"]["rules"][0]["ruleArn"] == rule_arn
    assert (detail["readOnly"], detail["eventType"], detail["managementEvent"]) == (
        False,
        "AwsApiCall",
        True,
    )
    assert (detail["awsRegion"], detail["recipientAccountId"]) == (REGION, ACCOUNT)
    assert "errorCode" not in detail
    assert priorities["detail"]["requestParameters"] == {
        "rulePriorities": [{"ruleArn": rule_arn, "priority": 7}]
    }
    # The same record is in the event history, as LookupEvents returns it.
    by_id = [{"AttributeKey": "EventId", "AttributeValue": detail["eventID"]}]
    (event,) = session.client("cloudtrail").lookup_events(LookupAttributes=by_id)["Events"]
    assert json.loads(event["CloudTrailEvent"]) == detail
    assert (event["Username"], event["EventSource"]) == ("alice", ELB)
    assert rule_arn in [r["ResourceName"] for r in event["Resources"]]


def test_a_failed_call_carries_its_error_and_the_pattern_filters_it_out(session) -> None:
    _, listener = a_listener(session)
    successful = queue_rule(session, "successful", SUCCESSFUL_CHANGES)
    every = queue_rule(session, "every", EVERY_ELB_CALL)
    missing = listener.replace(":listener/", ":listener-rule/") + "/0123456789abcdef"
    elb = user(session, "bob").client("elbv2")
    with pytest.raises(elb.exceptions.RuleNotFoundException):
        elb.delete_rule(RuleArn=missing)

    assert received(session, successful) == []
    (failed,) = [e for e in received(session, every) if e["detail"]["eventName"] == "DeleteRule"]
    detail = failed["detail"]
    assert (detail["errorCode"], detail["errorMessage"]) == (
        "RuleNotFound",
        "One or more rules not found",
    )
    assert detail["requestParameters"] == {"ruleArn": missing}
    assert "responseElements" not in detail
    assert detail["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/bob"


def test_reads_are_not_delivered_and_writes_of_every_kind_are(session) -> None:
    world, listener = a_listener(session)
    every = queue_rule(session, "every", EVERY_ELB_CALL)
    elb = session.client("elbv2")
    elb.describe_rules(ListenerArn=listener)
    elb.describe_listeners(ListenerArns=[listener])
    elb.add_tags(ResourceArns=[listener], Tags=[{"Key": "team", "Value": "web"}])
    elb.remove_tags(ResourceArns=[listener], TagKeys=["team"])
    elb.modify_listener(ListenerArn=listener, DefaultActions=[fixed("503")])
    group = world.target_group("tg")
    elb.modify_target_group(TargetGroupArn=group, HealthCheckPath="/health")
    elb.delete_target_group(TargetGroupArn=group)
    elb.delete_listener(ListenerArn=listener)

    names = [e["detail"]["eventName"] for e in received(session, every)]
    assert names == [
        "AddTags",
        "RemoveTags",
        "ModifyListener",
        "CreateTargetGroup",
        "ModifyTargetGroup",
        "DeleteTargetGroup",
        "DeleteListener",
    ]


def test_an_assumed_roles_change_carries_its_session_and_issuer(session) -> None:
    _, listener = a_listener(session)
    url = queue_rule(session, "changes", SUCCESSFUL_CHANGES)
    role_arn, deployer = role_session(session, "deployer", "pipeline")
    deployer.client("elbv2").create_rule(ListenerArn=listener, **path_rule(3, "/p"))

    (event,) = received(session, url)
    identity = event["detail"]["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/pipeline"
    assert identity["sessionContext"]["sessionIssuer"]["arn"] == role_arn
    assert identity["sessionContext"]["sessionIssuer"]["userName"] == "deployer"


def test_delivery_is_asynchronous_and_never_fails_the_call(session) -> None:
    _, listener = a_listener(session)
    fns = Lambdas(session)
    echo = fns.function("echo", f"{SELFTEST}.echo")
    events = session.client("events")
    events.put_rule(Name="to-lambda", EventPattern=json.dumps(SUCCESSFUL_CHANGES))
    events.put_targets(
        Rule="to-lambda",
        Targets=[
            {"Id": "echo", "Arn": echo},
            {"Id": "gone", "Arn": echo.replace(":echo", ":no-such-function")},
        ],
    )
    release, seen = threading.Event(), []

    def hold(event: Any, context: Any) -> None:
        seen.append(event)
        release.wait(10)

    lambdas.before_invoke("echo", hold)
    started = time.monotonic()
    session.client("elbv2").create_rule(ListenerArn=listener, **path_rule(1, "/x"))
    session.client("elbv2").create_rule(ListenerArn=listener, **path_rule(2, "/y"))
    assert time.monotonic() - started < 5  # the calls did not wait for their target
    assert not cloudtrail.drain(0.2)  # the target is still running
    release.set()
    assert cloudtrail.drain(10)
    assert [e["detail"]["requestParameters"]["priority"] for e in seen] == [1, 2]  # in order
    assert seen[0]["detail-type"] == "AWS API Call via CloudTrail"


def test_a_service_failure_is_recorded_as_a_failed_call(session) -> None:
    _, listener = a_listener(session)
    every = queue_rule(session, "every", EVERY_ELB_CALL)
    faults.inject("CreateRule", code="InternalFailure")
    elb = session.client("elbv2")
    with pytest.raises(elb.exceptions.ClientError):
        elb.create_rule(ListenerArn=listener, **path_rule(4, "/f"))
    (failed,) = [e["detail"] for e in received(session, every)]
    assert failed["errorCode"] == "InternalFailure"


# --- other accounts' buses, forged sources --------------------------------------------------------


def in_account(session: boto3.Session, account: str) -> boto3.Session:
    """A session in another account of the local AWS (an assumed role there)."""
    creds = session.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/admin", RoleSessionName="admin"
    )["Credentials"]
    there = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )
    trust = {"Version": "2012-10-17", "Statement": []}
    there.client("iam").create_role(RoleName="admin", AssumeRolePolicyDocument=json.dumps(trust))
    return there


def forward_rule(member: boto3.Session, central_bus: str) -> None:
    """The member account's rule forwarding its ELB changes to the central bus."""
    events = member.client("events")
    events.put_rule(Name="forward", EventPattern=json.dumps(SUCCESSFUL_CHANGES))
    events.put_targets(
        Rule="forward",
        Targets=[
            {
                "Id": "central",
                "Arn": central_bus,
                "RoleArn": f"arn:aws:iam::{MEMBER}:role/forwarder",
            }
        ],
    )


def central_bus(session: boto3.Session) -> tuple[str, str]:
    """A custom bus in the central account with a rule to a queue: (bus ARN, queue URL)."""
    events, sqs = session.client("events"), session.client("sqs")
    bus = events.create_event_bus(Name="changes")["EventBusArn"]
    url = sqs.create_queue(QueueName="central")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(Name="central", EventBusName="changes", EventPattern=json.dumps(EVERY_ELB_CALL))
    events.put_targets(
        Rule="central", EventBusName="changes", Targets=[{"Id": "q", "Arn": arn["QueueArn"]}]
    )
    return str(bus), str(url)


def test_another_accounts_change_reaches_a_bus_whose_policy_allows_it(session) -> None:
    bus, url = central_bus(session)
    member = in_account(session, MEMBER)
    forward_rule(member, bus)
    _, listener = a_listener(member)
    member.client("elbv2").create_rule(ListenerArn=listener, **path_rule(1, "/refused"))
    assert received(session, url) == []  # no bus policy: refused

    session.client("events").put_permission(
        EventBusName="changes", Action="events:PutEvents", Principal=MEMBER, StatementId="m"
    )
    member.client("elbv2").create_rule(ListenerArn=listener, **path_rule(2, "/allowed"))
    (event,) = received(session, url)
    assert (event["account"], event["region"]) == (MEMBER, REGION)  # the origin's, kept
    assert event["detail"]["recipientAccountId"] == MEMBER
    assert event["detail"]["requestParameters"]["listenerArn"] == listener
    assert event["detail"]["userIdentity"]["arn"] == (
        f"arn:aws:sts::{MEMBER}:assumed-role/admin/admin"
    )


def test_a_bus_in_another_region_of_the_account_gets_the_event_as_it_left(session) -> None:
    far = boto3.Session(region_name="eu-west-1")
    bus = far.client("events").create_event_bus(Name="central")["EventBusArn"]
    url = far.client("sqs").create_queue(QueueName="far")["QueueUrl"]
    arn = far.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    far.client("events").put_rule(
        Name="far", EventBusName="central", EventPattern=json.dumps(EVERY_ELB_CALL)
    )
    far.client("events").put_targets(
        Rule="far",
        EventBusName="central",
        Targets=[{"Id": "q", "Arn": arn["Attributes"]["QueueArn"]}],
    )
    events = session.client("events")
    events.put_rule(Name="to-eu", EventPattern=json.dumps(SUCCESSFUL_CHANGES))
    role = f"arn:aws:iam::{ACCOUNT}:role/forwarder"
    events.put_targets(Rule="to-eu", Targets=[{"Id": "eu", "Arn": bus, "RoleArn": role}])
    _, listener = a_listener(session)
    session.client("elbv2").create_rule(ListenerArn=listener, **path_rule(1, "/eu"))

    (event,) = received(far, url)
    assert (event["account"], event["region"]) == (ACCOUNT, REGION)
    assert event["detail"]["awsRegion"] == REGION


def test_an_organization_condition_admits_its_members_only(session) -> None:
    bus, url = central_bus(session)
    org = session.client("organizations")
    org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    status = org.create_account(AccountName="member", Email="m@example.com")
    joined = status["CreateAccountStatus"]["AccountId"]
    session.client("events").put_permission(
        EventBusName="changes",
        Action="events:PutEvents",
        Principal="*",
        StatementId="org",
        Condition={"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": org_id},
    )
    for account, path in ((MEMBER, "/outsider"), (joined, "/insider")):
        member = in_account(session, account)
        forward_rule(member, bus)
        _, listener = a_listener(member)
        member.client("elbv2").create_rule(ListenerArn=listener, **path_rule(1, path))

    events = received(session, url)
    assert [e["account"] for e in events] == [joined]
    assert events[0]["detail"]["requestParameters"]["conditions"][0]["values"] == ["/insider"]


def test_no_customer_can_put_an_aws_event_on_a_bus(session) -> None:
    url = queue_rule(session, "any", {"detail-type": ["AWS API Call via CloudTrail"]})
    forged = {
        "Source": "aws.elasticloadbalancing",
        "DetailType": "AWS API Call via CloudTrail",
        "Detail": json.dumps({"eventSource": ELB, "eventName": "DeleteListener"}),
    }
    mine = {**forged, "Source": "com.example.tool"}
    answer = user(session, "mallory").client("events").put_events(Entries=[forged, mine])
    assert answer["FailedEntryCount"] == 1
    assert answer["Entries"][0]["ErrorCode"] == "NotAuthorizedForSourceException"
    assert "EventId" in answer["Entries"][1]
    assert [e["source"] for e in received(session, url)] == ["com.example.tool"]


def test_patterns_match_as_eventbridge_documents(session) -> None:
    """exists, prefix and anything-but on CloudTrail fields, and a field inside an array of
    objects (the rules a CreateRule answered), matched against every element."""
    _, listener = a_listener(session)
    base = listener.rsplit("/", 3)[0].replace(":listener/", ":listener-rule/")
    patterns = {
        "by-prefix": {"detail": {"requestParameters": {"listenerArn": [{"prefix": listener}]}}},
        "not-alice": {"detail": {"userIdentity": {"userName": [{"anything-but": ["alice"]}]}}},
        "in-array": {"detail": {"responseElements": {"rules": {"ruleArn": [{"prefix": base}]}}}},
        "failed": {"detail": {"errorCode": [{"exists": True}]}},
    }
    urls = {name: queue_rule(session, name, pattern) for name, pattern in patterns.items()}
    user(session, "alice").client("elbv2").create_rule(ListenerArn=listener, **path_rule(1, "/a"))
    session.client("elbv2").create_rule(ListenerArn=listener, **path_rule(2, "/b"))

    def paths(name: str) -> list[str]:
        return [
            e["detail"]["requestParameters"]["conditions"][0]["values"][0]
            for e in received(session, urls[name])
        ]

    assert paths("by-prefix") == ["/a", "/b"]
    assert paths("not-alice") == ["/b"]
    assert paths("in-array") == ["/a", "/b"]
    assert paths("failed") == []


def test_a_deployed_bus_policy_admits_the_accounts_it_names(session) -> None:
    """AWS::Events::EventBus and AWS::Events::EventBusPolicy as the local deployer makes them
    (twice: an update keeps one statement per StatementId)."""
    from albrules.local.deploy import _Deployer

    deployer = _Deployer(session, "albrules", REGION, ACCOUNT, Path("."))
    statement = {"Effect": "Allow", "Principal": {"AWS": MEMBER}, "Action": "events:PutEvents"}
    for _ in range(2):
        name, attributes = deployer.event_bus("ChangeBus", {"Name": "albrules-changes"})
        deployer.event_bus_policy(
            "ChangeBusPolicy",
            {"EventBusName": name, "StatementId": "members", "Statement": statement},
        )
    policy = json.loads(session.client("events").describe_event_bus(Name=name)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["members"]
    assert policy["Statement"][0]["Resource"] == attributes["Arn"]
    events, sqs = session.client("events"), session.client("sqs")
    url = sqs.create_queue(QueueName="central")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(Name="central", EventBusName=name, EventPattern=json.dumps(EVERY_ELB_CALL))
    events.put_targets(
        Rule="central", EventBusName=name, Targets=[{"Id": "q", "Arn": queue["QueueArn"]}]
    )
    for account in (MEMBER, "333333333333"):
        member = in_account(session, account)
        forward_rule(member, attributes["Arn"])
        _, listener = a_listener(member)
        member.client("elbv2").create_rule(ListenerArn=listener, **path_rule(1, "/" + account))
    assert [e["account"] for e in received(session, url)] == [MEMBER]


# --- functions act as their execution roles -----------------------------------------------------


def test_a_functions_calls_carry_its_execution_roles_session(session) -> None:
    from albrules import accounts

    accounts.forget()
    _, listener = a_listener(session)
    url = queue_rule(session, "every", EVERY_ELB_CALL)
    fns = Lambdas(session)
    fns.function("whoami", f"{SELFTEST}.whoami")
    fns.function("other-whoami", f"{SELFTEST}.whoami")
    fns.function("tagger", f"{SELFTEST}.tag_listener")
    role = f"arn:aws:iam::{ACCOUNT}:role/selftest"

    assert fns.invoke("whoami", {}) == (
        None,
        f"arn:aws:sts::{ACCOUNT}:assumed-role/selftest/whoami",
    )
    assert fns.invoke("other-whoami", {})[1].endswith(":assumed-role/selftest/other-whoami")
    assert fns.invoke("tagger", {"listener_arn": listener}) == (None, None)
    (tagged,) = [
        e["detail"] for e in received(session, url) if e["detail"]["eventName"] == "AddTags"
    ]
    identity = tagged["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/selftest/tagger"
    assert identity["sessionContext"]["sessionIssuer"]["arn"] == role
    # Outside an invocation the process's own credentials are used, as before.
    outside = accounts.home().client("sts").get_caller_identity()["Arn"]
    assert outside == f"arn:aws:sts::{ACCOUNT}:user/moto"
    # The role's session is reused while fresh: one session per function, not per call.
    fns.invoke("whoami", {})
    from moto.sts.models import sts_backends

    names = [r.session_name for r in sts_backends[ACCOUNT]["aws"].assumed_roles]
    assert sorted(names) == ["other-whoami", "tagger", "whoami"]
    accounts.forget()


def test_the_restore_clis_own_changes_count_as_its_callers(session, tmp_path, monkeypatch) -> None:
    from cli_runs import cli
    from rule_builders import path

    world, listener = a_listener(session)
    for priority, value in ((10, "/a/*"), (20, "/b/*")):
        world.rule(listener, priority, [path(value)], [fixed("200")])
    target = tmp_path / "s.json"
    assert (
        cli("backup", "--listener-arn", listener, "--region", REGION, "--out", str(target))[0] == 0
    )
    first = world.rules(listener)[0]["RuleArn"]
    world.elb.delete_rule(RuleArn=first)
    url = queue_rule(session, "changes", SUCCESSFUL_CHANGES)
    iam = session.client("iam")
    iam.create_user(UserName="operator")
    key = iam.create_access_key(UserName="operator")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    code, _, stderr = cli("restore", str(target), "--region", REGION, "--yes")
    assert code == 0, stderr

    changes = [e["detail"] for e in received(session, url)]
    assert "CreateRule" in [d["eventName"] for d in changes]
    assert {d["userIdentity"]["arn"] for d in changes} == {f"arn:aws:iam::{ACCOUNT}:user/operator"}
    assert all(d["requestParameters"] for d in changes)


def test_a_call_that_took_effect_before_its_invocation_was_cut_off_is_recorded(session) -> None:
    _, listener = a_listener(session)
    every = queue_rule(session, "every", EVERY_ELB_CALL)
    fns = Lambdas(session)
    fns.function("tagger", f"{SELFTEST}.tag_listener")
    faults.inject_lambda("tagger", after_calls=1)
    once = session.client("lambda", config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(once.exceptions.ServiceException):
        once.invoke(FunctionName="tagger", Payload=json.dumps({"listener_arn": listener}))
    tags = session.client("elbv2").describe_tags(ResourceArns=[listener])["TagDescriptions"]
    assert tags[0]["Tags"] == [{"Key": "by", "Value": "function"}]  # it took effect
    (tagged,) = [
        e["detail"] for e in received(session, every) if e["detail"]["eventName"] == "AddTags"
    ]
    assert "errorCode" not in tagged
    assert tagged["userIdentity"]["arn"].endswith(":assumed-role/selftest/tagger")


def test_no_client_secret_is_recorded_or_delivered(session) -> None:
    from oidc_cases import oidc

    world, listener = a_listener(session)
    every = queue_rule(session, "every", EVERY_ELB_CALL)
    secret = "s3cret-that-must-stay-in-secrets-manager"
    group = world.target_group("app")
    actions = [oidc(secret), {"Type": "forward", "TargetGroupArn": group, "Order": 2}]
    rule = session.client("elbv2").create_rule(
        ListenerArn=listener,
        Priority=1,
        Conditions=[{"Field": "path-pattern", "Values": ["/o"]}],
        Actions=actions,
    )["Rules"][0]["RuleArn"]
    session.client("elbv2").modify_rule(RuleArn=rule, Actions=actions)

    delivered = received(session, every)
    assert [e["detail"]["eventName"] for e in delivered][-2:] == ["CreateRule", "ModifyRule"]
    history = session.client("cloudtrail").lookup_events()["Events"]
    assert secret not in json.dumps(delivered) and secret not in json.dumps(history, default=str)
    config = delivered[-1]["detail"]["requestParameters"]["actions"][0]["authenticateOidcConfig"]
    assert config["clientSecret"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert config["clientId"] == "shop-client"
