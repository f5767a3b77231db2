"""Acting as someone in the attack suite: IAM users with access keys in the local AWS, who
start restores and decide them through the stack's DecisionFunction URL, signed.

The local AWS maps each request's access key to its IAM user, as AWS does
(``albrules.local.identities``): the restore's requester is whoever called StartExecution
(CloudTrail), the decider whoever signed the decision. Every test that needs a restore to get
past its approval goes through :func:`approve_as_other`, so how an approval is authenticated
(a signed request from another IAM user) lives here only.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3

from albrules import workflows
from albrules.aws import Aws
from albrules.catalog import Catalog
from albrules.decision_client import send_decision
from local_world import REGION, key_session
from stack import Stack


def catalog(stack: Stack) -> Catalog:
    return Catalog(Aws(stack.session), stack.table)


def person(stack: Stack, name: str, *, approver: bool = True) -> boto3.Session:
    """A new IAM user (``name`` plus a suffix) with an access key, as a boto3 session. An
    approver may invoke the DecisionFunction URL (``lambda:InvokeFunctionUrl`` and
    ``lambda:InvokeFunction`` on it, the permission the README names); everyone may start
    restores."""
    iam = stack.session.client("iam")
    user = f"{name}-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": "states:StartExecution",
            "Resource": stack.outputs["RestoreStateMachineArn"],
        }
    ]
    if approver:
        function = stack.deployment.physical_id("DecisionFunction")
        arn = stack.session.client("lambda").get_function(FunctionName=function)
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"],
                "Resource": arn["Configuration"]["FunctionArn"],
            }
        )
    iam.put_user_policy(
        UserName=user,
        PolicyName="albrules-person",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    return key_session(iam, user)


def arn_of(who: boto3.Session) -> str:
    return str(who.client("sts").get_caller_identity()["Arn"])


def start_as(stack: Stack, who: boto3.Session, payload: dict[str, Any]) -> str:
    """Start a restore as ``who`` (their own StartExecution call)."""
    answer = who.client("stepfunctions").start_execution(
        stateMachineArn=stack.outputs["RestoreStateMachineArn"],
        name=f"as-{uuid.uuid4().hex[:12]}",
        input=json.dumps(payload),
    )
    return str(answer["executionArn"])


def decide_as(
    stack: Stack, who: boto3.Session, execution_arn: str, decision: str, reason: str = ""
) -> dict[str, Any]:
    """Decide as ``who``: a SigV4-signed POST to the DecisionFunction URL, as the CLI sends."""
    credentials = who.get_credentials()
    return send_decision(
        stack.url("DecisionFunction"), credentials, REGION, execution_arn, decision, reason
    )


def wait_for_approval(stack: Stack, execution_arn: str, timeout: float = 30) -> dict[str, Any]:
    """The restore's pending approval record, once it waits for one."""
    return stack.pending_approval(execution_arn, timeout)


def approve_as_other(stack: Stack, execution_arn: str) -> None:
    """Approve a waiting restore as someone who did not start it: a second IAM user, through
    the DecisionFunction URL, signed."""
    wait_for_approval(stack, execution_arn)
    decide_as(stack, person(stack, "approver"), execution_arn, "approve")


def run_approved(
    stack: Stack, payload: dict[str, Any], timeout: float = 60
) -> workflows.ExecutionOutcome:
    """Start a restore that changes its listener, approve it as someone else (under the
    default ``ApprovalPolicy=required`` it waits), and wait for its end."""
    execution_arn = stack.start("restore", payload)
    approve_as_other(stack, execution_arn)
    return stack.finish("restore", execution_arn, timeout)
