"""The bucket policy as deployed: writes under snapshots/, plans/ and pre-restore/ only from the
stack's own roles. Evaluated with an independent evaluator (albrules.local.policies) for every
role and prefix, and enforced by the local AWS for a request signed by an IAM user."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from albrules.local.policies import evaluate
from local_world import REGION
from stack import Stack

WRITERS = {
    "snapshots/": {"SnapshotListenersFunctionRole", "BackUpChangedListenerFunctionRole"},
    "plans/": {"ComputePlanFunctionRole", "PlanLoadBalancerFunctionRole"},
    "pre-restore/": {
        "TakePreRestoreSnapshotFunctionRole",
        "ApplyPlanFunctionRole",
        "RollBackFunctionRole",
        "PlanLoadBalancerFunctionRole",  # each listener's, restoring a whole load balancer
    },
}
WRITES = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention")


def policy(stack: Stack) -> dict[str, Any]:
    return json.loads(stack.s3.get_bucket_policy(Bucket=stack.bucket)["Policy"])


def role_arn(stack: Stack, logical_id: str) -> str:
    return str(stack.deployment.resources[logical_id].attributes["Arn"])


def roles(stack: Stack) -> dict[str, str]:
    return {
        logical: role_arn(stack, logical)
        for logical, resource in stack.deployment.resources.items()
        if resource.type == "AWS::IAM::Role"
    }


def test_only_the_stacks_writers_may_write_each_prefix(stack: Stack) -> None:
    document = policy(stack)
    everyone = {**roles(stack), "a user": "arn:aws:iam::123456789012:user/mallory"}
    assert {"SnapshotListenersFunctionRole", "ComputePlanFunctionRole"} <= set(everyone)
    for prefix, writers in WRITERS.items():
        resource = f"arn:aws:s3:::{stack.bucket}/{prefix}123/x.json"
        for who, arn in everyone.items():
            context = {"aws:SecureTransport": "true", "aws:PrincipalArn": arn}
            for action in WRITES:
                decided = evaluate(document, action, resource, context)
                assert decided == (None if who in writers else "Deny"), (prefix, who, action)
            assert evaluate(document, "s3:GetObject", resource, context) is None
    runs = f"arn:aws:s3:::{stack.bucket}/runs/x/listeners.json"
    anyone = {"aws:SecureTransport": "true", "aws:PrincipalArn": everyone["a user"]}
    assert evaluate(document, "s3:PutObject", runs, anyone) is None
    plain = {**anyone, "aws:SecureTransport": "false"}
    assert evaluate(document, "s3:GetObject", runs, plain) == "Deny"  # TLS only, still


@pytest.fixture
def mallory(stack: Stack) -> Any:
    """S3 as an IAM user of the account who is none of the stack's roles."""
    iam = stack.session.client("iam")
    iam.create_user(UserName="mallory")
    key = iam.create_access_key(UserName="mallory")["AccessKey"]
    yield boto3.client(
        "s3",
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    iam.delete_access_key(UserName="mallory", AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName="mallory")


def test_the_local_aws_refuses_an_iam_users_writes_under_the_stacks_prefixes(
    stack: Stack, mallory: Any
) -> None:
    stack.s3.put_object(Bucket=stack.bucket, Key="snapshots/a/x.json", Body=b"{}")
    for key in ("snapshots/a/x.json", "plans/x.json", "pre-restore/x/journal.json"):
        with pytest.raises(ClientError) as err:
            mallory.put_object(Bucket=stack.bucket, Key=key, Body=b"{}")
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, key
    with pytest.raises(ClientError):
        mallory.delete_object(Bucket=stack.bucket, Key="snapshots/a/x.json")
    assert stack.read_json("snapshots/a/x.json") == {}
    mallory.put_object(Bucket=stack.bucket, Key="runs/x/summary.json", Body=b"{}")
