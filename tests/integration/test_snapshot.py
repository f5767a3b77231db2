"""The snapshot document: canonical form, checksum, JSON/YAML, and capture's read calls."""

from __future__ import annotations

import json

import pytest

from albrules.capture import capture_listener, capture_load_balancer
from albrules.local import elbv2 as fidelity
from albrules.snapshot import build_snapshot, dumps, loads
from rule_builders import fixed, forward, header, host, path, redirect


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
    assert document["schema_version"] == 2
    assert document["listener"]["protocol"] == "HTTP" and document["listener"]["port"] == 8080
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
    tag_batches = -(-(rules + 2) // 20)  # the listener, its default rule and its rules
    assert calls.of("elasticloadbalancing") == (
        ["DescribeListeners"]
        + ["DescribeRules"] * pages
        + ["DescribeListenerAttributes"]  # HTTP: no certificates to read
        + ["DescribeTags"] * tag_batches
        + ["DescribeLoadBalancers"]  # the scheme and type
    )


def test_capture_by_load_balancer_name_takes_every_listener(world):
    lb = world.load_balancer("shop")
    for port in (80, 443, 8080):
        world.rule(world.listener(lb, port), 1, [path(f"/{port}")], [fixed()])
    states = capture_load_balancer(world.aws, "shop")
    assert [s.source.port for s in states] == [80, 443, 8080]
    assert all(len(s.rules) == 1 for s in states)
