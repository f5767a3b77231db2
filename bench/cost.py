"""What protection costs a month in Step Functions and Lambda (issue 12, "Cost"): change-triggered
backups plus a daily sweep, against an hourly schedule, for 1,000 and 10,000 listeners.

Computed from AWS's published prices (``bench/workflows.py``'s PRICES: the AWS Step Functions
and AWS Lambda pricing pages, us-east-1) and the figures stated in ASSUMED; nothing here runs on
the local AWS except what other sections measured (the sweep's 7 parent transitions, its read
calls). ``python bench/run.py --only cost`` rewrites this section alone.
"""

from __future__ import annotations

import json
import math
from typing import Any

import reads
import workflows as backup_workflow
from workflows import HOURS_A_MONTH, LAMBDA_GB, PRICES

HEADING = "## Cost: change-triggered backups and a daily sweep against an hourly schedule"
CHANGES_ASL = backup_workflow.ROOT / "statemachine" / "changes.asl.json"
FLEETS = (1_000, 10_000)
DAYS_A_MONTH = 365 / 12
SWEEP_PARENT_TRANSITIONS = 7  # measured ("The backup state machine" section)
BATCH_SIZE = 10  # BackupBatchSize default
MAX_CONCURRENCY = 10  # MaxConcurrency default
RATE = 5.0  # DescribeCallsPerSecond default
ASSUMED = {
    "listeners_per_load_balancer": 2,
    "rules_per_listener": 10,
    "seconds_per_call": 0.05,  # an ELBv2 call's latency on AWS (the local AWS has none)
    "note_seconds": 0.2,  # NoteListenerChangeFunction: one DynamoDB update, maybe a StartExecution
    "backup_seconds": 0.5,  # BackUpChangedListenerFunction: ~3 reads, S3 put, catalog writes
    "events_per_burst": 4,  # CloudTrail events of one change (e.g. 2 CreateRule, a ModifyRule...)
    "extra_waits_per_burst": 0.5,  # settle loops: events still coming when the wait ends
}
CHANGE_RATES = (0.1, 1.0)  # bursts of changes per listener per day
# Estimated when statemachine/changes.asl.json is not on this branch: wait, back up, is it
# quiet?, notify?, done; each extra settle loop: wait, back up, is it quiet? again.
# TODO(issue 12, part "change"): counted from statemachine/changes.asl.json once it is merged.
ESTIMATED_BURST_TRANSITIONS = 5
ESTIMATED_LOOP_TRANSITIONS = 3


def burst_transitions() -> tuple[int, str]:
    """Transitions of one change-triggered execution on its shortest path (no extra settle
    loop, no notification): counted from changes.asl.json when it exists, else estimated."""
    if not CHANGES_ASL.exists():
        return ESTIMATED_BURST_TRANSITIONS, "estimated (statemachine/changes.asl.json not merged)"
    states = json.loads(CHANGES_ASL.read_text())
    seen: list[str] = []
    name = states["StartAt"]
    while name and name not in seen:
        seen.append(name)
        state = states["States"][name]
        if state.get("End") or state["Type"] in ("Succeed", "Fail"):
            break
        name = state.get("Next") or state.get("Default")
    return len(seen), "counted from statemachine/changes.asl.json (StartAt, Next and Default)"


def reads_per_listener(listeners: int) -> float:
    """A sweep's read calls per listener for a fleet of the assumed shape (the fleet minimum,
    which the Reads section measures the sweep reaching)."""
    per_lb = ASSUMED["listeners_per_load_balancer"]
    shape = reads.Shape(
        "assumed", math.ceil(listeners / per_lb), per_lb, ASSUMED["rules_per_listener"]
    )
    return sum(reads.fleet_minimum(shape).values()) / listeners


def sweep(listeners: int) -> dict[str, float]:
    """One paced sweep: its Step Functions and Lambda dollars, read calls, and wall time."""
    calls = reads_per_listener(listeners) * listeners
    batches = math.ceil(listeners / BATCH_SIZE)
    at_once = min(MAX_CONCURRENCY, batches)
    share = RATE / at_once
    per_batch_calls = calls / batches
    batch_seconds = max(per_batch_calls / share, per_batch_calls * ASSUMED["seconds_per_call"])
    express = batches * (
        PRICES["express_request"]
        + batch_seconds * PRICES["express_min_gb"] * PRICES["express_gb_second"]
    )
    lam = batches * (
        PRICES["lambda_request"] + LAMBDA_GB * batch_seconds * PRICES["lambda_gb_second_arm"]
    )
    discovery_seconds = math.ceil(listeners / ASSUMED["listeners_per_load_balancer"]) / RATE
    lam += PRICES["lambda_request"] + LAMBDA_GB * discovery_seconds * PRICES["lambda_gb_second_arm"]
    sfn = express + SWEEP_PARENT_TRANSITIONS * PRICES["standard_transition"]
    return {"sfn": sfn, "lambda": lam, "calls": calls, "seconds": calls / RATE}


def old_hourly(listeners: int) -> dict[str, float]:
    """The old design (one Standard transition and one Lambda invocation per listener)."""
    per = backup_workflow.old_cost_per_listener()
    fixed = backup_workflow.FIXED_TRANSITIONS_OLD * PRICES["standard_transition"]
    return {
        "sfn": HOURS_A_MONTH * (listeners * per["sfn"] + fixed),
        "lambda": HOURS_A_MONTH * listeners * per["lambda"],
    }


