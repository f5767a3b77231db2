"""Builders for tests against the local AWS: conditions and actions, a World of load balancers,
listeners and rules, a recorder of the AWS calls made, a fake clock, and local-server clients."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.client import BaseClient

from albrules import local
from albrules.aws import Aws
from albrules.capture import capture_listener
from albrules.local import faults
from albrules.models import ListenerState
from rule_builders import fixed

local.install()

REGION = "us-east-1"
MUTATING = set(faults.MUTATING)


def key_session(iam: Any, user_name: str) -> boto3.Session:
    """A session acting as the IAM user ``user_name``, with a new access key of theirs (the
    local AWS maps each access key to its user, as AWS does)."""
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    return boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=REGION,
    )


class FakeClock:
    """A clock and a sleep for code that polls: sleeping moves the clock, instantly."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def local_client(port: int, service: str) -> BaseClient:
    """A client of the local AWS server on ``port`` (``albrules local up``)."""
    from albrules.local import process

    return boto3.client(
        service,
        endpoint_url=process.endpoint(port),
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def function_url_event(method: str, token: str, source_ip: str, **fields: str) -> dict[str, Any]:
    """What a function URL sends the approval function for a link (GET ?token=) or the page's
    form (POST token and fields), built as the local AWS builds it from an HTTP request."""
    from urllib.parse import urlencode

    from albrules.local.function_urls import url_event

    form = method.upper() != "GET"
    return url_event(
        method=method,
        raw_path="/",
        raw_query="" if form else urlencode({"token": token}),
        headers=[("content-type", "application/x-www-form-urlencoded")] if form else [],
        body=urlencode({"token": token, **fields}).encode() if form else b"",
        source_ip=source_ip,
        domain_name="approvals.lambda-url.us-east-1.on.aws",
    )


class World:
    """Builds VPCs, load balancers, target groups, listeners and rules in the local AWS."""

    def __init__(self, session: boto3.Session):
        self.session = session
        self.ec2 = session.client("ec2")
        self.elb = session.client("elbv2")
        self.aws = Aws(session)
        self._subnets: list[str] | None = None
        self.vpc = ""

    def subnets(self) -> list[str]:
        if self._subnets is None:
            self.vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            region = self.session.region_name
            self._subnets = [
                self.ec2.create_subnet(
                    VpcId=self.vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{region}{az}"
                )["Subnet"]["SubnetId"]
                for i, az in enumerate("ab", start=1)
            ]
        return self._subnets

    def load_balancer(self, name: str = "web") -> str:
        return self.elb.create_load_balancer(Name=name, Subnets=self.subnets())["LoadBalancers"][0][
            "LoadBalancerArn"
        ]

    def target_group(self, name: str) -> str:
        self.subnets()
        return self.elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=self.vpc)[
            "TargetGroups"
        ][0]["TargetGroupArn"]

    def listener(self, lb: str, port: int = 80, default: dict | None = None) -> str:
        return self.elb.create_listener(
            LoadBalancerArn=lb, Protocol="HTTP", Port=port, DefaultActions=[default or fixed("404")]
        )["Listeners"][0]["ListenerArn"]

    def trust_store(self, name: str) -> str:
        """A trust store whose CA bundle is an object of a bucket of its own."""
        s3 = self.session.client("s3")
        s3.create_bucket(Bucket=f"{name}-bundle")
        s3.put_object(Bucket=f"{name}-bundle", Key="ca.pem", Body=b"-----BEGIN CERTIFICATE-----")
        store = self.elb.create_trust_store(
            Name=name,
            CaCertificatesBundleS3Bucket=f"{name}-bundle",
            CaCertificatesBundleS3Key="ca.pem",
        )
        return str(store["TrustStores"][0]["TrustStoreArn"])

    def rule(
        self,
        listener: str,
        priority: int,
        conditions: list[dict],
        actions: list[dict] | None = None,
        tags: dict[str, str] | None = None,
        transforms: list[dict] | None = None,
    ) -> str:
        kwargs: dict[str, Any] = {
            "ListenerArn": listener,
            "Priority": priority,
            "Conditions": conditions,
            "Actions": actions or [fixed()],
        }
        if tags:
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        if transforms:
            kwargs["Transforms"] = transforms
        return self.elb.create_rule(**kwargs)["Rules"][0]["RuleArn"]

    def rules(self, listener: str) -> list[dict]:
        return [
            r for r in self.elb.describe_rules(ListenerArn=listener)["Rules"] if not r["IsDefault"]
        ]

    def state(self, listener: str) -> ListenerState:
        return capture_listener(self.aws, listener)


class Calls:
    """Every AWS API call made in the process while recording: (service, operation)."""

    def __init__(self) -> None:
        self.made: list[tuple[str, str]] = []

    def of(self, service: str) -> list[str]:
        return [op for svc, op in self.made if svc == service]

    @property
    def mutating(self) -> list[str]:
        return [op for svc, op in self.made if svc == "elasticloadbalancing" and op in MUTATING]

    def clear(self) -> None:
        self.made.clear()


def role_session(
    session: boto3.Session, role_name: str, session_name: str
) -> tuple[str, boto3.Session]:
    """A role anyone may assume, made in the local AWS, and a session of it: ``(role ARN,
    session)`` (an ``assumed-role/ROLE/SESSION`` identity, the role its issuer)."""
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                     "Action": "sts:AssumeRole"}]}  # fmt: skip
    role = session.client("iam").create_role(
        RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    creds = session.client("sts").assume_role(RoleArn=role, RoleSessionName=session_name)[
        "Credentials"
    ]
    return role, boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=session.region_name or REGION,
    )
