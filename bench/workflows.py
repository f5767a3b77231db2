"""The backup state machine: what it costs per listener, old design against new, and the batch
size.

Measured on the embedded local AWS with template.yaml deployed and the real ASL run by moto's
interpreter (with the local layer's ItemBatcher and Express children): per run, the parent's
state transitions (states entered, what Standard workflows are billed by) and history events,
the child executions, the Lambda invocations, and the ELBv2 read calls per listener. Prices are
AWS's published ones (see PRICES); the old design's figures come from its definition (one state
entered per listener, inline or in a Standard child) and its measured 7.0 history events per
listener (the benchmark of commit a9751be).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
from botocore.client import BaseClient
from moto import mock_aws

from albrules import accounts, workflows
from albrules.local import lambdas
from albrules.local.deploy import deploy

ROOT = Path(__file__).resolve().parent.parent
FLEET = 40
BATCH_SIZES = (1, 5, 20)
ROUND_SIZES = (5, 10, 20, 50)  # the defaults worth choosing between
LONG_NAME = "x" * 24  # load balancer names up to 32 characters: measure near the worst case
HOURS_A_MONTH = 730

# Published prices, us-east-1 (https://aws.amazon.com/step-functions/pricing/ and
# https://aws.amazon.com/lambda/pricing/, read for this benchmark; ../shared/notes/elbv2-facts.md).
PRICES = {
    "standard_transition": 0.025 / 1000,  # Standard workflows: per state transition
    "express_request": 1.00 / 1_000_000,  # Express: per request (child execution)
    "express_gb_second": 0.00001667,  # Express: duration, per GB-second (first tier)
    "express_min_gb": 0.0625,  # Express memory is billed in 64 MB chunks
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second_arm": 0.0000133334,
}
LAMBDA_GB = 0.5  # MemorySize 512 in template.yaml
# Documented or assumed AWS-side figures the local AWS cannot give (written down as such):
SECONDS_PER_LISTENER = 0.3  # assumed: ~6 API calls of ~50 ms each on AWS
DESCRIBE_REFILL = 10.0  # ELBv2 Describe* token bucket refill per second, per account and region
LAMBDA_TIMEOUT = 120  # SnapshotListenersFunction's Timeout in template.yaml
MAX_CONCURRENCY = 10  # template.yaml's MaxConcurrency default
OLD_TRANSITIONS_PER_LISTENER = 1  # one state entered per listener ("Back up the listener")
OLD_EVENTS_PER_LISTENER = 7.0  # measured on the old inline Map (commit a9751be)
FIXED_TRANSITIONS_OLD = 9  # settings, discover, choice, map, summarise, 2 choices, end (+1)


def quiet_change_rules(session: boto3.Session, deployment: Any) -> None:
    """Turn off the change-triggered backups' rules: the fleet a benchmark builds is a burst of
    CloudTrail events, whose change backups would add their reads to what is measured."""
    events = session.client("events")
    for logical_id, resource in deployment.resources.items():
        if resource.type != "AWS::Events::Rule" or "ListenerChange" not in logical_id:
            continue
        kwargs = {"Name": resource.physical_id}
        if "MemberAccount" in logical_id:  # the rule on the changes bus
            kwargs["EventBusName"] = deployment.outputs["ChangesEventBusArn"]
        events.disable_rule(**kwargs)


def two_subnets(ec2: Any) -> list[str]:
    """Two subnets in two zones of a new VPC: what an ALB needs."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in enumerate("ab", start=1)
    ]


def _fleet(session: boto3.Session, listeners: int) -> None:
    ec2, elb = session.client("ec2"), session.client("elbv2")
    subnets = two_subnets(ec2)
    fixed = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}
    for n in range(listeners):
        lb = elb.create_load_balancer(Name=f"{LONG_NAME}-{n:05d}", Subnets=subnets)
        listener = elb.create_listener(
            LoadBalancerArn=lb["LoadBalancers"][0]["LoadBalancerArn"],
            Protocol="HTTP",
            Port=80,
            DefaultActions=[fixed],
        )["Listeners"][0]["ListenerArn"]
        elb.create_rule(
            ListenerArn=listener,
            Priority=1,
            Conditions=[{"Field": "path-pattern", "Values": ["/a/*"]}],
            Actions=[fixed],
        )


