"""The local AWS knows who calls: CloudTrail's StartExecution events with the caller's
``userIdentity`` (albrules.local.cloudtrail), and SigV4 on AWS_IAM function URLs
(albrules.local.function_urls, albrules.local.identities).

moto records no CloudTrail event of its own (it has no LookupEvents at all); these tests fail
without the recorder.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from albrules import requester
from albrules.local import cloudtrail
from local_world import key_session, role_session

PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


def user(session: boto3.Session, name: str) -> boto3.Session:
    iam = session.client("iam")
    iam.create_user(UserName=name)
    return key_session(iam, name)


def machine(session: boto3.Session) -> str:
    return str(
        session.client("stepfunctions").create_state_machine(
            name="m", definition=PASS, roleArn="arn:aws:iam::123456789012:role/r"
        )["stateMachineArn"]
    )


def events(session: boto3.Session, **kwargs: Any) -> list[dict[str, Any]]:
    return list(session.client("cloudtrail").lookup_events(**kwargs)["Events"])


def test_start_execution_is_recorded_with_the_callers_identity(session: boto3.Session) -> None:
    arn = machine(session)
    alice = user(session, "alice")
    started = alice.client("stepfunctions").start_execution(
        stateMachineArn=arn, input='{"secret": "x"}'
    )["executionArn"]
    by_name = [{"AttributeKey": "EventName", "AttributeValue": "StartExecution"}]
    (event,) = events(session, LookupAttributes=by_name)
    detail = json.loads(event["CloudTrailEvent"])
    assert detail["userIdentity"]["type"] == "IAMUser"
    assert detail["userIdentity"]["arn"] == "arn:aws:iam::123456789012:user/alice"
    assert detail["responseElements"]["executionArn"] == started
    assert detail["requestParameters"]["input"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert (event["Username"], event["EventSource"]) == ("alice", "states.amazonaws.com")
    found = requester.started_by(session.client("cloudtrail"), started)
    assert found is not None and found.arn == "arn:aws:iam::123456789012:user/alice"
    nobody = [{"AttributeKey": "Username", "AttributeValue": "x"}]
    assert events(session, LookupAttributes=nobody) == []


def test_an_assumed_role_is_its_session_and_a_failed_call_is_not_recorded(
    session: boto3.Session,
) -> None:
    arn = machine(session)
    role_arn, carol = role_session(session, "operator", "carol")
    started = carol.client("stepfunctions").start_execution(stateMachineArn=arn)["executionArn"]
    found = requester.started_by(session.client("cloudtrail"), started)
    assert found is not None
    assert found.arn == "arn:aws:sts::123456789012:assumed-role/operator/carol"
    assert (found.kind, found.issuer) == ("AssumedRole", role_arn)
    with pytest.raises(ClientError):  # no such state machine: no event
        carol.client("stepfunctions").start_execution(stateMachineArn=arn + "-missing")
    assert len(events(session)) == 1


def test_a_late_delivery_is_not_found_until_delivered(session: boto3.Session) -> None:
    arn = machine(session)
    cloudtrail.delay(3600)
    try:
        started = session.client("stepfunctions").start_execution(stateMachineArn=arn)[
            "executionArn"
        ]
        assert requester.started_by(session.client("cloudtrail"), started) is None
        cloudtrail.deliver_all()
        found = requester.started_by(session.client("cloudtrail"), started)
        assert found is not None and found.arn.endswith(":user/moto")  # the default key
    finally:
        cloudtrail.delay(0)


def test_lookup_events_pages_newest_first_and_refuses_two_attributes(
    session: boto3.Session,
) -> None:
    arn = machine(session)
    sfn = session.client("stepfunctions")
    started = [sfn.start_execution(stateMachineArn=arn)["executionArn"] for _ in range(3)]
    ct = session.client("cloudtrail")
    first = ct.lookup_events(MaxResults=2)
    second = ct.lookup_events(MaxResults=2, NextToken=first["NextToken"])
    seen = [json.loads(e["CloudTrailEvent"])["responseElements"]["executionArn"]
            for e in first["Events"] + second["Events"]]  # fmt: skip
    assert seen == started[::-1] and "NextToken" not in second
    two = [
        {"AttributeKey": "EventName", "AttributeValue": "StartExecution"},
        {"AttributeKey": "Username", "AttributeValue": "moto"},
    ]
    try:
        ct.lookup_events(LookupAttributes=two)
    except ct.exceptions.InvalidLookupAttributesException:
        pass
    else:
        raise AssertionError("two lookup attributes were accepted")
