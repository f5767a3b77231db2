"""The restore machine's load-balancer path: one execution restores every listener of a load
balancer (one that was deleted recreated, with ``"recreate_listener": true``), and a failure in
one compensates every listener it changed. Outcomes are asserted on the listeners afterwards,
the locks, the audit record, the history and the execution's history."""

from __future__ import annotations

from typing import Any

from albrules.aws import Aws
from albrules.catalog import Catalog
from albrules.local import faults
from albrules.local.faults import MUTATING
from albrules.records import execution_name
from albrules.recreate import lock_key
from albrules.workflows import states_visited
from rule_builders import forward, path
from stack import Stack, break_listener, checksum

PORTS = (80, 8080, 8081)


def shop_balancer(stack: Stack) -> list[str]:
    """Load balancer "shop": three listeners of four rules each, backed up by the backup
    machine (each listener's version in the catalog)."""
    world = stack.world
    lb = world.load_balancer("shop")
    group = world.target_group("shop-app")
    listeners = []
    for n, port in enumerate(PORTS):
        listener = world.listener(lb, port)
        for i in range(1, 5):
            world.rule(listener, i * 10, [path(f"/{n}/{i}/*")], [forward(group)], {"n": str(i)})
        listeners.append(listener)
    result = stack.run("backup", stack.backup_targets(load_balancers=["shop"]))
    assert result.status == "SUCCEEDED", result.cause
    return listeners


def broken_and_deleted(stack: Stack) -> tuple[str, list[str], dict[str, Any], dict[str, str]]:
    """Issue 13's disaster: the first two listeners of "shop" broken, the third deleted.
    (The load balancer, the listeners, the third as its backup recorded it, ARNs apart, and
    the checksums of the first two as backed up.)"""
    listeners = shop_balancer(stack)
    lb = stack.world.elb.describe_listeners(ListenerArns=[listeners[0]])["Listeners"][0][
        "LoadBalancerArn"
    ]
    third = stack.world.state(listeners[2])
    good = {arn: checksum(stack, arn) for arn in listeners[:2]}
    for listener in listeners[:2]:
        break_listener(stack, listener)
    stack.world.elb.delete_listener(ListenerArn=listeners[2])
    return lb, listeners, without_arns(third), good


def without_arns(state: Any) -> dict[str, Any]:
    return {
        "rules": [r.model_dump(exclude={"arn"}) for r in state.rules],
        "default_actions": state.default_actions,
        "listener": state.listener,
    }


def listeners_on(stack: Stack, lb: str) -> dict[int, str]:
    found = stack.world.elb.describe_listeners(LoadBalancerArn=lb)["Listeners"]
    return {int(item["Port"]): item["ListenerArn"] for item in found}


def test_one_execution_restores_two_broken_listeners_and_recreates_a_deleted_one(
    stack: Stack,
) -> None:
    lb, listeners, third, good = broken_and_deleted(stack)
    request = {"load_balancer": "shop", "at": "0s", "recreate_listener": True}

    result = stack.run("restore", request)

    assert result.status == "SUCCEEDED", result.cause
    assert {arn: checksum(stack, arn) for arn in listeners[:2]} == good
    new = listeners_on(stack, lb)[8081]
    assert new != listeners[2]
    assert without_arns(stack.world.state(new)) == third  # recreated as its backup recorded it
    catalog = Catalog(Aws(stack.session), stack.table)
    locks = [*listeners[:2], lock_key(lb, 8081)]
    assert all(catalog.lock_holder(key) is None for key in locks)
    audit = catalog.audit(result.execution_arn) or {}
    assert audit["outcome"] == "RESTORED"
    assert [(o["port"], o["status"], o["listener_arn"]) for o in audit["listeners"]] == [
        (80, "restored", listeners[0]),
        (8080, "restored", listeners[1]),
        (8081, "recreated", new),
    ]
    assert audit["listeners"][2]["old_listener_arn"] == listeners[2]
    (link,) = [v for v in catalog.history(listeners[2]) if v.kind == "recreation"]
    assert link.recreated_as == new and link.execution_arn == result.execution_arn
    visited = dict(states_visited(stack.history(result.execution_arn)))
    assert visited["Apply this listener's plan"] == 3
    assert "Wait for approval of the whole plan" not in visited  # ApprovalPolicy optional
    # each listener's records in its own folder of the execution's
    name = execution_name(result.execution_arn)
    journals = [k for k in stack.keys(f"pre-restore/{name}/") if k.endswith("journal.json")]
    assert len(journals) == 3
    plan = stack.read_json(f"plans/{name}/port-8081.json")
    assert plan["recreate"]["old_listener_arn"] == listeners[2]


def test_a_failure_in_the_recreated_listener_compensates_every_listener(stack: Stack) -> None:
    lb, listeners, _third, _good = broken_and_deleted(stack)
    broken = {arn: checksum(stack, arn) for arn in listeners[:2]}
    # Four calls undo each broken listener, the 9th creates the third: its next one fails.
    faults.inject(",".join(MUTATING), nth=10, code="InternalFailure")
    request = {"load_balancer": "shop", "at": "0s", "recreate_listener": True}

    result = stack.run("restore", request)

    assert result.status == "FAILED" and result.error == "RestoreRolledBack", result.cause
    assert {arn: checksum(stack, arn) for arn in listeners[:2]} == broken
    assert sorted(listeners_on(stack, lb)) == [80, 8080]  # the listener created, deleted again
    catalog = Catalog(Aws(stack.session), stack.table)
    locks = [*listeners[:2], lock_key(lb, 8081)]
    assert all(catalog.lock_holder(key) is None for key in locks)
    audit = catalog.audit(result.execution_arn) or {}
    assert audit["outcome"] == "ROLLED_BACK"
    assert [(o["port"], o["status"]) for o in audit["listeners"]] == [
        (80, "rolled back"),
        (8080, "rolled back"),
        (8081, "deleted"),
    ]
    created = audit["listeners"][2]["listener_arn"]
    assert created and created != listeners[2]
    assert audit["listeners"][2]["old_listener_arn"] == listeners[2]
    assert not [v for v in catalog.history(listeners[2]) if v.kind == "recreation"]
    visited = dict(states_visited(stack.history(result.execution_arn)))
    assert visited["Roll back this listener"] == 3
    assert "Note that this listener's rollback failed" not in visited
    cause = result.cause or ""  # the notification, which names each listener
    for port in PORTS[:2]:
        assert f"- shop:{port}: rolled back to its pre-restore snapshot (checked)" in cause
    assert "- shop:8081: recreated, then deleted again" in cause
    assert listeners[2] in cause and created in cause
