"""The local AWS's check of an event bus's resource policy for events from another account
(albrules.local.events.bus_admits), on the changes bus policy template.yaml writes."""

from __future__ import annotations

import json

from albrules.local.events import bus_admits

BUS = "arn:aws:events:us-east-1:123456789012:event-bus/albrules-changes"
EVENT = {"source": "aws.elasticloadbalancing", "detail-type": "AWS API Call via CloudTrail"}


def policy(principal: object, extra: dict | None = None) -> str:
    condition = {
        "StringEquals": {
            "events:source": "aws.elasticloadbalancing",
            "events:detail-type": "AWS API Call via CloudTrail",
            **(extra or {}),
        }
    }
    statement = {
        "Sid": "ChangesFromMemberAccounts",
        "Effect": "Allow",
        "Principal": principal,
        "Action": "events:PutEvents",
        "Resource": BUS,
        "Condition": condition,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_listed_accounts_may_put_cloudtrails_elb_events_only() -> None:
    listed = policy({"AWS": ["210987654321", "arn:aws:iam::111111111111:root"]})
    assert bus_admits(listed, BUS, "210987654321", EVENT)
    assert bus_admits(listed, BUS, "111111111111", EVENT)
    assert not bus_admits(listed, BUS, "333333333333", EVENT)
    assert not bus_admits(listed, BUS, "210987654321", {**EVENT, "source": "my.app"})
    assert not bus_admits(None, BUS, "210987654321", EVENT)  # no policy: no other account


def test_an_organization_statement_admits_no_account_here() -> None:
    """The local AWS has no organization: aws:PrincipalOrgID never holds."""
    org = policy("*", {"aws:PrincipalOrgID": "o-abcdefghij"})
    assert not bus_admits(org, BUS, "210987654321", EVENT)
