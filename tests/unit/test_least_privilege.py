"""Least privilege, read from template.yaml and member-account.yaml: which role may touch which
catalog items (dynamodb:LeadingKeys), and which member role each function may assume.

The local AWS does not evaluate IAM; these tests hold the templates to what AWS would enforce.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from albrules.local.deploy import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = [k for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"]
# What each function's code reads or writes in the table (src/albrules/catalog.py's families).
CATALOG_NEEDS = {
    # A version is indexed by load balancer and by CloudTrail event (LB#, EVENT#).
    "SnapshotListenersFunction": {"LISTENER#*", "SNAPSHOT#*", "LB#*", "EVENT#*"},
    "TakePreRestoreSnapshotFunction": {"LISTENER#*", "SNAPSHOT#*", "LB#*", "EVENT#*"},
    # Notes changes (CHANGES#), a deleted load balancer's listeners (LB#), the restore's lock.
    "NoteListenerChangeFunction": {"CHANGES#*", "LB#*", "LOCK#*"},
    "BackUpChangedListenerFunction": {"LISTENER#*", "SNAPSHOT#*", "LB#*", "EVENT#*", "CHANGES#*"},
    # a snapshot by id or chosen from the history (at, before_change: EVENT#), its lock, audit
    "AcquireLockFunction": {"LISTENER#*", "SNAPSHOT#*", "EVENT#*", "LOCK#*", "RESTORE#*"},
    "RequestApprovalFunction": {"APPROVAL#*", "RESTORE#*"},
    # and a recreated listener's history link (LISTENER#, the new one's LB# index)
    "ReleaseLockFunction": {"LOCK#*", "RESTORE#*", "LISTENER#*", "LB#*"},
    "ApprovalFunction": {"APPROVAL#*"},
    "ApplyPlanFunction": {"APPROVAL#*", "LOCK#*"},  # the approved plan's hash; its lock
    "RollBackFunction": {"LOCK#*"},  # its lock, taken back before it changes anything
    "ReleaseAbandonedLockFunction": {"LOCK#*", "RESTORE#*"},
    "DecisionFunction": {"APPROVAL#*"},  # the decision, the requester found, the delivery
    # each listener's latest snapshot, and its drill's result
    "RunDrillsFunction": {"LISTENER#*", "SNAPSHOT#*", "DRILL#*"},
    # a whole load balancer: each listener's history, the LB index, every lock, the audit
    "PlanLoadBalancerFunction": {
        "LISTENER#*",
        "SNAPSHOT#*",
        "LB#*",
        "EVENT#*",
        "LOCK#*",
        "RESTORE#*",
    },
    "RecordLoadBalancerOutcomeFunction": {"LOCK#*", "RESTORE#*"},
}
# The one scan: the drills list the catalogued listeners from the LB# index, keys only.
KEYS_ONLY_SCANS = {"RunDrillsFunction"}


def keys_only_scan(statement: dict[str, Any]) -> bool:
    """A Scan that may return the key attributes only (pk, sk): no item's contents."""
    condition = statement.get("Condition") or {}
    attributes = (condition.get("ForAllValues:StringEquals") or {}).get("dynamodb:Attributes")
    select = (condition.get("StringEquals") or {}).get("dynamodb:Select")
    return (
        actions(statement) == ["dynamodb:Scan"]
        and sorted(attributes or []) == ["pk", "sk"]
        and (select == "SPECIFIC_ATTRIBUTES")
    )


def statements(function: str) -> list[dict[str, Any]]:
    """Every statement of the function's role: its inline policies and its managed ones."""
    found: list[dict[str, Any]] = []
    for policy in RESOURCES[function]["Properties"].get("Policies") or []:
        if isinstance(policy, dict) and set(policy) == {"Ref"}:
            managed = RESOURCES.get(policy["Ref"])
            if managed and managed["Type"] == "AWS::IAM::ManagedPolicy":
                found += managed["Properties"]["PolicyDocument"]["Statement"]
        elif isinstance(policy, dict) and "Statement" in policy:
            found += policy["Statement"]
    return found


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


def leading_keys(statement: dict[str, Any]) -> set[str]:
    condition = statement.get("Condition") or {}
    keys = (condition.get("ForAllValues:StringLike") or {}).get("dynamodb:LeadingKeys") or []
    return set(keys)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_catalog_grant_names_its_item_families(function: str) -> None:
    table = [s for s in statements(function) if any(a.startswith("dynamodb:") for a in actions(s))]
    scans = [s for s in table if keys_only_scan(s)]
    assert not scans or function in KEYS_ONLY_SCANS, function
    table = [s for s in table if s not in scans]
    for statement in table:
        assert statement["Resource"] == {"Fn::GetAtt": ["CatalogTable", "Arn"]}, function
        assert leading_keys(statement), f"{function}: {statement.get('Sid')} has no LeadingKeys"
        assert "dynamodb:Scan" not in actions(statement), function
    reached = set().union(*(leading_keys(s) for s in table)) if table else set()
    assert reached == CATALOG_NEEDS.get(function, set()), function


