"""Restores of any size (issue 13, section 4): a 1,000-rule listener restored through the
restore machine under a throttle of mutating calls that needs longer than one invocation of
the apply function succeeds in several slices, and so does its rollback.

The numbers make the slices certain, not a matter of speed: the apply and rollback functions'
timeouts are shortened (``lambdas.set_timeout``: TIMEOUT seconds) and the local AWS lets RATE
mutating calls a second through (bucket BURST, ``throttle.set_mutating_rate``). Each slice
keeps a quarter of its 20 s as reserve, so it makes at most 15 s of calls. The restore
recreates DELETED rules: at least (DELETED - BURST) / RATE = 19 s of calls, two slices at
least; its rollback deletes the FAILS_AT - 1 rules it made: (FAILS_AT - 1 - BURST) / RATE =
17.8 s, two at least. Each call is made once (the journal), and verify runs once per phase.

The timeout is long enough that a slice's fixed work (its first reads the whole 1,000-rule
listener, seconds in the local AWS, and more on a loaded machine) never uses it up. With 8 s,
a CI run on two busy cores entered the rollback state only once: most likely its invocations
timed out and Step Functions' retries of that state finished it from the journal. A failed
count now shows the execution's failed tasks."""

from __future__ import annotations

from typing import Any

from albrules.local import elbv2, faults, lambdas, throttle
from stack import Stack, checksum, shop
from workflows.test_retried_apply import journal_of
from workflows.test_workflows import (
    BAD_REQUEST,
    audit,
    back_up,
    lock_of,
    rules_of,
    snapshot_key,
    state_names,
)

RULES = 1000
DELETED = 100
FAILS_AT = 95  # the CreateRule of the second restore that fails
TIMEOUT = 20.0  # the apply and rollback functions': a first slice reads the whole listener
RATE = 5.0
BURST = 5.0


def delete_rules(stack: Stack, listener: str, count: int) -> None:
    for rule in stack.world.state(listener).rules[:count]:
        stack.world.elb.delete_rule(RuleArn=rule.arn)


def steps_done(journal: list[dict[str, Any]], phase: str) -> list[int]:
    return [
        e["step"]
        for e in journal
        if e.get("phase") == phase and e.get("step") and e.get("status") == "done"
    ]


def failed_tasks(stack: Stack, execution_arn: str) -> list[str]:
    """The errors of the execution's failed tasks (a timeout is ``Sandbox.Timedout``)."""
    return [
        e["taskFailedEventDetails"].get("error", "")
        for e in stack.history(execution_arn)
        if "taskFailedEventDetails" in e
    ]


def test_a_1000_rule_restore_and_its_rollback_run_in_several_slices_under_a_throttle(
    stack: Stack,
) -> None:
    quota = elbv2.CONFIG["rules_per_load_balancer"]
    elbv2.CONFIG["rules_per_load_balancer"] = RULES + 100
    try:
        listener = shop(stack, "big", rules=RULES)
        back_up(stack)
        wanted = checksum(stack, listener)
        delete_rules(stack, listener, DELETED)
        lambdas.set_timeout(stack.deployment.physical_id("ApplyPlanFunction"), TIMEOUT)
        lambdas.set_timeout(stack.deployment.physical_id("RollBackFunction"), TIMEOUT)
        throttle.set_mutating_rate(RATE, burst=BURST)

        restored = stack.run("restore", {"snapshot": snapshot_key(stack, listener)}, timeout=240)

        assert restored.status == "SUCCEEDED", restored.cause
        names = state_names(stack, restored.execution_arn)
        assert names.count("Apply the plan") >= 2, failed_tasks(stack, restored.execution_arn)
        assert names.count("Verify the listener") == 1
        assert audit(stack, restored.execution_arn)["outcome"] == "RESTORED"
        assert checksum(stack, listener) == wanted  # the listener equals the snapshot
        journal = journal_of(stack, restored.execution_arn)
        assert steps_done(journal, "restore") == list(range(1, DELETED + 1))  # each call once
        assert [e for e in journal if e.get("call") == "SliceEnded"]
        assert lock_of(stack, listener) is None

        # Broken again, and the restore fails late: its rollback runs in slices too.
        throttle.set_mutating_rate(None)
        delete_rules(stack, listener, DELETED)
        broken = rules_of(stack, listener)
        throttle.set_mutating_rate(RATE, burst=BURST)
        faults.inject("CreateRule", nth=FAILS_AT, **BAD_REQUEST)

        failed = stack.run("restore", {"snapshot": snapshot_key(stack, listener)}, timeout=240)

        assert failed.error == "RestoreRolledBack", failed.cause
        names = state_names(stack, failed.execution_arn)
        slices = names.count("Roll back to the pre-restore snapshot")
        assert slices >= 2, failed_tasks(stack, failed.execution_arn)
        assert names.count("Verify the rollback") == 1
        record = audit(stack, failed.execution_arn)
        assert record["outcome"] == "ROLLED_BACK"
        assert f"step {FAILS_AT} of {DELETED}" in record["error"]["Cause"]
        throttle.set_mutating_rate(None)
        assert rules_of(stack, listener) == broken  # every rule the restore made, deleted
        journal = journal_of(stack, failed.execution_arn)
        assert steps_done(journal, "restore") == list(range(1, FAILS_AT))
        rollback = [e for e in journal if e.get("phase") == "rollback" and e.get("step")]
        assert sum(e["status"] == "done" for e in rollback) == FAILS_AT - 1
        assert len({e["slice"] for e in rollback}) >= 2
        assert lock_of(stack, listener) is None
    finally:
        throttle.set_mutating_rate(None)
        elbv2.CONFIG["rules_per_load_balancer"] = quota
