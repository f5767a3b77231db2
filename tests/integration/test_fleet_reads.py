"""Reads at fleet scale (issue 12): a load balancer's listeners in one DescribeListeners, and
DescribeTags in batches of 20 rule ARNs across listeners, counted on the local AWS."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from albrules.arns import parse_listener_arn
from albrules.capture import capture_load_balancer, describe_listeners, read_listeners
from albrules.cli import app
from albrules.errors import AlbRulesError
from albrules.local import faults
from rule_builders import fixed, path


def fleet(world, name: str, listeners: int, rules: int) -> list[str]:
    """A load balancer of ``listeners`` listeners of ``rules`` rules, each rule tagged with
    its own value (so tags given to the wrong rule would show)."""
    lb = world.load_balancer(name)
    arns = []
    for n in range(listeners):
        listener = world.listener(lb, 8000 + n)
        for priority in range(1, rules + 1):
            world.rule(
                listener, priority, [path(f"/{n}/{priority}")], [fixed()], {"id": f"{n}.{priority}"}
            )
        arns.append(listener)
    return arns


def test_backing_up_a_load_balancer_of_10_listeners_takes_24_read_calls(world, calls, tmp_path):
    fleet(world, "fleet", 10, 2)
    out = tmp_path / "backups"
    calls.clear()

    result = CliRunner().invoke(app, ["backup", "--load-balancer", "fleet", "--out", str(out)])

    assert result.exit_code == 0, result.stderr
    # each listener's rules and attributes (HTTP: no certificates); tags of 40 ARNs (the
    # listeners, their default rules and their rules) in 2 batches of 20, sent once full
    half = ["DescribeRules", "DescribeListenerAttributes"] * 5 + ["DescribeTags"]
    assert calls.of("elasticloadbalancing") == (
        ["DescribeLoadBalancers", "DescribeListeners", *half, *half]
    )
    documents = [json.loads(p.read_text()) for p in sorted(Path(out).rglob("*.json"))]
    assert len(documents) == 10
    for document in documents:
        n = document["source"]["port"] - 8000
        assert [r["tags"] for r in document["rules"]] == [{"id": f"{n}.1"}, {"id": f"{n}.2"}]


def test_tags_are_read_in_batches_of_20_across_listeners(world, calls):
    listeners = fleet(world, "tags", 4, 7)  # 36 ARNs: 2 DescribeTags, not one per listener
    calls.clear()

    states = capture_load_balancer(world.aws, "tags")

    assert calls.of("elasticloadbalancing").count("DescribeTags") == 2
    assert [s.source.listener_arn for s in states] == listeners
    for n, state in enumerate(states):
        assert [r.tags for r in state.rules] == [{"id": f"{n}.{p}"} for p in range(1, 8)]


def test_a_failed_read_stops_a_cli_capture_at_once(world, calls):
    fleet(world, "broken", 3, 1)
    faults.inject("DescribeRules", code="AccessDenied", times=0)
    calls.clear()
    result = CliRunner().invoke(app, ["backup", "--load-balancer", "broken", "--out", "x"])
    assert result.exit_code != 0 and "elasticloadbalancing:DescribeRules" in result.stderr
    assert calls.of("elasticloadbalancing").count("DescribeRules") == 1  # not one per listener
    assert "DescribeTags" not in calls.of("elasticloadbalancing")


def test_a_failed_tags_batch_is_sent_again_per_listener_so_only_one_listener_fails(world, calls):
    """As when a rule is deleted between its listener's DescribeRules and the shared
    DescribeTags (what AWS answers then is not confirmed; moto answers without the rule), the
    batch of 6 rule ARNs fails, and then the first listener's own 2 fail again."""
    first, second, third = fleet(world, "race", 3, 2)  # 6 rules: one DescribeTags for all
    described = describe_listeners(world.aws, [first, second, third])
    items = [(parse_listener_arn(arn), listener) for arn, listener in described.items()]
    faults.inject("DescribeTags", code="RuleNotFound", times=2)

    calls.clear()
    results = read_listeners(world.aws, items)

    assert isinstance(results[first], AlbRulesError), results[first]
    for listener in (second, third):
        state = results[listener]
        assert not isinstance(state, AlbRulesError), state
        n = (state.source.port or 0) - 8000
        assert [r.tags for r in state.rules] == [{"id": f"{n}.1"}, {"id": f"{n}.2"}]
    assert calls.of("elasticloadbalancing").count("DescribeTags") == 4  # 1 for 6, then 1 each
