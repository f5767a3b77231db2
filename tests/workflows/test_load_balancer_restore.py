"""The restore machine's load-balancer path: one execution restores every listener of a load
balancer, and a failure in one compensates every listener it changed. Outcomes are asserted
on the listeners afterwards, the locks, the audit record and the execution's history."""

from __future__ import annotations

from albrules.aws import Aws
from albrules.catalog import Catalog
from albrules.local import faults
from albrules.local.faults import MUTATING
from albrules.records import execution_name
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


def test_one_execution_restores_every_listener_of_a_load_balancer(stack: Stack) -> None:
    listeners = shop_balancer(stack)
    good = {arn: checksum(stack, arn) for arn in listeners}
    for listener in listeners:
        break_listener(stack, listener)

    result = stack.run("restore", {"load_balancer": "shop", "at": "0s"})

    assert result.status == "SUCCEEDED", result.cause
    assert {arn: checksum(stack, arn) for arn in listeners} == good
    catalog = Catalog(Aws(stack.session), stack.table)
    assert all(catalog.lock_holder(arn) is None for arn in listeners)
    audit = catalog.audit(result.execution_arn) or {}
    assert audit["outcome"] == "RESTORED"
    assert [(o["port"], o["status"]) for o in audit["listeners"]] == [
        (80, "restored"),
        (8080, "restored"),
        (8081, "restored"),
    ]
    visited = dict(states_visited(stack.history(result.execution_arn)))
    assert visited["Apply this listener's plan"] == 3
    assert "Wait for approval of the whole plan" not in visited  # ApprovalPolicy optional
    # each listener's records in its own folder of the execution's
    name = execution_name(result.execution_arn)
    journals = [k for k in stack.keys(f"pre-restore/{name}/") if k.endswith("journal.json")]
    assert len(journals) == 3


def test_a_failure_in_the_third_listener_compensates_every_listener(stack: Stack) -> None:
    listeners = shop_balancer(stack)
    for listener in listeners:
        break_listener(stack, listener)
    broken = {arn: checksum(stack, arn) for arn in listeners}
    # Four calls undo each broken listener: the third listener's first call fails.
    faults.inject(",".join(MUTATING), nth=9, code="InternalFailure")

    result = stack.run("restore", {"load_balancer": "shop", "at": "0s"})

    assert result.status == "FAILED" and result.error == "RestoreRolledBack", result.cause
    assert {arn: checksum(stack, arn) for arn in listeners} == broken
    catalog = Catalog(Aws(stack.session), stack.table)
    assert all(catalog.lock_holder(arn) is None for arn in listeners)
    audit = catalog.audit(result.execution_arn) or {}
    assert audit["outcome"] == "ROLLED_BACK"
    assert [(o["port"], o["status"]) for o in audit["listeners"]] == [
        (80, "rolled back"),
        (8080, "rolled back"),
        (8081, "rolled back"),  # its first call failed: checked as it was
    ]
    visited = dict(states_visited(stack.history(result.execution_arn)))
    assert visited["Roll back this listener"] == 3
    assert "Note that this listener's rollback failed" not in visited
    cause = result.cause or ""  # the notification, which names each listener
    for port in PORTS:
        assert f"- shop:{port}: rolled back to its pre-restore snapshot (checked)" in cause
