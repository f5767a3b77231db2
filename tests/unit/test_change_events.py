"""Which listeners a CloudTrail event of ELBv2 names (albrules.changes), for every call of the
change rule, and what is dropped: failed calls, other accounts' listeners, unknown shapes."""

from __future__ import annotations

import pytest

from albrules.changes import Ignored, Noted, by_restore, listener_of, read_event
from change_events import ACCOUNT, REGION, assumed_role, cloudtrail_event, rule_of, user

LB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/shop/50dc6c495c0c9188"
LISTENER = LB.replace(":loadbalancer/", ":listener/") + "/f2f7dc8efc522ab2"
OTHER = LISTENER.replace("f2f7dc8efc522ab2", "0a0b0c0d0e0f1011")
TARGET_GROUP = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/web/73e2d6bc24d8a067"


def noted(event: dict) -> Noted:
    found = read_event(event)
    assert isinstance(found, Noted), found
    return found


@pytest.mark.parametrize(
    ("name", "parameters", "response", "listeners"),
    [
        ("CreateRule", {"listenerArn": LISTENER, "priority": 10, "conditions": [], "actions": []},
         {"rules": [{"ruleArn": rule_of(LISTENER)}]}, [LISTENER]),
        ("ModifyRule", {"ruleArn": rule_of(LISTENER), "actions": []}, None, [LISTENER]),
        ("DeleteRule", {"ruleArn": rule_of(LISTENER)}, None, [LISTENER]),
        ("SetRulePriorities",
         {"rulePriorities": [{"ruleArn": rule_of(LISTENER), "priority": 5},
                             {"ruleArn": rule_of(OTHER, "1111111111111111"), "priority": 6},
                             {"ruleArn": rule_of(LISTENER, "2222222222222222"), "priority": 7}]},
         None, [LISTENER, OTHER]),
        ("AddTags", {"resourceArns": [rule_of(LISTENER), TARGET_GROUP, LB],
                     "tags": [{"key": "team", "value": "pay"}]}, None, [LISTENER]),
        ("RemoveTags", {"resourceArns": [OTHER], "tagKeys": ["team"]}, None, [OTHER]),
        ("ModifyListener", {"listenerArn": LISTENER, "defaultActions": []}, None, [LISTENER]),
        ("CreateListener", {"loadBalancerArn": LB, "port": 443},
         {"listeners": [{"listenerArn": OTHER, "port": 443}]}, [OTHER]),
        ("DeleteListener", {"listenerArn": LISTENER}, None, [LISTENER]),
    ],
)
def test_each_change_call_names_its_listeners(name, parameters, response, listeners) -> None:
    found = noted(cloudtrail_event(name, parameters, response))
    assert found.listener_arns == listeners
    assert found.load_balancer_arns == []
    assert found.deletes is (name == "DeleteListener")
    assert found.event.name == name
    assert found.event.by == f"arn:aws:iam::{ACCOUNT}:user/alice"


def test_a_deleted_load_balancer_names_the_balancer_for_its_catalogued_listeners() -> None:
    found = noted(cloudtrail_event("DeleteLoadBalancer", {"loadBalancerArn": LB}))
    assert found.listener_arns == [] and found.load_balancer_arns == [LB] and found.deletes


def test_the_event_records_who_when_and_the_session_issuer_of_an_assumed_role() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/deployer"
    event = cloudtrail_event(
        "ModifyRule", {"ruleArn": rule_of(LISTENER)}, identity=assumed_role(role, "ci-42")
    )
    found = noted(event)
    detail = event["detail"]
    assert found.event.id == detail["eventID"] and found.event.time == detail["eventTime"]
    assert found.event.by == f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci-42"
    assert found.event.issuer == role
    assert (found.event.account, found.event.region) == (ACCOUNT, REGION)


def test_a_failed_call_changes_nothing() -> None:
    found = read_event(
        cloudtrail_event("ModifyRule", {"ruleArn": rule_of(LISTENER)}, error="AccessDenied")
    )
    assert isinstance(found, Ignored) and "AccessDenied" in found.reason


