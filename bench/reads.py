"""Read calls per sweep against the fleet minimum (issue 12, "Reads at fleet scale").

For each fleet shape, template.yaml is deployed on a fresh local AWS, the fleet is made, and
the backup state machine (discovery, then the Distributed Map's batches) is run for real; every
ELBv2 call made in the process is counted (``bench/workflows.py``'s hook on botocore, every
thread). The *fleet minimum* is what the API allows at best for one read of every listener:
one DescribeLoadBalancers page per 400 load balancers, one DescribeListeners per load balancer,
ceil((rules + 1) / 400) DescribeRules pages per listener (the default rule is listed too) and
ceil(all rules / 20) DescribeTags. *Before* is issue 11's code, computed from it: one
DescribeListeners for the load balancer (discovery), then per listener its own DescribeListeners,
its DescribeRules pages and ceil(rules / 20) DescribeTags.

``python bench/run.py --only reads`` measures this part alone and rewrites its section.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import boto3
from moto import mock_aws

import workflows as backup_workflow
from albrules import accounts, workflows
from albrules.local import elbv2 as fidelity
from albrules.local.deploy import deploy

HEADING = "## Reads: read calls per sweep against the fleet minimum"
BATCH_SIZE = 10  # template.yaml's BackupBatchSize default
RATE = 5  # template.yaml's DescribeCallsPerSecond default: the bench runs paced, as AWS would


@dataclass(frozen=True)
class Shape:
    name: str
    load_balancers: int
    listeners: int  # per load balancer
    rules: int  # per listener

    @property
    def all_listeners(self) -> int:
        return self.load_balancers * self.listeners

    @property
    def all_rules(self) -> int:
        return self.all_listeners * self.rules


SHAPES = (
    Shape("the issue's figure", 1, 10, 2),
    Shape("a shared ALB fleet", 5, 4, 30),
    Shape("one listener past a DescribeRules page", 1, 1, 450),
    Shape("small ALBs: tags across load balancers", 10, 1, 3),
    Shape("many batches", 30, 2, 1),
)


def _pages(n: int, size: int) -> int:
    return -(-n // size)


def fleet_minimum(shape: Shape) -> dict[str, int]:
    return {
        "DescribeLoadBalancers": _pages(shape.load_balancers, 400),
        "DescribeListeners": shape.load_balancers,
        "DescribeRules": shape.all_listeners * _pages(shape.rules + 1, 400),
        "DescribeTags": _pages(shape.all_rules, 20),
    }


def before(shape: Shape) -> int:
    """Issue 11's code: per listener a DescribeListeners of its own and its own DescribeTags."""
    per_listener = 1 + _pages(shape.rules + 1, 400) + _pages(shape.rules, 20)
    return 1 + shape.load_balancers + shape.all_listeners * per_listener


def _fleet(session: boto3.Session, shape: Shape) -> None:
    ec2, elb = session.client("ec2"), session.client("elbv2")
    subnets = backup_workflow.two_subnets(ec2)
    fixed = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}
    for b in range(shape.load_balancers):
        lb = elb.create_load_balancer(Name=f"fleet-{b:03d}", Subnets=subnets)
        lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
        for n in range(shape.listeners):
            listener = elb.create_listener(
                LoadBalancerArn=lb_arn, Protocol="HTTP", Port=8000 + n, DefaultActions=[fixed]
            )["Listeners"][0]["ListenerArn"]
            for p in range(1, shape.rules + 1):
                elb.create_rule(
                    ListenerArn=listener,
                    Priority=p,
                    Conditions=[{"Field": "path-pattern", "Values": [f"/{p}/*"]}],
                    Actions=[fixed],
                    Tags=[{"Key": "id", "Value": str(p)}],
                )


def _run(shape: Shape) -> dict[str, Any]:
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    saved = dict(fidelity.CONFIG)
    fidelity.CONFIG["rules_per_load_balancer"] = 10000  # a raised quota, for the big shapes
    try:
        with mock_aws(config=config):
            session = boto3.Session(region_name="us-east-1")
            parameters = {
                "MemberExternalId": "bench",
                "BackupBatchSize": str(BATCH_SIZE),
                "DescribeCallsPerSecond": str(RATE),
            }
            deployment = deploy(
                backup_workflow.ROOT / "template.yaml", parameters, aws=session, save=False
            )
            backup_workflow.quiet_change_rules(session, deployment)
            _fleet(session, shape)
            sfn = session.client("stepfunctions")
            payload = {"targets": [{"account_id": "123456789012", "region": "us-east-1"}]}
            started = time.perf_counter()
            with backup_workflow._Calls() as calls:
                outcome = workflows.run(
                    sfn,
                    "backup",
                    deployment.outputs["BackupStateMachineArn"],
                    payload,
                    timeout=900,
                    poll=0.1,
                )
            seconds = time.perf_counter() - started
            accounts.forget()
    finally:
        fidelity.CONFIG.clear()
        fidelity.CONFIG.update(saved)
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.output["stored"] == shape.all_listeners, outcome.output
    made = {op: n for (svc, op), n in calls.made.items() if svc == "elasticloadbalancing"}
    return {"shape": shape, "made": made, "seconds": seconds}


