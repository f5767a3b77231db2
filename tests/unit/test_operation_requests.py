"""operations.py: each plan operation becomes the boto3 call ``apply_plan`` makes, and a summary.

Every request is also checked by botocore's own parameter validator against the elbv2 service
model: what ``request_for`` builds is what a boto3 client accepts.
"""

from __future__ import annotations

from typing import Any, get_args

import pytest
from botocore.validate import ParamValidator

from albrules.canonical import canonical_actions
from albrules.operations import (
    API_OPERATION,
    EXISTING_SECRET,
    AddTags,
    CreateRule,
    DeleteRule,
    ModifyListener,
    ModifyRule,
    Operation,
    PriorityMove,
    RemoveTags,
    SetRulePriorities,
    api_actions,
    api_tags,
    request_for,
)
from rule_builders import fixed, forward, host, path

from .elbv2_model import SERVICE, Elbv2Model, operation_name
from .strategies import GROUPS, SECRET_ARN, SECRET_VALUE, oidc

LISTENER = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/unit/50dc6c495c0c9188/"
    "f2f7dc8efc522ab2"
)
RULE = LISTENER.replace(":listener/", ":listener-rule/") + "/0000000000000001"
CANONICAL_FORWARD = canonical_actions([forward((GROUPS[0], 3), (GROUPS[1], 1), sticky=60)])
OIDC = canonical_actions([oidc(), {**forward(GROUPS[0]), "Order": 2}])
REWRITE = [
    {"Type": "url-rewrite", "UrlRewriteConfig": {"Rewrites": [{"Regex": "a", "Replace": "b"}]}}
]

OPERATIONS: list[Any] = [
    ModifyListener(listener_arn=LISTENER, default_actions=OIDC, oidc={"web": EXISTING_SECRET}),
    CreateRule(
        listener_arn=LISTENER,
        priority=10,
        conditions=[path("/a/*"), host("a.example.com")],
        actions=OIDC,
        transforms=REWRITE,
        tags={"team": "web", "env": "prod"},
        oidc={"web": SECRET_ARN},
    ),
    ModifyRule(rule_arn=RULE, priority=10, actions=CANONICAL_FORWARD, transforms=REWRITE),
    ModifyRule(rule_arn=RULE, priority=10, conditions=[path("/b")], reset_transforms=True),
    AddTags(rule_arn=RULE, priority=10, tags={"b": "2", "a": "1"}),
    RemoveTags(rule_arn=RULE, priority=10, keys=["z", "a"]),
    SetRulePriorities(
        moves=[
            PriorityMove(rule_arn=RULE, from_priority=10, to_priority=20),
            PriorityMove(rule_arn=RULE[:-1] + "2", from_priority=20, to_priority=10),
        ]
    ),
    DeleteRule(rule_arn=RULE, priority=10, conditions=[path("/a/*")]),
]


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.op)
def test_every_request_is_one_boto3_accepts(op: Any) -> None:
    method, kwargs = request_for(op, {SECRET_ARN: SECRET_VALUE})
    assert operation_name(method) == API_OPERATION[op.op]
    assert callable(getattr(Elbv2Model, method))
    shape = SERVICE.operation_model(API_OPERATION[op.op]).input_shape
    report = ParamValidator().validate(kwargs, shape)
    assert not report.has_errors(), report.generate_report()


def test_every_operation_kind_has_its_api_call() -> None:
    (union, *_) = get_args(Operation)
    kinds = {cls.model_fields["op"].default for cls in get_args(union)}
    assert kinds == set(API_OPERATION)
    assert set(API_OPERATION.values()) <= set(SERVICE.operation_names)


def test_create_rule_request() -> None:
    method, kwargs = request_for(OPERATIONS[1], {SECRET_ARN: SECRET_VALUE})
    assert method == "create_rule"
    assert kwargs["ListenerArn"] == LISTENER and kwargs["Priority"] == 10
    assert kwargs["Conditions"] == [path("/a/*"), host("a.example.com")]
    assert kwargs["Tags"] == [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "web"}]
    assert kwargs["Transforms"] == REWRITE
    authenticate, then = kwargs["Actions"]
    assert authenticate["AuthenticateOidcConfig"]["ClientSecret"] == SECRET_VALUE
    assert then == {
        "Type": "forward",
        "Order": 2,
        "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": GROUPS[0], "Weight": 1}]},
    }


def test_a_rule_without_tags_or_transforms_sends_neither() -> None:
    op = CreateRule(listener_arn=LISTENER, priority=1, conditions=[path("/")], actions=[fixed()])
    assert set(request_for(op, {})[1]) == {"ListenerArn", "Priority", "Conditions", "Actions"}


def test_forward_weights_are_explicit_and_names_dropped() -> None:
    (action,) = api_actions(CANONICAL_FORWARD, {}, {})
    assert "TargetGroupName" not in repr(action)
    assert action["ForwardConfig"] == {
        "TargetGroups": [
            {"TargetGroupArn": GROUPS[0], "Weight": 3},
            {"TargetGroupArn": GROUPS[1], "Weight": 1},
        ],
        "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 60},
    }
    assert "TargetGroupName" in repr(CANONICAL_FORWARD)  # the operation itself keeps them


def test_an_existing_oidc_secret_is_reused_not_sent() -> None:
    method, kwargs = request_for(OPERATIONS[0], {})
    assert method == "modify_listener"
    config = kwargs["DefaultActions"][0]["AuthenticateOidcConfig"]
    assert config["UseExistingClientSecret"] is True and "ClientSecret" not in config


def test_a_missing_secret_value_is_an_error_not_an_empty_secret() -> None:
    with pytest.raises(ValueError, match="no client secret for OIDC client web"):
        api_actions(OIDC, {"web": SECRET_ARN}, {})


def test_modify_rule_requests_send_only_what_changes() -> None:
    assert request_for(OPERATIONS[2], {})[1].keys() == {"RuleArn", "Actions", "Transforms"}
    assert request_for(OPERATIONS[3], {}) == (
        "modify_rule",
        {"RuleArn": RULE, "Conditions": [path("/b")], "ResetTransforms": True},
    )


def test_tag_and_priority_and_delete_requests() -> None:
    assert request_for(OPERATIONS[4], {}) == (
        "add_tags",
        {"ResourceArns": [RULE], "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]},
    )
    assert request_for(OPERATIONS[5], {}) == (
        "remove_tags",
        {"ResourceArns": [RULE], "TagKeys": ["a", "z"]},
    )
    assert request_for(OPERATIONS[6], {}) == (
        "set_rule_priorities",
        {
            "RulePriorities": [
                {"RuleArn": RULE, "Priority": 20},
                {"RuleArn": RULE[:-1] + "2", "Priority": 10},
            ]
        },
    )
    assert request_for(OPERATIONS[7], {}) == ("delete_rule", {"RuleArn": RULE})
    assert api_tags({}) == []


def test_summaries_read_as_one_line_each() -> None:
    assert [op.summary() for op in OPERATIONS] == [
        "set default actions: authenticate-oidc web -> forward tg0",
        "create rule at priority 10: path-pattern=/a/*, host-header=a.example.com "
        "=> authenticate-oidc web -> forward tg0",
        "modify rule at priority 10: actions forward tg0:3, tg1 sticky 60s; transforms url-rewrite",
        "modify rule at priority 10: conditions path-pattern=/b; remove transforms",
        "tag rule at priority 10: a=1, b=2",
        "untag rule at priority 10: a, z",
        "reorder 2 rule(s) in one call: 10->20, 20->10",
        "delete rule at priority 10: path-pattern=/a/*",
    ]
