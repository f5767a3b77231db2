"""``make bench``: mutating calls, throttle-bound time, gaps, read calls, plan time, the backup
state machine's cost per listener and batch size (``bench/workflows.py``), the Lambda
package's size and handler import time (``bench/lambda_package.py``), the time and memory
of reading the largest snapshot accepted and refusing the ones that are not
(``bench/snapshot_reading.py``), the sweep's read calls against the fleet minimum
(``bench/reads.py``) and the monthly cost of change-triggered backups against an hourly
schedule (``bench/cost.py``).

Every number is measured on the embedded local AWS (moto + the fidelity layer, in process):
our restore and a naive one (delete every rule, then recreate every rule) are both run for
real, their calls counted with a botocore hook, and the listener inspected after each call.
Writes docs/benchmarks.md. ``python bench/run.py --only snapshot-reading`` measures that part
alone and rewrites only its section of the file; so do ``--only reads``, ``--only cost`` and
``--only rpo``.
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
    os.environ.pop(key, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from albrules import local  # noqa: E402
from albrules.aws import Aws  # noqa: E402
from albrules.canonical import conditions_key  # noqa: E402
from albrules.capture import capture_listener  # noqa: E402
from albrules.local import elbv2 as fidelity  # noqa: E402
from albrules.local import faults  # noqa: E402
from albrules.operations import CreateRule, request_for  # noqa: E402
from albrules.plan import plan_restore  # noqa: E402
from albrules.resolve import desired_from_snapshot  # noqa: E402
from albrules.restore import execute_restore, prepare_restore  # noqa: E402
from albrules.snapshot import build_snapshot  # noqa: E402
from albrules.store import Store  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cost  # noqa: E402
import lambda_package  # noqa: E402
import reads as fleet_reads  # noqa: E402
import rpo  # noqa: E402
import snapshot_reading  # noqa: E402
import workflows as backup_workflow  # noqa: E402
from sections import replace_section  # noqa: E402

SIZES = (10, 100, 1000)
FRACTIONS = (0.01, 0.10, 1.00)
BUCKET, REFILL = 20, 3.0  # mutating ELBv2 calls: a bucket of 20, refilled at 3 per second
MUTATING = set(faults.MUTATING)
OUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def throttle_seconds(calls: int) -> float:
    """Least time AWS's documented token bucket allows for ``calls`` back-to-back calls."""
    return max(0.0, (calls - BUCKET) / REFILL)


class Recorder:
    """Counts mutating calls and, after each, how many kept rules are missing."""

    def __init__(self, client: Any, listener: str, kept: Counter):
        self.client, self.listener, self.kept = client, listener, kept
        self.calls = 0
        self.gap_moments = 0
        self.worst_gap = 0

    def __call__(self, **kwargs: Any) -> None:
        if kwargs["model"].name not in MUTATING:
            return
        self.calls += 1
        present = Counter(conditions_key(r.conditions) for r in live_rules(self.listener))
        missing = sum(max(0, n - present[k]) for k, n in self.kept.items())
        if missing:
            self.gap_moments += 1
            self.worst_gap = max(self.worst_gap, missing)

    def __enter__(self) -> Recorder:
        self.client.meta.events.register("after-call.elastic-load-balancing-v2", self)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.client.meta.events.unregister("after-call.elastic-load-balancing-v2", self)


def live_rules(listener: str) -> list[Any]:
    backend = fidelity.elbv2_models.elbv2_backends["123456789012"]["us-east-1"]
    for balancer in backend.load_balancers.values():
        if listener in balancer.listeners:
            return [r for r in balancer.listeners[listener].rules.values() if not r.is_default]
    return []


