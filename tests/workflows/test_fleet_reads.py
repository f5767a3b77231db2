"""Reads at fleet scale through the backup state machine (issue 12): discovery's one
DescribeListeners per load balancer is handed to the batch, whose DescribeTags go in batches
of 20 rule ARNs across its listeners; counted on the local AWS, every thread."""

from __future__ import annotations

from typing import Any

from local_world import Calls
from rule_builders import fixed, path
from stack import Stack


def fleet(stack: Stack, name: str, listeners: int, rules: int) -> list[str]:
    world = stack.world
    lb = world.load_balancer(name)
    arns = []
    for n in range(listeners):
        listener = world.listener(lb, 8000 + n)
        for priority in range(1, rules + 1):
            tags = {"id": f"{n}.{priority}"}
            world.rule(listener, priority, [path(f"/{n}/{priority}")], [fixed()], tags)
        arns.append(listener)
    return arns


def stored(stack: Stack) -> list[dict[str, Any]]:
    return [stack.read_json(k) for k in stack.keys("snapshots/") if k.endswith(".json")]


def test_the_backup_machine_backs_up_10_listeners_of_2_rules_in_25_read_calls(
    stack: Stack, calls: Calls
) -> None:
    fleet(stack, "fleet", 10, 2)
    calls.clear()

    result = stack.run("backup", stack.backup_targets(load_balancers=["fleet"]), timeout=120)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output["stored"] == 10
    # format 2: each listener's attributes too, 40 ARNs tagged (listeners, default rules,
    # rules) in 2 batches of 20, and the load balancer's scheme and type for the batch
    half = ["DescribeRules", "DescribeListenerAttributes"] * 5 + ["DescribeTags"]
    assert calls.of("elasticloadbalancing") == (
        ["DescribeLoadBalancers", "DescribeListeners", *half, *half, "DescribeLoadBalancers"]
    )
    documents = stored(stack)
    assert len(documents) == 10
    for document in documents:  # each rule's own tags, though read in one call for all
        n = document["source"]["port"] - 8000
        assert [r["tags"] for r in document["rules"]] == [{"id": f"{n}.1"}, {"id": f"{n}.2"}]


def test_a_sweep_of_every_load_balancer_reads_tags_across_listeners(
    stack: Stack, calls: Calls
) -> None:
    fleet(stack, "a", 3, 5)
    fleet(stack, "b", 2, 5)  # 35 ARNs in one batch: 2 DescribeTags, not 5
    calls.clear()

    result = stack.run("backup", stack.backup_targets(), timeout=120)

    assert result.status == "SUCCEEDED", result.cause
    made = calls.of("elasticloadbalancing")
    assert sorted(made) == sorted(
        ["DescribeLoadBalancers"] * 2  # discovery's, and the batch's (scheme and type)
        + ["DescribeListeners"] * 2
        + ["DescribeRules"] * 5
        + ["DescribeListenerAttributes"] * 5
        + ["DescribeTags"] * 2
    )
    assert len(stored(stack)) == 5
