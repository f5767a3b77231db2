"""The snapshot document: canonical form, checksum, JSON/YAML, and capture's read calls."""

from __future__ import annotations

import json

import pytest

from albrules.canonical import canonical_action, canonical_condition, canonical_rule
from albrules.capture import capture_listener, capture_load_balancer
from albrules.local import elbv2 as fidelity
from albrules.snapshot import build_snapshot, dumps, loads
from local_world import fixed, forward, header, host, path, redirect

TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app/0123456789abcdef"


def test_legacy_values_fold_into_the_config_form():
    api = {
        "Field": "host-header",
        "Values": ["b.example.com", "a.example.com"],
        "HostHeaderConfig": {"Values": ["b.example.com", "a.example.com"]},
    }
    assert canonical_condition(api) == {
        "Field": "host-header",
        "HostHeaderConfig": {"Values": ["a.example.com", "b.example.com"]},
    }
    legacy_only = {"Field": "path-pattern", "Values": ["/x"]}
    assert canonical_condition(legacy_only) == {
        "Field": "path-pattern",
        "PathPatternConfig": {"Values": ["/x"]},
    }
    regex = {
        "Field": "http-header",
        "RegexValues": ["^a"],
        "HttpHeaderConfig": {"HttpHeaderName": "X"},
    }
    assert canonical_condition(regex)["HttpHeaderConfig"] == {
        "HttpHeaderName": "X",
        "RegexValues": ["^a"],
    }


def test_forward_defaults_are_dropped_the_same_way_every_time():
    plain = {"Type": "forward", "TargetGroupArn": TG}
    filled = {
        "Type": "forward",
        "Order": 1,
        "TargetGroupArn": TG,
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": TG, "Weight": 1}],
            "TargetGroupStickinessConfig": {"Enabled": False},
        },
    }
    assert canonical_action(plain, 1) == canonical_action(filled, 1)
    assert canonical_action(plain, 1)["ForwardConfig"] == {
        "TargetGroups": [{"TargetGroupArn": TG, "TargetGroupName": "app"}]
    }


def test_redirect_and_authenticate_defaults_are_dropped():
    filled = redirect(
        Host="#{host}", Port="#{port}", Path="/#{path}", Query="#{query}", Protocol="HTTPS"
    )
    assert canonical_action(filled, 1)["RedirectConfig"] == {
        "Protocol": "HTTPS",
        "StatusCode": "HTTP_301",
    }
    cognito = {
        "Type": "authenticate-cognito",
        "AuthenticateCognitoConfig": {
            "UserPoolArn": "arn:aws:cognito-idp:us-east-1:123456789012:userpool/p",
            "UserPoolClientId": "c",
            "UserPoolDomain": "d",
            "Scope": "openid",
            "SessionTimeout": 604800,
            "OnUnauthenticatedRequest": "authenticate",
            "SessionCookieName": "AWSELBAuthSessionCookie",
        },
    }
    assert set(canonical_action(cognito, 1)["AuthenticateCognitoConfig"]) == {
        "UserPoolArn",
        "UserPoolClientId",
        "UserPoolDomain",
    }


def test_actions_sort_by_order_and_renumber_and_conditions_sort():
    rule = {
        "priority": "7",
        "conditions": [path("/b"), host("x.example.com")],
        "actions": [
            {**forward(TG), "Order": 20},
            {
                "Type": "authenticate-cognito",
                "Order": 10,
                "AuthenticateCognitoConfig": {
                    "UserPoolArn": "p",
                    "UserPoolClientId": "c",
                    "UserPoolDomain": "d",
                },
            },
        ],
        "tags": {"b": "2", "a": "1"},
    }
    out = canonical_rule(rule)
    assert out["priority"] == 7
    assert [c["Field"] for c in out["conditions"]] == ["host-header", "path-pattern"]
    assert [(a["Type"], a["Order"]) for a in out["actions"]] == [
        ("authenticate-cognito", 1),
        ("forward", 2),
    ]
    assert list(out["tags"]) == ["a", "b"]


def test_two_captures_of_the_same_routing_have_the_same_checksum(world):
    lb = world.load_balancer()
    listener = world.listener(lb)
    tg = world.target_group("app")
    world.rule(
        listener,
        20,
        [path("/b/*"), header("X-Env", "prod", "canary")],
        [forward((tg, 2))],
        {"team": "a"},
    )
    world.rule(listener, 10, [host("a.example.com")], [redirect(Host="b.example.com")])
    first = build_snapshot(world.state(listener))
    second = build_snapshot(world.state(listener))
    assert first.checksum == second.checksum
    assert [r.priority for r in first.rules] == [10, 20]
    as_yaml, as_json = loads(dumps(first, "yaml"), "s.yaml"), loads(dumps(first, "json"), "s.json")
    assert as_yaml == as_json == first


def test_snapshot_records_everything_a_restore_needs(world):
    lb = world.load_balancer("shop")
    listener = world.listener(lb, 8080, forward(world.target_group("default")))
    tg = world.target_group("app")
    transforms = [
        {
            "Type": "url-rewrite",
            "UrlRewriteConfig": {"Rewrites": [{"Regex": "^/a", "Replace": "/"}]},
        }
    ]
    world.rule(
        listener,
        5,
        [path("/a*")],
        [forward((tg, 3), (world.target_group("b"), 1), sticky=60)],
        {"owner": "x"},
        transforms,
    )
    document = json.loads(dumps(build_snapshot(world.state(listener))))
    assert document["schema_version"] == 1
    assert document["source"]["listener_arn"] == listener
    assert document["source"]["load_balancer_name"] == "shop"
    assert document["source"]["port"] == 8080
    assert (
        document["default_actions"][0]["ForwardConfig"]["TargetGroups"][0]["TargetGroupName"]
        == "default"
    )
    rule = document["rules"][0]
    assert rule["transforms"] == transforms
    assert rule["tags"] == {"owner": "x"}
    groups = rule["actions"][0]["ForwardConfig"]["TargetGroups"]
    assert {g["TargetGroupName"]: g.get("Weight", 1) for g in groups} == {"app": 3, "b": 1}
    assert rule["actions"][0]["ForwardConfig"]["TargetGroupStickinessConfig"] == {
        "Enabled": True,
        "DurationSeconds": 60,
    }
    assert "arn" not in rule and "RuleArn" not in json.dumps(document)


@pytest.mark.parametrize("rules", [45, 401])
def test_capture_makes_the_minimum_read_calls(world, calls, rules):
    fidelity.CONFIG["rules_per_load_balancer"] = 1000
    listener = world.listener(world.load_balancer())
    for priority in range(1, rules + 1):
        world.rule(listener, priority, [path(f"/r{priority}")])
    calls.clear()
    state = capture_listener(world.aws, listener)
    assert len(state.rules) == rules
    pages = -(-(rules + 1) // 400)
    tag_batches = -(-rules // 20)
    assert calls.of("elasticloadbalancing") == (
        ["DescribeListeners"] + ["DescribeRules"] * pages + ["DescribeTags"] * tag_batches
    )


def test_capture_by_load_balancer_name_takes_every_listener(world):
    lb = world.load_balancer("shop")
    for port in (80, 443, 8080):
        world.rule(world.listener(lb, port), 1, [path(f"/{port}")], [fixed()])
    states = capture_load_balancer(world.aws, "shop")
    assert [s.source.port for s in states] == [80, 443, 8080]
    assert all(len(s.rules) == 1 for s in states)
