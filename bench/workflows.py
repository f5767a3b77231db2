"""The backup state machine at fleet sizes: history events and state payload per listener.

Measured on the embedded local AWS with template.yaml deployed and the real ASL run by moto's
interpreter. These are the two numbers that decide when a backup must leave the inline Map for
the Distributed Map (docs/workflows.md, "Scale"): a Standard execution's history holds 25,000
events and a state's payload 256 KiB.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from albrules import accounts, workflows
from albrules.local.deploy import deploy

ROOT = Path(__file__).resolve().parent.parent
FLEETS = (10, 50, 100)
HISTORY_LIMIT = 25_000
PAYLOAD_LIMIT = 256 * 1024
LONG_NAME = "x" * 24  # load balancer names up to 32 characters: measure near the worst case


def _fleet(session: boto3.Session, listeners: int) -> None:
    ec2, elb = session.client("ec2"), session.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in enumerate("ab", start=1)
    ]
    for n in range(listeners):
        name = f"{LONG_NAME}-{n:05d}"
        lb = elb.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0]
        fixed = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}
        listener = elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=[fixed]
        )["Listeners"][0]["ListenerArn"]
        elb.create_rule(
            ListenerArn=listener,
            Priority=1,
            Conditions=[{"Field": "path-pattern", "Values": ["/a/*"]}],
            Actions=[fixed],
        )


def _payloads(events: list[dict[str, Any]]) -> int:
    largest = 0
    for event in events:
        for key, value in event.items():
            if key.endswith("EventDetails") and isinstance(value, dict):
                for field in ("input", "output"):
                    if isinstance(value.get(field), str):
                        largest = max(largest, len(value[field].encode()))
    return largest


def _run(listeners: int, inline_limit: int) -> dict[str, Any]:
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with mock_aws(config=config):
        session = boto3.Session(region_name="us-east-1")
        deployment = deploy(
            ROOT / "template.yaml",
            {"MemberExternalId": "bench", "InlineMapLimit": str(inline_limit)},
            aws=session,
            save=False,
        )
        _fleet(session, listeners)
        sfn = session.client("stepfunctions")
        payload = {"targets": [{"account_id": "123456789012", "region": "us-east-1"}]}
        started = time.perf_counter()
        outcome = workflows.run(
            sfn, "backup", deployment.outputs["BackupStateMachineArn"], payload, timeout=900,
            poll=0.1,
        )
        seconds = time.perf_counter() - started
        events = workflows.history(sfn, outcome.execution_arn)
        accounts.forget()
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.output["stored"] == listeners, outcome.output
    return {
        "listeners": listeners,
        "map": "inline" if listeners <= inline_limit else "distributed",
        "events": len(events),
        "largest_payload": _payloads(events),
        "seconds": seconds,
    }


def measure() -> list[dict[str, Any]]:
    rows = [_run(n, 250) for n in FLEETS]
    rows.append(_run(FLEETS[-1], 10))  # the same fleet through the Distributed Map
    return rows


def section(rows: list[dict[str, Any]]) -> list[str]:
    inline = [r for r in rows if r["map"] == "inline"]
    a, b = inline[0], inline[-1]
    span = b["listeners"] - a["listeners"]
    per_event = (b["events"] - a["events"]) / span
    per_byte = (b["largest_payload"] - a["largest_payload"]) / span
    lines = [
        "## The backup state machine: history and payload per listener",
        "",
        "template.yaml deployed on the local AWS and the real ASL run by moto's interpreter, over "
        f"listeners of load balancers with {len(LONG_NAME) + 6}-character names (near the "
        "32-character maximum, so ARNs and keys are near their longest). *Largest payload* is the "
        "largest state input or output in the execution's history.",
        "",
        "| listeners | Map | history events | largest payload | local time |",
        "|---:|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r['listeners']} | {r['map']} | {r['events']} | {r['largest_payload']:,} B "
        f"| {r['seconds']:.1f} s |"
        for r in rows
    ]
    lines += [
        "",
        f"Inline, each listener adds {per_event:.1f} history events and {per_byte:.0f} bytes to "
        "the largest state. Against AWS's limits that allows about "
        f"{HISTORY_LIMIT / per_event:,.0f} listeners by history and about "
        f"{PAYLOAD_LIMIT / per_byte:,.0f} by payload, so the payload decides, and "
        "`InlineMapLimit` defaults to 250. Through the Distributed Map the parent's history and "
        "payload stay the same size whatever the fleet (items and results are in S3).",
        "",
    ]
    return lines


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
