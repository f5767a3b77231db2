"""A restore's changes, as CloudTrail and EventBridge see them on the local AWS: made by the
ApplyPlan function's execution role session (the local AWS runs functions as their roles), so
the change-triggered backups can tell albrules's own restores from other people's changes."""

from __future__ import annotations

import json
from typing import Any

from albrules.local import cloudtrail
from stack import Stack, break_listener, shop
from workflows.test_workflows import back_up, snapshot_key

ELB = "elasticloadbalancing.amazonaws.com"


def elb_events(stack: Stack) -> list[dict[str, Any]]:
    """The CloudTrail records of every ELBv2 write call so far."""
    trail = stack.session.client("cloudtrail")
    by_source = [{"AttributeKey": "EventSource", "AttributeValue": ELB}]
    found = trail.get_paginator("lookup_events").paginate(LookupAttributes=by_source)
    return [json.loads(e["CloudTrailEvent"]) for page in found for e in page["Events"]]


def test_a_restores_changes_are_the_apply_functions_role_session(stack: Stack) -> None:
    listener = shop(stack)
    back_up(stack)
    break_listener(stack, listener)
    before = {r["eventID"] for r in elb_events(stack)}

    result = stack.run("restore", {"snapshot": snapshot_key(stack, listener)}, timeout=90)
    assert result.status == "SUCCEEDED", result.cause
    assert cloudtrail.drain(10)

    function = stack.deployment.physical_id("ApplyPlanFunction")
    role = stack.session.client("lambda").get_function(FunctionName=function)["Configuration"][
        "Role"
    ]
    made = [r for r in elb_events(stack) if r["eventID"] not in before]
    assert {r["eventName"] for r in made} >= {"CreateRule", "ModifyRule"}
    for record in made:
        identity = record["userIdentity"]
        assert identity["type"] == "AssumedRole"
        assert identity["arn"] == (
            f"arn:aws:sts::{identity['accountId']}:assumed-role/"
            f"{role.rsplit('/', 1)[-1]}/{function}"
        )
        assert identity["sessionContext"]["sessionIssuer"]["arn"] == role
        assert "errorCode" not in record
    # The bad deploy before it was the harness's (the local AWS's default credentials).
    bad = [r for r in elb_events(stack) if r["eventID"] in before][:4]
    assert {r["userIdentity"]["arn"].rsplit(":", 1)[-1] for r in bad} == {"user/moto"}
