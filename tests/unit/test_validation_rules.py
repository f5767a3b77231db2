"""validate.py: every documented ELBv2 limit is checked, every problem reported with its path."""

from __future__ import annotations

from typing import Any

import pytest

from albrules.models import Action, Rule
from albrules.validate import Limits, check_actions, check_rule, check_rule_count, check_rules
from rule_builders import fixed, forward, header, host, path

from .strategies import GROUPS, TG_PREFIX, oidc

REWRITE = {
    "Type": "url-rewrite",
    "UrlRewriteConfig": {"Rewrites": [{"Regex": "a", "Replace": "b"}]},
}


def a_rule(**fields: Any) -> Rule:
    base: dict[str, Any] = {"priority": 10, "conditions": [path("/a")], "actions": [fixed()]}
    return Rule.model_validate({**base, **fields})


def problems_of(rule: Rule, limits: Limits | None = None) -> list[str]:
    return [str(p) for p in check_rule(rule, "rules[0]", limits or Limits())]


def actions(*items: dict[str, Any]) -> list[Action]:
    return [Action.model_validate(item) for item in items]


def test_a_sound_rule_has_no_problem() -> None:
    rule = a_rule(
        conditions=[path("/a/*"), host("a.example.com"), header("X-Env", "prod")],
        actions=[oidc(secret=None) | {"Order": 1}, {**forward(GROUPS[0]), "Order": 2}],
        tags={"team": "web"},
    )
    assert problems_of(rule) == []


@pytest.mark.parametrize("priority", [0, 50001, 10**30, -1])
def test_priorities_outside_1_to_50000(priority: int) -> None:
    assert problems_of(a_rule(priority=priority)) == [
        f"rules[0].priority: priority {priority} is outside 1..50000"
    ]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"conditions": []}, "rules[0].conditions: a rule needs at least one condition"),
        (
            {"conditions": [host("a"), host("b")]},
            "rules[0].conditions: 2 host-header conditions; a rule takes at most one",
        ),
        (
            {"conditions": [path("/1", "/2", "/3"), header("X", "a", "b", "c")]},
            "rules[0].conditions: 6 condition values; a rule takes at most 5",
        ),
        (
            {"conditions": [path("*a*", "*b*", "?c?")]},
            "rules[0].conditions: 6 wildcards; a rule takes at most 5",
        ),
        ({"conditions": [path("x" * 129)]}, "is longer than 128"),
        (
            {"conditions": [header("X" * 41, "v")]},
            "rules[0].conditions[0].HttpHeaderConfig.HttpHeaderName: header name is longer than 40",
        ),
        (
            {"conditions": [{"Field": "path-pattern", "PathPatternConfig": {}}]},
            "rules[0].conditions[0]: the path-pattern condition has no value",
        ),
        ({"tags": {"aws:owner": "x"}}, "rules[0].tags: tag key 'aws:owner' uses the reserved aws:"),
        (
            {"transforms": [REWRITE, REWRITE]},
            "rules[0].transforms: 2 url-rewrite transforms; a rule takes one",
        ),
        (
            {"transforms": [{"Type": "url-rewrite", "UrlRewriteConfig": {"Rewrites": []}}]},
            "rules[0].transforms[0]: a transform needs a rewrite",
        ),
        (
            {
                "transforms": [
                    {
                        "Type": "host-header-rewrite",
                        "HostHeaderRewriteConfig": {
                            "Rewrites": [{"Regex": "x" * 1025, "Replace": "y"}]
                        },
                    }
                ]
            },
            "rules[0].transforms[0]: Regex and Replace are at most 1024 characters",
        ),
    ],
)
def test_rule_limits(fields: dict[str, Any], problem: str) -> None:
    found = problems_of(a_rule(**fields))
    assert any(problem in p for p in found), found


