"""labels.py: the short labels plans, diffs and messages use for rules, conditions and actions."""

from __future__ import annotations

from typing import Any

import pytest

from albrules.canonical import canonical_action, canonical_condition
from albrules.labels import (
    condition_values,
    describe_action,
    describe_actions,
    describe_condition,
    describe_conditions,
    rule_label,
)
from rule_builders import fixed, forward, header, host, path, redirect

from .strategies import GROUPS, oidc


@pytest.mark.parametrize(
    ("condition", "values"),
    [
        (path("/b", "/a"), ["/a", "/b"]),
        (host("a.example.com"), ["a.example.com"]),
        (header("X-Env", "prod", "canary"), ["X-Env:canary", "X-Env:prod"]),
        (
            {
                "Field": "path-pattern",
                "PathPatternConfig": {"Values": ["/x"], "RegexValues": ["^/r"]},
            },
            ["/x", "~^/r"],
        ),
        (
            {
                "Field": "http-header",
                "HttpHeaderConfig": {"HttpHeaderName": "X", "RegexValues": ["^a"]},
            },
            ["X:~^a"],
        ),
        (
            {
                "Field": "query-string",
                "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}, {"Value": "bare"}]},
            },
            ["bare", "v=2"],
        ),
        (
            {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}},
            ["POST"],
        ),
        ({"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}}, ["10.0.0.0/8"]),
    ],
)
def test_condition_values_of_each_field(condition: dict[str, Any], values: list[str]) -> None:
    assert condition_values(canonical_condition(condition)) == values


def test_conditions_read_as_field_equals_values() -> None:
    conditions = [canonical_condition(path("/a", "/b")), canonical_condition(host("x"))]
    assert describe_condition(conditions[0]) == "path-pattern=/a|/b"
    assert describe_conditions(conditions) == "path-pattern=/a|/b, host-header=x"
    assert describe_conditions([]) == "(no conditions)"


@pytest.mark.parametrize(
    ("action", "label"),
    [
        (forward(GROUPS[0]), "forward tg0"),
        (forward((GROUPS[0], 3), (GROUPS[1], 1), sticky=90), "forward tg0:3, tg1 sticky 90s"),
        (
            redirect(Protocol="HTTPS", Host="x.example.com", Port="443"),
            "redirect HTTP_301 HTTPSx.example.com443",
        ),
        (redirect(), "redirect HTTP_301 (same URL)"),
        (fixed("503"), "fixed-response 503"),
        (oidc("portal"), "authenticate-oidc portal"),
        (
            {
                "Type": "authenticate-cognito",
                "AuthenticateCognitoConfig": {
                    "UserPoolArn": "p",
                    "UserPoolClientId": "c1",
                    "UserPoolDomain": "d",
                },
            },
            "authenticate-cognito c1",
        ),
        (
            {
                "Type": "jwt-validation",
                "JwtValidationConfig": {"JwksEndpoint": "https://j", "Issuer": "https://iss"},
            },
            "jwt-validation https://iss",
        ),
    ],
)
def test_each_action_type_has_a_label(action: dict[str, Any], label: str) -> None:
    assert describe_action(canonical_action(action, 1)) == label


def test_a_forward_without_names_shows_the_arn() -> None:
    action = {"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "tg-x"}]}}
    assert describe_action(action) == "forward tg-x"


def test_actions_chain_and_rules_are_labelled_by_priority_and_conditions() -> None:
    actions = [canonical_action({**oidc(), "Order": 1}, 1), canonical_action(fixed(), 2)]
    assert describe_actions(actions) == "authenticate-oidc web -> fixed-response 200"
    rule = {"priority": 7, "conditions": [canonical_condition(host("a.example.com"))]}
    assert rule_label(rule) == "priority 7 (host-header=a.example.com)"