def test_the_public_approval_function_touches_approval_items_only() -> None:
    table = [
        s
        for s in statements("ApprovalFunction")
        if any(a.startswith("dynamodb:") for a in actions(s))
    ]
    assert {a for s in table for a in actions(s)} == {"dynamodb:GetItem"}  # it decides nothing
    assert all(leading_keys(s) == {"APPROVAL#*"} for s in table)
    assert RESOURCES["ApprovalFunction"]["Properties"]["FunctionUrlConfig"]["AuthType"] == "NONE"


def test_only_plan_apply_and_roll_back_may_assume_the_read_write_member_role() -> None:
    def assumes(function: str) -> set[str]:
        return {
            p["Ref"]
            for p in RESOURCES[function]["Properties"].get("Policies") or []
            if isinstance(p, dict) and p.get("Ref", "").startswith("AssumeMember")
        }

    writers = {f for f in FUNCTIONS if "AssumeMemberRolePolicy" in assumes(f)}
    readers = {f for f in FUNCTIONS if "AssumeMemberReadOnlyRolePolicy" in assumes(f)}
    assert writers == {
        "ComputePlanFunction",
        "ApplyPlanFunction",
        "RollBackFunction",
        "PlanLoadBalancerFunction",  # plans every listener of a load balancer, as ComputePlan
    }
    assert readers == {
        "DiscoverListenersFunction",
        "SnapshotListenersFunction",
        "BackUpChangedListenerFunction",
        "LoadSnapshotFunction",
        "TakePreRestoreSnapshotFunction",
        "VerifyListenerFunction",
    }
    # The member roles trust exactly these (the central stack's outputs).
    outputs = TEMPLATE["Outputs"]

    def trusted(output: str) -> set[str]:
        return {
            v["Fn::GetAtt"][0].removesuffix("Role") for v in outputs[output]["Value"]["Fn::Join"][1]
        }

    assert trusted("MemberTrustedRoleArns") == writers
    assert trusted("MemberReadOnlyTrustedRoleArns") == readers


def test_the_read_only_member_role_cannot_write_or_read_secrets() -> None:
    member = load_template(ROOT / "member-account.yaml")["Resources"]
    role = member["MemberReadOnlyRole"]["Properties"]
    granted = {
        a for p in role["Policies"] for s in p["PolicyDocument"]["Statement"] for a in actions(s)
    }
    # Reads only; a server certificate's read returns no private key (IAM never returns it).
    reads = {"acm:DescribeCertificate", "iam:GetServerCertificate"}
    assert granted and all(
        a.startswith("elasticloadbalancing:Describe") or a in reads for a in granted
    )
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    assert trust["StringEquals"] == {"sts:ExternalId": {"Ref": "ExternalId"}}
    assert trust["ArnEquals"] == {"aws:PrincipalArn": {"Ref": "ReadOnlyTrustedRoleArns"}}


def test_the_drills_write_only_on_the_scratch_load_balancer() -> None:
    """RunDrillsFunction creates and deletes listeners, and restores into them, only on the
    load balancer DrillLoadBalancer names (its name is in every listener and rule ARN); it is
    deployed only when DrillSchedule and DrillLoadBalancer are both given."""
    function = RESOURCES["RunDrillsFunction"]
    assert function["Condition"] == "RunsDrills"
    writes = [
        s
        for s in statements("RunDrillsFunction")
        if any(
            a.startswith("elasticloadbalancing:") and not a.split(":")[1].startswith("Describe")
            for a in actions(s)
        )
    ]
    written = {a for s in writes for a in actions(s)}
    assert {"elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener"} <= written
    assert "elasticloadbalancing:CreateRule" in written
    assert not written & {
        "elasticloadbalancing:DeleteLoadBalancer",
        "elasticloadbalancing:ModifyRule",
        "elasticloadbalancing:DeleteRule",
        "elasticloadbalancing:RemoveTags",
    }
    for statement in writes:
        assert statement["Effect"] == "Allow"
        resource = statement["Resource"]["Fn::Sub"]
        assert "/app/${DrillLoadBalancer}/*" in resource, statement["Sid"]
        assert ":${AWS::Region}:${AWS::AccountId}:" in resource, statement["Sid"]
    create = next(s for s in writes if "elasticloadbalancing:CreateListener" in actions(s))
    assert actions(create) == ["elasticloadbalancing:CreateListener"]
    assert ":loadbalancer/app/${DrillLoadBalancer}/*" in create["Resource"]["Fn::Sub"]
