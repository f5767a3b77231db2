"""CloudTrail events of ELBv2 calls as EventBridge delivers them ("AWS API Call via CloudTrail"),
in the documented shape: the CloudTrail record (lower-camel request parameters and response
elements) as ``detail``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"  # local_world.REGION (not imported: the unit tier loads no emulator)
__all__ = ["ACCOUNT", "REGION", "assumed_role", "cloudtrail_event", "rule_of", "user"]


def user(name: str = "alice", account: str = ACCOUNT) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE",
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "accountId": account,
        "accessKeyId": "AKIAEXAMPLE",
        "userName": name,
    }


def assumed_role(role_arn: str, session: str = "session") -> dict[str, Any]:
    account = role_arn.split(":")[4]
    name = role_arn.rsplit("/", 1)[-1]
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
        "accountId": account,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE",
                "arn": role_arn,
                "accountId": account,
                "userName": name,
            },
            "attributes": {"creationDate": "2026-12-03T10:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def cloudtrail_event(
    name: str,
    parameters: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
    *,
    identity: dict[str, Any] | None = None,
    account: str = ACCOUNT,
    region: str = REGION,
    error: str | None = None,
    event_id: str | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    moment = (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    detail: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": identity or user(account=account),
        "eventTime": moment,
        "eventSource": "elasticloadbalancing.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "192.0.2.10",
        "userAgent": "Boto3/1.35.0",
        "requestParameters": parameters,
        "responseElements": response,
        "requestID": str(uuid.uuid4()),
        "eventID": event_id or str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if error:
        detail["errorCode"] = error
        detail["errorMessage"] = "refused"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.elasticloadbalancing",
        "account": account,
        "time": moment,
        "region": region,
        "resources": [],
        "detail": detail,
    }


def rule_of(listener_arn: str, rule_id: str = "9683b2d02a6cabee") -> str:
    return listener_arn.replace(":listener/", ":listener-rule/") + "/" + rule_id
