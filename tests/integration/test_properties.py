"""Property-based tests of the planner and the restore, on the local AWS.

For random listeners A and snapshots B: restoring B on A yields B; planning B against B is
empty; no rule present in both A and B is ever missing during the restore; a rule whose
conditions A and B share is never deleted and recreated; and with a failure injected at each
mutating call k of the plan, the listener ends equal to A after the rollback.
"""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, given, settings

from albrules.canonical import conditions_key
from albrules.local import elbv2 as fidelity
from albrules.local import faults
from albrules.restore import execute_restore, prepare_restore
from albrules.store import Store
from listeners import Bench, content, listener_pairs, live_keys
from local_world import MUTATING

EXAMPLES = int(os.environ.get("ALBRULES_HYPOTHESIS_EXAMPLES", "60"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=os.environ.get("CI") is not None,
)


def bench_for(world) -> Bench:
    if not hasattr(world, "bench"):
        fidelity.CONFIG["rules_per_load_balancer"] = 100000
        world.bench = Bench(world)
    return world.bench


def key_counts(rules) -> Counter:
    return Counter(conditions_key(r["conditions"]) for r in rules)


@PROPERTY
@given(pair=listener_pairs())
def test_restore_yields_the_snapshot_gap_free_and_minimal(world, aws, tmp_path, pair):
    bench = bench_for(world)
    a, b = pair
    listener = bench.listener(a)
    snapshot = bench.snapshot(b, listener)
    prepared = prepare_restore(aws, snapshot)
    before = key_counts([r.model_dump() for r in prepared.live.rules])
    after = key_counts(prepared.desired.rules)
    kept = {k: min(before[k], after[k]) for k in before if after[k]}

    def still_there(**_):
        present = Counter()
        backend_keys = live_keys(listener)
        for key in kept:
            present[key] = 1 if key in backend_keys else 0
        missing = [k for k in kept if not present[k]]
        assert not missing, f"rules present before and after went missing: {missing}"

    aws.elbv2.meta.events.register("after-call.elastic-load-balancing-v2", still_there)
    try:
        outcome = execute_restore(aws, prepared, pre_restore_store=Store(str(tmp_path / "pre")))
    finally:
        aws.elbv2.meta.events.unregister("after-call.elastic-load-balancing-v2", still_there)
    assert outcome.status in ("RESTORED", "NO_CHANGES"), outcome.message

    # restore(B) on A yields B
    assert content(world.state(listener)) == prepared.desired.rules
    # plan(B -> B) is empty
    assert prepare_restore(aws, snapshot).plan.empty

    # never delete and recreate what can be modified; one reorder at most
    ops = prepared.plan.operations
    created = Counter(conditions_key(op.conditions) for op in ops if op.op == "create-rule")
    deleted = Counter(conditions_key(op.conditions) for op in ops if op.op == "delete-rule")
    for key in created.keys() & deleted.keys():
        raise AssertionError(f"deleted and recreated a rule with conditions {key}")
    for key, count in created.items():
        assert count <= after[key] - min(before[key], after[key])
    assert sum(op.op == "set-rule-priorities" for op in ops) <= 1
    bench.drop(listener)


@settings(PROPERTY, max_examples=max(EXAMPLES // 3, 5))
@given(pair=listener_pairs())
def test_a_failure_at_any_call_is_rolled_back_to_the_original(world, aws, tmp_path, pair):
    bench = bench_for(world)
    a, b = pair
    probe = bench.listener(a)
    steps = len(prepare_restore(aws, bench.snapshot(b, probe)).plan.operations)
    bench.drop(probe)
    for k in range(1, steps + 1):
        listener = bench.listener(a)
        original = content(world.state(listener))
        snapshot = bench.snapshot(b, listener)
        prepared = prepare_restore(aws, snapshot)
        faults.clear()
        faults.inject(",".join(MUTATING), nth=k, code="InternalFailure")
        outcome = execute_restore(aws, prepared, pre_restore_store=Store(str(tmp_path / "pre")))
        faults.clear()
        assert outcome.status == "ROLLED_BACK", f"step {k}: {outcome.message}"
        assert content(world.state(listener)) == original, f"failure at step {k} of {steps}"
        bench.drop(listener)