def measure() -> list[dict[str, Any]]:
    return [_run(shape) for shape in SHAPES]


def section(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        HEADING,
        "",
        "The backup state machine (template.yaml deployed on the local AWS, the real ASL run by "
        "moto's interpreter: discovery, then the Distributed Map's batches of "
        f"{BATCH_SIZE}) over a fresh fleet of each shape, paced at the default "
        f"DescribeCallsPerSecond of {RATE}; every ELBv2 call counted. The fleet minimum: one "
        "DescribeLoadBalancers page per 400 load balancers, one DescribeListeners per load "
        "balancer, ceil((rules + 1) / 400) DescribeRules pages per listener, ceil(all rules / "
        "20) DescribeTags. *Before* is issue 11's code (each listener its own DescribeListeners "
        "and its own DescribeTags), computed. Run this part alone with "
        "`python bench/run.py --only reads`.",
        "",
        "| fleet | load balancers x listeners x rules | DescribeLoadBalancers | "
        "DescribeListeners | DescribeRules | DescribeTags | read calls | fleet minimum | before "
        "| local time |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        shape, made = row["shape"], row["made"]
        minimum = fleet_minimum(shape)
        cells = [
            f"{made.get(op, 0)} ({minimum[op]})"
            if made.get(op, 0) != minimum[op]
            else str(minimum[op])
            for op in minimum
        ]
        lines.append(
            f"| {shape.name} | {shape.load_balancers} x {shape.listeners} x {shape.rules} | "
            + " | ".join(cells)
            + f" | {sum(made.values())} | {sum(minimum.values())} | {before(shape)} "
            f"| {row['seconds']:.1f} s |"
        )
    over = [r for r in rows if sum(r["made"].values()) != sum(fleet_minimum(r["shape"]).values())]
    lines += [
        "",
        "A cell shows the measured count, with the minimum in brackets where they differ. "
        + (
            "Every shape is read in its fleet minimum."
            if not over
            else "Above the minimum: DescribeTags batches are filled within one Map batch "
            "(one Lambda invocation), so a sweep of many batches pays up to one partial "
            "DescribeTags batch per Map batch; and a batch whose descriptions from discovery "
            "are older than 30 s describes its listeners again (one call per batch; not "
            "reached on the local AWS, where batches start at once)."
        ),
        "",
        "- **Consistency.** A listener's snapshot takes its description from discovery's "
        "DescribeListeners only when that was read at most 30 s before its batch starts; "
        "otherwise the batch reads it again, so a snapshot's parts are read close together even "
        "when a large sweep runs for an hour. Its tags are read in the same invocation after its "
        "rules (a DescribeTags batch goes as soon as 20 rule ARNs are waiting, the rest at the "
        "end of the batch).",
        "- **Pacing.** Each batch takes DescribeCallsPerSecond divided by the batches that run "
        "at once (MaxConcurrency, or fewer batches); the time above includes that pacing.",
        "- **Before**, for the first shape, is 32 through the machine (discovery's 2 calls, "
        "then 3 a listener); the CLI's `albrules backup --load-balancer` took 22 (no discovery, "
        "but a DescribeTags per listener) and now takes 13 "
        "(tests/integration/test_fleet_reads.py; the machine's 13: "
        "tests/workflows/test_fleet_reads.py).",
        "- **Documented** ([Request throttling for the ELB API]"
        "(https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling"
        ".html)): ELBv2 throttles each account per Region with token buckets; Describe calls "
        "have a bucket of 40 refilled at 10 a second; the console's and other tools' calls draw "
        "on it; services calling on your behalf (EC2, ECS, Auto Scaling, CloudFormation) have "
        "their own. **Not documented**: whether every Describe action shares one bucket or each "
        "has its own (albrules assumes one), whether an account-level bucket over all ELB "
        "calls binds first, and how many ARNs one DescribeListeners may name or whether they "
        "may span load balancers (albrules sends a batch's, at most BackupBatchSize; moto "
        "accepts any).",
        "",
    ]
    return lines