def change_triggered(listeners: int, bursts_per_day: float) -> dict[str, float]:
    """Change-triggered backups a month: per burst a Standard execution and its backup
    invocations, per CloudTrail event a NoteListenerChange invocation."""
    transitions, _ = burst_transitions()
    bursts = listeners * bursts_per_day * DAYS_A_MONTH
    loops = ASSUMED["extra_waits_per_burst"]
    sfn = (
        bursts * (transitions + loops * ESTIMATED_LOOP_TRANSITIONS) * PRICES["standard_transition"]
    )
    events = bursts * ASSUMED["events_per_burst"]
    note = events * (
        PRICES["lambda_request"]
        + LAMBDA_GB * ASSUMED["note_seconds"] * PRICES["lambda_gb_second_arm"]
    )
    backups = bursts * (1 + loops)
    backup = backups * (
        PRICES["lambda_request"]
        + LAMBDA_GB * ASSUMED["backup_seconds"] * PRICES["lambda_gb_second_arm"]
    )
    return {"sfn": sfn, "lambda": note + backup}


def rows() -> list[dict[str, Any]]:
    table = []
    for listeners in FLEETS:
        one = sweep(listeners)
        old = old_hourly(listeners)
        table.append(
            {
                "listeners": listeners,
                "design": "old: hourly, one transition and invocation per listener",
                "sfn": old["sfn"],
                "lambda": old["lambda"],
                "reads_hour": listeners * 4.0,  # measured: 4 reads per listener (old capture)
            }
        )
        table.append(
            {
                "listeners": listeners,
                "design": "issue 11: hourly sweep (Distributed Map, paced)",
                "sfn": one["sfn"] * HOURS_A_MONTH,
                "lambda": one["lambda"] * HOURS_A_MONTH,
                "reads_hour": one["calls"],
            }
        )
        for rate in CHANGE_RATES:
            change = change_triggered(listeners, rate)
            daily = DAYS_A_MONTH
            table.append(
                {
                    "listeners": listeners,
                    "design": f"issue 12: changes ({rate:g} a listener a day) + daily sweep",
                    "sfn": change["sfn"] + one["sfn"] * daily,
                    "lambda": change["lambda"] + one["lambda"] * daily,
                    "reads_hour": one["calls"] / 24,
                }
            )
    return table


def section() -> list[str]:
    transitions, how = burst_transitions()
    budget = 10 * 3600  # documented Describe refill, a second, for an hour
    lines = [
        HEADING,
        "",
        "Monthly Step Functions and Lambda dollars, computed from AWS's published prices "
        "(Standard $0.025 per 1,000 state transitions, "
        "[AWS Step Functions pricing](https://aws.amazon.com/step-functions/pricing/); Express "
        "$1.00 per million requests and $0.00001667 per GB-second in 64 MB steps; Lambda arm64 "
        "$0.20 per million requests and $0.0000133334 per GB-second, "
        "[AWS Lambda pricing](https://aws.amazon.com/lambda/pricing/); us-east-1). "
        "Run this part alone with `python bench/run.py --only cost`.",
        "",
        "| listeners | design | Step Functions $ a month | Lambda $ a month | total | "
        "sweep Describe calls an hour (share of the documented 36,000) |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for row in rows():
        lines.append(
            f"| {row['listeners']:,} | {row['design']} | ${row['sfn']:,.2f} | "
            f"${row['lambda']:,.2f} | ${row['sfn'] + row['lambda']:,.2f} | "
            f"{row['reads_hour']:,.0f} ({row['reads_hour'] / budget:.0%}) |"
        )
    big = sweep(10_000)
    lines += [
        "",
        "Assumed (not measured): a fleet of "
        f"{ASSUMED['listeners_per_load_balancer']} listeners per load balancer and "
        f"{ASSUMED['rules_per_listener']} rules per listener, so a sweep reads "
        f"{reads_per_listener(10_000):.2f} calls per listener (the fleet minimum, which the "
        f"Reads section measures the sweep reaching); {ASSUMED['seconds_per_call'] * 1000:.0f} "
        "ms per ELBv2 call; 512 MB functions (Globals), 64 MB Express memory; "
        f"NoteListenerChangeFunction {ASSUMED['note_seconds']} s per CloudTrail event, "
        f"BackUpChangedListenerFunction {ASSUMED['backup_seconds']} s per invocation; "
        f"{ASSUMED['events_per_burst']} CloudTrail events per burst of changes and "
        f"{ASSUMED['extra_waits_per_burst']} extra settle loops per burst "
        f"({ESTIMATED_LOOP_TRANSITIONS} transitions each); 730 hours and "
        f"{DAYS_A_MONTH:.1f} days a month.",
        "",
        f"- **A burst's transitions**: {transitions}, {how}.",
        "- **The sweep is paced** (DescribeCallsPerSecond 5, divided among the 10 batches that "
        "run at once), so its batch functions are billed while they wait for tokens: a sweep of "
        f"10,000 listeners takes about {big['seconds'] / 60:.0f} minutes of wall time, so "
        "**an hourly sweep of 10,000 listeners at the default pace would not finish within "
        "the hour**. The waiting costs Lambda duration in proportion to MaxConcurrency; a lower "
        "MaxConcurrency reads as fast (the Describe budget, not the concurrency, bounds it) "
        "for less.",
        "- **The old design's** figure (1 transition per listener) gives about $180 a month in "
        'transitions for 10,000 listeners hourly, not the issue\'s "over $1,000": that would '
        "take about 5.5 transitions per listener, which the old definition (one state entered "
        "per listener, measured in commit a9751be) does not make. Its reads: 4 calls per "
        "listener, 40,000 an hour for 10,000 listeners, more than the account's whole "
        "documented Describe refill (36,000 an hour).",
        "- Not counted: EventBridge (AWS service events on the default bus are free per "
        "EventBridge pricing; events forwarded from member accounts to the central bus are "
        "billed as cross-account events; not confirmed here), CloudTrail (the first copy of "
        "management events is free), DynamoDB, S3, KMS and CloudWatch.",
        "",
    ]
    return lines