class _Calls:
    """AWS calls made while it is on (every thread: the handlers run in the interpreter's)."""

    def __init__(self) -> None:
        self.made: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._original = BaseClient._make_api_call

    def __enter__(self) -> _Calls:
        calls, original = self, self._original

        def record(client: Any, operation: str, params: dict[str, Any]) -> Any:
            with calls._lock:
                calls.made[(client.meta.service_model.endpoint_prefix, operation)] += 1
            return original(client, operation, params)

        BaseClient._make_api_call = record  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        BaseClient._make_api_call = self._original  # type: ignore[method-assign]


def _run(listeners: int, batch_size: int) -> dict[str, Any]:
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    invocations: list[int] = []
    with mock_aws(config=config):
        session = boto3.Session(region_name="us-east-1")
        parameters = {"MemberExternalId": "bench", "BackupBatchSize": str(batch_size)}
        deployment = deploy(ROOT / "template.yaml", parameters, aws=session, save=False)
        quiet_change_rules(session, deployment)
        _fleet(session, listeners)
        lambdas.before_invoke(
            "SnapshotListenersFunction", lambda event, _: invocations.append(len(event["Items"]))
        )
        sfn = session.client("stepfunctions")
        payload = {"targets": [{"account_id": "123456789012", "region": "us-east-1"}]}
        started = time.perf_counter()
        with _Calls() as calls:
            outcome = workflows.run(
                sfn,
                "backup",
                deployment.outputs["BackupStateMachineArn"],
                payload,
                timeout=900,
                poll=0.1,
            )
        seconds = time.perf_counter() - started
        events = workflows.history(sfn, outcome.execution_arn)
        runs = sfn.list_map_runs(executionArn=outcome.execution_arn)["mapRuns"]
        counts = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"]) if runs else {}
        lambdas.clear_hooks()
        accounts.forget()
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.output["stored"] == listeners, outcome.output
    reads = sum(n for (svc, op), n in calls.made.items() if svc == "elasticloadbalancing")
    return {
        "listeners": listeners,
        "batch_size": batch_size,
        "transitions": sum(1 for e in events if e["type"].endswith("StateEntered")),
        "events": len(events),
        "children": counts.get("executionCounts", {}).get("total", len(invocations)),
        "invocations": len(invocations),
        "elb_reads_per_listener": reads / listeners,
        "seconds": seconds,
    }


def measure() -> list[dict[str, Any]]:
    return [_run(FLEET, size) for size in BATCH_SIZES]


# --- cost ---------------------------------------------------------------------------------------


def old_cost_per_listener() -> dict[str, float]:
    """The old design: one Lambda invocation and one Standard state transition per listener."""
    lam = (
        PRICES["lambda_request"] + LAMBDA_GB * SECONDS_PER_LISTENER * PRICES["lambda_gb_second_arm"]
    )
    sfn = OLD_TRANSITIONS_PER_LISTENER * PRICES["standard_transition"]
    return {"invocations": 1.0, "transitions": 1.0, "sfn": sfn, "lambda": lam}


def new_cost_per_listener(batch_size: int) -> dict[str, float]:
    """The new design: one Express child (a request and its duration) and one Lambda
    invocation per batch; the parent's transitions do not grow with the fleet."""
    batch_seconds = batch_size * SECONDS_PER_LISTENER + 0.1
    express = (
        PRICES["express_request"]
        + batch_seconds * PRICES["express_min_gb"] * PRICES["express_gb_second"]
    )
    lam = PRICES["lambda_request"] + LAMBDA_GB * batch_seconds * PRICES["lambda_gb_second_arm"]
    return {
        "invocations": 1 / batch_size,
        "transitions": 0.0,
        "sfn": express / batch_size,
        "lambda": lam / batch_size,
    }


def monthly(listeners: int, per_listener: dict[str, float], fixed_transitions: int) -> float:
    per_run = listeners * (per_listener["sfn"] + per_listener["lambda"])
    per_run += fixed_transitions * PRICES["standard_transition"]
    return per_run * HOURS_A_MONTH


def worst_batch_seconds(batch_size: int, reads_per_listener: float) -> float:
    """A batch's time when every batch running at once shares the account's Describe bucket."""
    return batch_size * reads_per_listener * MAX_CONCURRENCY / DESCRIBE_REFILL


def template_default() -> int:
    """BackupBatchSize's default in template.yaml."""
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((ROOT / "template.yaml").read_text())
    return int(template["Parameters"]["BackupBatchSize"]["Default"])