class Site:
    """A load balancer in the local AWS with four target groups."""

    def __init__(self, session: boto3.Session):
        self.session = session
        self.elb = session.client("elbv2")
        ec2 = session.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{az}"
            )["Subnet"]["SubnetId"]
            for i, az in enumerate("ab", start=1)
        ]
        self.lb = self.elb.create_load_balancer(Name="bench", Subnets=subnets)["LoadBalancers"][0][
            "LoadBalancerArn"
        ]
        self.groups = [
            self.elb.create_target_group(Name=f"tg{i}", Protocol="HTTP", Port=80, VpcId=vpc)[
                "TargetGroups"
            ][0]["TargetGroupArn"]
            for i in range(4)
        ]
        self.port = 1000

    def listener(self, size: int) -> str:
        self.port += 1
        arn = self.elb.create_listener(
            LoadBalancerArn=self.lb,
            Protocol="HTTP",
            Port=self.port,
            DefaultActions=[
                {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}
            ],
        )["Listeners"][0]["ListenerArn"]
        for i in range(size):
            self.elb.create_rule(
                ListenerArn=arn,
                Priority=10 * (i + 1),
                Conditions=[
                    {"Field": "path-pattern", "PathPatternConfig": {"Values": [f"/svc{i}/*"]}}
                ],
                Actions=[
                    {
                        "Type": "forward",
                        "ForwardConfig": {
                            "TargetGroups": [{"TargetGroupArn": self.groups[i % 4], "Weight": 1}]
                        },
                    }
                ],
                Tags=[{"Key": "team", "Value": f"t{i % 7}"}],
            )
        return arn

    def drop(self, listener: str) -> None:
        self.elb.delete_listener(ListenerArn=listener)


def damage(site: Site, listener: str, fraction: float, seed: int) -> int:
    """Change ``fraction`` of the rules: actions edited, tags edited, deleted, or swapped."""
    rules = [
        {"RuleArn": r.arn, "Priority": r.priority}
        for r in sorted(live_rules(listener), key=lambda r: int(r.priority))
    ]
    count = max(1, round(len(rules) * fraction))
    chosen = random.Random(seed).sample(range(len(rules)), count)
    swaps = []
    for n, index in enumerate(sorted(chosen)):
        rule = rules[index]
        kind = n % 4
        if kind == 0:
            site.elb.modify_rule(
                RuleArn=rule["RuleArn"],
                Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}],
            )
        elif kind == 1:
            site.elb.add_tags(
                ResourceArns=[rule["RuleArn"]], Tags=[{"Key": "team", "Value": "oops"}]
            )
        elif kind == 2:
            site.elb.delete_rule(RuleArn=rule["RuleArn"])
        else:
            swaps.append(rule)
    for first, second in zip(swaps[::2], swaps[1::2], strict=False):
        site.elb.set_rule_priorities(
            RulePriorities=[
                {"RuleArn": first["RuleArn"], "Priority": int(second["Priority"])},
                {"RuleArn": second["RuleArn"], "Priority": int(first["Priority"])},
            ]
        )
    return count


def naive_restore(client: Any, listener: str, snapshot: Any) -> None:
    """What scripts usually do: delete every rule, then create every rule of the snapshot."""
    for rule in list(live_rules(listener)):
        client.delete_rule(RuleArn=rule.arn)
    desired = desired_from_snapshot(snapshot)
    for rule in desired.rules:
        op = CreateRule(
            listener_arn=listener,
            priority=rule["priority"],
            conditions=rule["conditions"],
            actions=rule["actions"],
            transforms=rule["transforms"],
            tags=rule["tags"],
        )
        method, kwargs = request_for(op, {})
        getattr(client, method)(**kwargs)


def kept_rules(before: list[Any], snapshot: Any) -> Counter:
    old = Counter(conditions_key(r.conditions) for r in before)
    new = Counter(
        conditions_key([c.model_dump(exclude_none=True) for c in r.conditions])
        for r in snapshot.rules
    )
    return Counter({k: min(old[k], new[k]) for k in old if new[k]})


def measure(site: Site, aws: Aws, size: int, fraction: float, tmp: Path) -> dict[str, Any]:
    row: dict[str, Any] = {"size": size, "fraction": fraction}
    for who in ("ours", "naive"):
        listener = site.listener(size)
        snapshot = build_snapshot(capture_listener(aws, listener))
        row["changed"] = damage(site, listener, fraction, seed=size * 1000 + int(fraction * 100))
        kept = kept_rules(live_rules(listener), snapshot)
        with Recorder(aws.elbv2, listener, kept) as recorder:
            if who == "ours":
                prepared = prepare_restore(aws, snapshot)
                outcome = execute_restore(aws, prepared, pre_restore_store=Store(str(tmp)))
                assert outcome.status == "RESTORED", outcome.message
            else:
                naive_restore(aws.elbv2, listener, snapshot)
        assert build_snapshot(capture_listener(aws, listener)).checksum == snapshot.checksum
        row[f"{who}_calls"] = recorder.calls
        row[f"{who}_gaps"] = recorder.gap_moments
        row[f"{who}_worst_gap"] = recorder.worst_gap
        site.drop(listener)
    return row