def test_a_member_account_cannot_speak_for_another_accounts_listener() -> None:
    """An event forwarded by account 111111111111 naming the central account's listener."""
    forged = cloudtrail_event(
        "ModifyRule", {"ruleArn": rule_of(LISTENER)}, account="111111111111",
        identity=user(account="111111111111"),
    )
    found = read_event(forged)
    assert isinstance(found, Ignored) and "not in the event's account" in found.reason


def test_a_record_of_another_account_than_its_event_is_dropped() -> None:
    event = cloudtrail_event("ModifyRule", {"ruleArn": rule_of(LISTENER)})
    event["detail"]["recipientAccountId"] = "111111111111"
    assert isinstance(read_event(event), Ignored)


def test_a_listener_of_another_region_is_dropped() -> None:
    elsewhere = LISTENER.replace(REGION, "eu-west-3")
    found = read_event(cloudtrail_event("ModifyListener", {"listenerArn": elsewhere}))
    assert isinstance(found, Ignored)


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"detail-type": "AWS API Call via CloudTrail", "source": "aws.elasticloadbalancing"},
        {**cloudtrail_event("ModifyRule", {"ruleArn": "x"}), "source": "my.app"},
        {**cloudtrail_event("ModifyRule", {"ruleArn": "x"}), "detail-type": "Custom"},
        {**cloudtrail_event("ModifyRule", {"ruleArn": "x"}), "detail": "not a record"},
        "not an event",
        None,
    ],
)
def test_unknown_shapes_are_dropped_with_a_reason(event) -> None:
    found = read_event(event)
    assert isinstance(found, Ignored) and found.reason


@pytest.mark.parametrize(
    ("name", "parameters"),
    [
        ("DescribeRules", {"listenerArn": LISTENER}),  # a read changes nothing
        ("ModifyTargetGroup", {"targetGroupArn": TARGET_GROUP}),
        ("ModifyRule", {"ruleArn": "not-an-arn"}),
        ("ModifyRule", None),
        ("SetRulePriorities", {"rulePriorities": "oops"}),
        ("AddTags", {"resourceArns": [TARGET_GROUP, LB]}),  # no listener's tags
        ("CreateListener", {"loadBalancerArn": LB}),  # no listener in the response
        ("DeleteLoadBalancer", {"loadBalancerArn": "arn:aws:ec2:eu-west-1:1:vpc/x"}),
    ],
)
def test_calls_that_name_no_listener_are_dropped(name, parameters) -> None:
    assert isinstance(read_event(cloudtrail_event(name, parameters)), Ignored)


def test_the_request_parameters_only_name_listeners_they_never_say_what_they_hold() -> None:
    found = noted(
        cloudtrail_event("CreateRule", {"listenerArn": LISTENER, "actions": [{"type": "evil"}]})
    )
    assert set(vars(found)) == {"event", "listener_arns", "load_balancer_arns", "deletes"}
    assert "evil" not in found.event.model_dump_json()


def test_rule_and_listener_arns_map_to_their_listener() -> None:
    assert listener_of(rule_of(LISTENER)) == LISTENER
    assert listener_of(LISTENER) == LISTENER
    assert listener_of(TARGET_GROUP) is None and listener_of(LB) is None
    assert listener_of(LISTENER.replace("/app/", "/net/")) is None


def test_a_restore_is_known_by_its_writer_roles_and_the_member_write_role() -> None:
    apply_role = f"arn:aws:iam::{ACCOUNT}:role/albrules-ApplyPlanFunctionRole"
    member = LISTENER.replace(ACCOUNT, "210987654321")
    by_apply = noted(cloudtrail_event(
        "ModifyRule", {"ruleArn": rule_of(LISTENER)}, identity=assumed_role(apply_role)
    )).event
    assert by_restore(by_apply, LISTENER, [apply_role], "albrules-member")
    by_member_role = noted(cloudtrail_event(
        "ModifyRule", {"ruleArn": rule_of(member)}, account="210987654321",
        identity=assumed_role("arn:aws:iam::210987654321:role/albrules-member"),
    )).event
    assert by_restore(by_member_role, member, [apply_role], "albrules-member")
    # The same role name in another account than the listener's is not the member role.
    assert not by_restore(by_member_role, LISTENER, [apply_role], "albrules-member")
    by_person = noted(cloudtrail_event("ModifyRule", {"ruleArn": rule_of(LISTENER)})).event
    assert not by_restore(by_person, LISTENER, [apply_role], "albrules-member")