def test_query_string_pairs_count_as_values() -> None:
    pairs = [{"Key": f"k{i}", "Value": "v"} for i in range(6)]
    rule = a_rule(conditions=[{"Field": "query-string", "QueryStringConfig": {"Values": pairs}}])
    assert problems_of(rule) == ["rules[0].conditions: 6 condition values; a rule takes at most 5"]
    assert problems_of(rule, Limits(condition_values_per_rule=6)) == []


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        ((), "actions: at least one action is required"),
        (({**fixed(), "Order": 50001},), "actions[0].Order: Order 50001 is outside 1..50000"),
        (({**fixed(), "Order": 1}, {**oidc(), "Order": 1}), "actions: 2 actions share Order 1"),
        ((fixed(), oidc()), "actions: every action needs an Order when there is more than one"),
        (
            ({**fixed(), "Order": 1}, {**fixed("503"), "Order": 2}),
            "actions: exactly one forward, redirect or fixed-response action is required, found 2",
        ),
        (
            ({**fixed(), "Order": 1}, {**oidc(), "Order": 2}),
            "actions[0]: the fixed-response action must come last by Order",
        ),
        (
            (forward(*[f"{TG_PREFIX}/g{i}/{i:016x}" for i in range(6)]),),
            "actions[0].ForwardConfig.TargetGroups: 6 target groups; an action takes at most 5",
        ),
        (
            (forward(GROUPS[0], GROUPS[0]),),
            "actions[0].ForwardConfig.TargetGroups: a target group is listed twice",
        ),
        (
            ({"TargetGroupArn": GROUPS[1], **forward(GROUPS[0])},),
            "actions[0]: TargetGroupArn and ForwardConfig name different target groups",
        ),
        (
            (
                {
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": [{"TargetGroupArn": GROUPS[0]}],
                        "TargetGroupStickinessConfig": {"Enabled": True},
                    },
                },
            ),
            "DurationSeconds is required when stickiness is enabled",
        ),
        (
            ({**oidc(), "Order": 1}, {**fixed(), "Order": 2}),
            "actions[0].AuthenticateOidcConfig.ClientSecret: a snapshot must not hold a client "
            "secret; pass it at restore time with --oidc-secret CLIENT_ID=SECRET_ARN",
        ),
    ],
)
def test_action_limits(items: tuple[dict[str, Any], ...], problem: str) -> None:
    found = [str(p) for p in check_actions(actions(*items), "actions", Limits())]
    assert any(problem in p for p in found), found


def test_every_problem_is_reported_not_just_the_first() -> None:
    rule = a_rule(
        priority=0,
        conditions=[host("a"), host("b")],
        actions=[{**fixed(), "Order": 1}, {**fixed("503"), "Order": 1}],
        tags={"aws:x": "1"},
    )
    found = problems_of(rule)
    assert len(found) >= 5
    assert [p.split(":")[0] for p in found][:2] == ["rules[0].priority", "rules[0].conditions"]


def test_duplicate_priorities_name_every_rule_that_has_it() -> None:
    rules = [a_rule(priority=10), a_rule(priority=20), a_rule(priority=10)]
    assert [str(p) for p in check_rules(rules, Limits())] == [
        "rules: priority 10 is used 2 times (rules[0], rules[2])"
    ]


def test_the_rule_quota_counts_the_other_listeners() -> None:
    assert check_rule_count(100, 0, Limits()) == []
    (alone,) = check_rule_count(101, 0, Limits())
    assert str(alone) == "rules: 101 rules is 101; the account allows 100 per load balancer"
    (shared,) = check_rule_count(60, 41, Limits())
    assert "60 rules plus 41 on its other listeners is 101" in str(shared)
    assert check_rule_count(60, 41, Limits(rules_per_load_balancer=200)) == []


def test_limits_come_from_describe_account_limits_where_given() -> None:
    limits = Limits.from_account_limits(
        [
            {"Name": "rules-per-application-load-balancer", "Max": "250"},
            {"Name": "target-groups-per-action-on-application-load-balancer", "Max": "5"},
            {"Name": "condition-values-per-alb-rule", "Max": "not a number"},
            {"Name": "listeners-per-application-load-balancer", "Max": "50"},
            {"Max": "7"},
        ]
    )
    assert limits == Limits(rules_per_load_balancer=250)
    assert Limits.from_account_limits([]) == Limits()