def read_calls(site: Site, aws: Aws, size: int) -> tuple[int, int]:
    listener = site.listener(size)
    made: list[str] = []

    def count(**kwargs: Any) -> None:
        made.append(kwargs["model"].name)

    aws.elbv2.meta.events.register("before-call.elastic-load-balancing-v2", count)
    capture_listener(aws, listener)
    aws.elbv2.meta.events.unregister("before-call.elastic-load-balancing-v2", count)
    site.drop(listener)
    minimum = 1 + -(-(size + 1) // 400) + -(-size // 20)
    return len(made), minimum


def plan_time(site: Site, aws: Aws, size: int, fraction: float) -> float:
    listener = site.listener(size)
    snapshot = build_snapshot(capture_listener(aws, listener))
    damage(site, listener, fraction, seed=7)
    live = capture_listener(aws, listener)
    desired = desired_from_snapshot(snapshot)
    samples = []
    for _ in range(7):
        start = time.perf_counter()
        plan_restore(live, desired)
        samples.append(time.perf_counter() - start)
    site.drop(listener)
    return statistics.median(samples)


def main() -> None:
    started = time.perf_counter()
    local.install()
    fidelity.CONFIG["rules_per_load_balancer"] = 10000  # a raised quota, to model large listeners
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "albrules-bench"
    rows, reads, plans = [], [], []
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        site, aws = Site(session), Aws(session)
        for size in SIZES:
            for fraction in FRACTIONS:
                rows.append(measure(site, aws, size, fraction, tmp))
                print(f"measured {size} rules, {fraction:.0%} changed", file=sys.stderr)
            reads.append((size, *read_calls(site, aws, size)))
        for fraction in (0.10, 1.00):
            plans.append((fraction, plan_time(site, aws, 1000, fraction)))
    flows = backup_workflow.measure()
    print("measured the backup state machine", file=sys.stderr)
    package = lambda_package.run()
    print("measured the Lambda package", file=sys.stderr)
    reading = snapshot_reading.measure()
    print("measured reading snapshots", file=sys.stderr)
    sweep_reads = fleet_reads.measure()
    print("measured the sweep's read calls", file=sys.stderr)
    recovery = rpo.measure()
    print("measured the recovery point of change-triggered backups", file=sys.stderr)
    write(
        rows,
        reads,
        plans,
        flows,
        package,
        reading,
        sweep_reads,
        recovery,
        time.perf_counter() - started,
    )


def only_snapshot_reading() -> None:
    """Measure reading snapshots alone; rewrite only its section of docs/benchmarks.md."""
    section = snapshot_reading.section(snapshot_reading.measure())
    only_section(snapshot_reading.HEADING, section, "snapshot-reading")


def only_section(heading: str, lines: list[str], what: str) -> None:
    """Rewrite only one section of docs/benchmarks.md (inserted before the notes if new)."""
    OUT.write_text(replace_section(OUT.read_text(), heading, lines))
    print(f"rewrote the {what} section of {OUT}", file=sys.stderr)


ONLY = {
    "snapshot-reading": only_snapshot_reading,
    "reads": lambda: only_section(
        fleet_reads.HEADING, fleet_reads.section(fleet_reads.measure()), "reads"
    ),
    "cost": lambda: only_section(cost.HEADING, cost.section(), "cost"),
    "rpo": lambda: only_section(rpo.HEADING, rpo.section(rpo.measure()), "RPO"),
}


def package_section(package: dict[str, Any] | None) -> list[str]:
    """The layer's size and each handler's import time (bench/lambda_package.py)."""
    if package is None:
        return ["## The Lambda package", "", "Not measured: no Python 3.13 was found.", ""]
    times = package["times_ms"]
    lines = [
        "## The Lambda package: layer size and handler import time",
        "",
        "The layer built by `make build-EngineLayer` (what `sam build` runs) for this machine's "
        "platform; each `functions/<task>/app.py` imported in a fresh Python "
        f"{package['python']} with only its folder and the layer on its path, as a cold start "
        f"does (median of {lambda_package.RUNS} runs).",
        "",
        f"Layer, unpacked: {package['layer_bytes'] / 1e6:.1f} MB. Largest parts: "
        + ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in package["layer_packages"])
        + ".",
        "",
        "| function | import time (median) | fastest run |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {name} | {ms:.0f} ms | {package['fastest_ms'][name]:.0f} ms |"
        for name, ms in times.items()
    ]
    lines += [
        "",
        "Importing the SDK, pydantic and Powertools' Logger and Metrics alone "
        f"(`{lambda_package.FLOOR}`) takes {package['floor_ms']:.0f} ms (median) on the same "
        "machine: what any handler pays before the first line of albrules.",
        "",
        f"Slowest: {package['slowest']} ({times[package['slowest']]:.0f} ms); where its import "
        "time goes (self time by top-level package, from a run with `-X importtime`, which "
        "slows it): " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in package["breakdown"]) + ".",
        "",
    ]
    return lines