def section(rows: list[dict[str, Any]]) -> list[str]:
    fixed_new = rows[0]["transitions"]
    reads = rows[-1]["elb_reads_per_listener"]
    lines = [
        "## The backup state machine: cost per listener and the batch size",
        "",
        "template.yaml deployed on the local AWS and the real ASL run by moto's interpreter over "
        f"{FLEET} listeners (one rule each; load balancer names of {len(LONG_NAME) + 6} "
        "characters). "
        "One path for every fleet: a Distributed Map whose Express children back up a batch of "
        "listeners each. *Transitions* are the parent's states entered (what a Standard workflow "
        "is billed by); the children are Express (billed by request and duration).",
        "",
        "| batch size | parent transitions | parent history events | child executions "
        "| Lambda invocations | ELBv2 reads per listener | local time |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['batch_size']} | {r['transitions']} | {r['events']} | {r['children']} "
        f"| {r['invocations']} | {r['elb_reads_per_listener']:.1f} | {r['seconds']:.1f} s |"
        for r in rows
    ]
    old = old_cost_per_listener()
    lines += [
        "",
        "The parent's transitions and history stay the same whatever the fleet or the batch "
        f"({fixed_new} transitions a run); the old design added {OLD_EVENTS_PER_LISTENER} history "
        f"events and {OLD_TRANSITIONS_PER_LISTENER} transition per listener (inline up to 250 "
        "listeners, Standard children above).",
        "",
        "### Per listener backed up, and hourly backups for a month",
        "",
        "Prices: Standard $0.025 per 1,000 state transitions; Express $1.00 per million requests "
        "and $0.00001667 per GB-second in 64 MB steps; Lambda arm64 $0.20 per million requests "
        "and $0.0000133334 per GB-second (AWS Step Functions and AWS Lambda pricing pages, "
        f"us-east-1). Assumed: {SECONDS_PER_LISTENER} s of AWS calls per listener (the local AWS "
        "has no latency), 512 MB functions, 64 MB Express memory, 730 runs a month.",
        "",
        "| design | Lambda invocations | Standard transitions | Step Functions $ | Lambda $ "
        "| 1,000 listeners hourly, a month | 10,000 listeners hourly, a month |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| old (one invocation per listener) | {old['invocations']:.2f} "
        f"| {old['transitions']:.2f} | {old['sfn']:.8f} | {old['lambda']:.8f} "
        f"| ${monthly(1000, old, FIXED_TRANSITIONS_OLD):,.2f} "
        f"| ${monthly(10000, old, FIXED_TRANSITIONS_OLD):,.2f} |",
    ]
    for size in sorted({*BATCH_SIZES, 10, 50}):
        new = new_cost_per_listener(size)
        lines.append(
            f"| new, batches of {size} | {new['invocations']:.2f} | {new['transitions']:.2f} "
            f"| {new['sfn']:.8f} | {new['lambda']:.8f} | ${monthly(1000, new, fixed_new):,.2f} "
            f"| ${monthly(10000, new, fixed_new):,.2f} |"
        )
    limit = LAMBDA_TIMEOUT / 2
    best = max(s for s in range(1, 201) if worst_batch_seconds(s, reads) <= limit)
    chosen = max((s for s in ROUND_SIZES if s <= best), default=1)
    lines += [
        "",
        "### Backup batch size",
        "",
        f"A listener costs {reads:.1f} ELBv2 read calls (measured above). When "
        f"{MAX_CONCURRENCY} batches run at once (MaxConcurrency) and share the account's "
        f"Describe bucket (refilled at {DESCRIBE_REFILL:.0f} calls a second, documented), a batch "
        f"of N listeners takes about N x {reads:.1f} x {MAX_CONCURRENCY} / "
        f"{DESCRIBE_REFILL:.0f} seconds. The largest batch that stays within half of "
        f"the function's {LAMBDA_TIMEOUT} s timeout (room for retries, and well within an Express "
        f"execution's 5 minutes) is {best}. Past about 10, a bigger batch saves almost nothing "
        "more: the cost per listener is then mostly Lambda duration, the same for any batch. So "
        f"the default is the largest of {', '.join(map(str, ROUND_SIZES))} within {best}: "
        f"{chosen}. `BackupBatchSize` defaults to {template_default()}"
        + ("." if template_default() == chosen else " (NOT the figure chosen here: change one)."),
        "",
    ]
    return lines


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