def write(
    rows: list[dict],
    reads: list[tuple],
    plans: list[tuple],
    flows: list[dict],
    package: dict[str, Any] | None,
    reading: dict[str, Any],
    sweep_reads: list[dict[str, Any]],
    recovery: dict[str, Any],
    elapsed: float,
) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"({platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} cores), in {elapsed:.0f} s. Every figure is measured on the embedded "
        "local AWS; nothing is estimated except the throttle-bound time, which is computed "
        "from the measured call counts.",
        "",
        "## Mutating calls: albrules against a naive restore",
        "",
        "A listener of N rules (path conditions, forward actions, a tag each) is backed up, then "
        "a fraction of its rules is changed in equal shares: actions replaced by a 503, tag "
        "edited, rule deleted, rule swapped in priority with another changed rule. Both "
        "restores are then run for real and end with the listener equal to the snapshot "
        "(checked by checksum). The "
        "naive restore deletes every rule and recreates every rule. Time is the least AWS's "
        "documented throttle for mutating ELBv2 calls allows (a bucket of 20, refilled at 3 per "
        "second, per account and region). A *gap* is a mutating call after which a rule present "
        "both before and after the restore is missing from the listener.",
        "",
        "| rules | changed | albrules calls | naive calls | naive / albrules | albrules time "
        "| naive time | albrules gaps | naive gaps (worst missing) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = r["naive_calls"] / r["ours_calls"] if r["ours_calls"] else float("inf")
        lines.append(
            f"| {r['size']} | {r['changed']} ({r['fraction']:.0%}) | {r['ours_calls']} "
            f"| {r['naive_calls']} | {ratio:.1f}x | {throttle_seconds(r['ours_calls']):.1f} s | "
            f"{throttle_seconds(r['naive_calls']):.1f} s | {r['ours_gaps']} | "
            f"{r['naive_gaps']} ({r['naive_worst_gap']} rules) |"
        )
    lines += [
        "",
        "albrules makes one call per changed rule (ModifyRule, AddTags, CreateRule) plus one "
        "SetRulePriorities for all the moves; the naive restore makes 2N calls whatever changed.",
        "",
        "## Read calls per listener for a backup",
        "",
        "The API minimum is 1 DescribeListeners + ceil((N+1)/400) DescribeRules pages (the default "
        "rule is listed too) + ceil(N/20) DescribeTags batches.",
        "",
        "| rules | albrules read calls | API minimum |",
        "|---:|---:|---:|",
    ]
    lines += [f"| {size} | {made} | {minimum} |" for size, made, minimum in reads]
    lines += [
        "",
        "## Plan time for 1000 rules",
        "",
        "Median of 7 runs of the planner alone (matching, diff, schedule), in process.",
        "",
        "| rules changed | plan time |",
        "|---:|---:|",
    ]
    lines += [f"| {fraction:.0%} | {seconds * 1000:.0f} ms |" for fraction, seconds in plans]
    lines += ["", *backup_workflow.section(flows)]
    lines += package_section(package)
    lines += snapshot_reading.section(reading)
    lines += fleet_reads.section(sweep_reads)
    lines += rpo.section(recovery)
    lines += cost.section()
    lines += [
        "## Notes",
        "",
        "- The local AWS's rule quota was raised to 10,000 to model listeners of 1000 rules; "
        "AWS's default is 100 rules per load balancer (adjustable).",
        "- Throttle-bound times ignore latency and the shared account-level bucket (40, "
        "refilled at 10 per second), so real restores are slower; the ratio between the two holds.",
        "",
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--only" and sys.argv[2] in ONLY:
        local.install()
        ONLY[sys.argv[2]]()
    elif sys.argv[1:]:
        sys.exit(f"usage: python bench/run.py [--only {'|'.join(ONLY)}]")
    else:
        main()
