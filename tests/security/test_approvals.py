"""Attacks on the approval of a restore, against the stack as deployed by default
(ApprovalPolicy ``required``, AllowSelfApproval ``false``), with real IAM users.

Each test asserts on the listener's real state, the execution's history, the approval record
and the absence of mutating ELBv2 calls while nothing was approved.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from albrules.errors import ApprovalError, DecisionUndelivered
from albrules.local import cloudtrail, faults
from aws_fixtures import Calls
from cli_runs import cli
from local_world import REGION
from security.people import (
    arn_of,
    catalog,
    decide_as,
    person,
    start_as,
    wait_for_approval,
)
from stack import Stack, break_listener, checksum, shop
from workflows.test_workflows import back_up, snapshot_key, state_names

SELF = "you started this restore; someone else must approve it"


def broken_listener(stack: Stack) -> tuple[str, str, str, str]:
    """(listener, snapshot key, checksum as backed up, checksum while broken)."""
    listener = shop(stack)
    back_up(stack)
    backed_up = checksum(stack, listener)
    break_listener(stack, listener)
    return listener, snapshot_key(stack, listener), backed_up, checksum(stack, listener)


def mutating(calls: Calls) -> list[str]:
    return [op for service, op in calls.made if op in faults.MUTATING]


def printed(out: str) -> list[str]:
    """What the command printed, without the metrics the in-process functions print (EMF)."""
    return [line for line in out.splitlines() if not line.startswith('{"_aws":')]


def status(stack: Stack, execution: str) -> str:
    return str(stack.sfn.describe_execution(executionArn=execution)["status"])


def test_self_approval_is_refused_and_self_rejection_allowed(
    stack: Stack, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    listener, key, _, broken = broken_listener(stack)
    alice = person(stack, "alice")
    execution = start_as(stack, alice, {"snapshot": key, "require_approval": True})
    wait_for_approval(stack, execution)
    calls.made.clear()

    with pytest.raises(ApprovalError, match=f"^{SELF}$"):  # the library path, signed as alice
        decide_as(stack, alice, execution, "approve")
    credentials = alice.get_credentials()  # the CLI, run by alice
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    url = stack.url("DecisionFunction")
    code, out, err = cli("approve", execution, "--aws", "--region", REGION, "--decision-url", url)
    assert (code, err) == (2, f"error: {SELF}\n")
    assert printed(out) == []  # the in-process function's metrics aside, nothing

    assert catalog(stack).approval(execution)["status"] == "pending"
    assert status(stack, execution) == "RUNNING" and "Apply the plan" not in state_names(
        stack, execution
    )
    assert checksum(stack, listener) == broken and mutating(calls) == []

    code, out, err = cli(
        "reject", execution, "--reason", "wrong snapshot", "--aws", "--region", REGION,
        "--decision-url", url, "--wait", "--timeout", "60",
    )  # fmt: skip
    assert code == 2, (out, err)
    assert f"rejected {execution} as {arn_of(alice)}" in out
    assert stack.finish("restore", execution).error == "ApprovalRejected"
    assert checksum(stack, listener) == broken and mutating(calls) == []


def test_a_forged_requested_by_is_only_a_note(stack: Stack, calls: Calls) -> None:
    """Alice writes Bob into requested_by: the approval still knows she started it, Bob may
    approve, and the audit names Alice (CloudTrail) and Bob (the signed decision)."""
    listener, key, backed_up, broken = broken_listener(stack)
    alice, bob = person(stack, "alice"), person(stack, "bob")
    execution = start_as(
        stack,
        alice,
        {"snapshot": key, "requested_by": arn_of(bob), "reason": "bob asked me to"},
    )
    record = wait_for_approval(stack, execution)
    assert record["requester"]["arn"] == arn_of(alice)  # from CloudTrail, at the request
    calls.made.clear()
    with pytest.raises(ApprovalError, match=f"^{SELF}$"):
        decide_as(stack, alice, execution, "approve")
    assert checksum(stack, listener) == broken and mutating(calls) == []

    decided = decide_as(stack, bob, execution, "approve")
    assert (decided["by"], decided["requester"]) == (arn_of(bob), arn_of(alice))
    result = stack.finish("restore", execution)
    assert result.status == "SUCCEEDED", result.cause
    assert checksum(stack, listener) == backed_up
    audit = catalog(stack).audit(execution) or {}
    assert audit["requested_by"] == arn_of(bob)  # kept, as the requester's own words
    assert audit["approval"]["requester"] == arn_of(alice)
    assert audit["approval"]["by"] == arn_of(bob)
    assert len(audit["approval"]["plan_sha256"]) == 64

    code, out, err = cli("audit", "--execution-arn", execution, "--table", stack.table,
                         "--aws", "--region", REGION, "--json")  # fmt: skip
    assert code == 0, err
    shown = json.loads(out)[0]
    assert (shown["requester"], shown["approver"]) == (arn_of(alice), arn_of(bob))
    assert shown["requested_by_note"] == arn_of(bob) and shown["outcome"] == "RESTORED"
    assert shown["plan_sha256"] == audit["approval"]["plan_sha256"]


def test_skipping_the_approval_is_refused_under_required(stack: Stack, calls: Calls) -> None:
    """require_approval false (or left out) does not skip the approval; a dry run and a
    restore with nothing to change never wait."""
    listener, key, backed_up, broken = broken_listener(stack)
    alice = person(stack, "alice")
    calls.made.clear()
    dry = stack.finish("restore", start_as(stack, alice, {"snapshot": key, "dry_run": True}))
    assert dry.status == "SUCCEEDED", dry.cause
    assert "Note that this was a dry run" in state_names(stack, dry.execution_arn)
    assert "Wait for approval" not in state_names(stack, dry.execution_arn)
    execution = start_as(stack, alice, {"snapshot": key, "require_approval": False})
    wait_for_approval(stack, execution)
    assert "Wait for approval" in state_names(stack, execution)
    assert checksum(stack, listener) == broken and mutating(calls) == []

    decide_as(stack, person(stack, "bob"), execution, "approve")
    assert stack.finish("restore", execution).status == "SUCCEEDED"
    assert checksum(stack, listener) == backed_up
    again = start_as(stack, alice, {"snapshot": key})  # nothing to change: no approval
    ended = stack.finish("restore", again)
    assert ended.status == "SUCCEEDED" and "Wait for approval" not in state_names(stack, again)


def test_an_unknown_requester_fails_closed(stack: Stack, calls: Calls) -> None:
    """CloudTrail has not delivered the StartExecution event yet: an approval is refused
    (nothing recorded), a rejection is taken; once delivered, the approval goes through."""
    listener, key, backed_up, broken = broken_listener(stack)
    cloudtrail.delay(3600)
    execution = start_as(stack, person(stack, "alice"), {"snapshot": key})
    assert "requester" not in wait_for_approval(stack, execution)
    calls.made.clear()
    bob = person(stack, "bob")
    with pytest.raises(ApprovalError, match="the requester is not known from CloudTrail yet; try"):
        decide_as(stack, bob, execution, "approve")
    assert catalog(stack).approval(execution)["status"] == "pending"
    assert checksum(stack, listener) == broken and mutating(calls) == []
    cloudtrail.deliver_all()
    decide_as(stack, bob, execution, "approve")
    assert stack.finish("restore", execution).status == "SUCCEEDED"
    assert checksum(stack, listener) == backed_up


def test_a_throttled_approval_is_not_lost(stack: Stack, calls: Calls) -> None:
    """SendTaskSuccess throttled past its retries: the approval stays recorded, undelivered,
    the restore waits, and the same command again delivers it."""
    listener, key, backed_up, broken = broken_listener(stack)
    execution = start_as(stack, person(stack, "alice"), {"snapshot": key})
    wait_for_approval(stack, execution)
    bob = person(stack, "bob")
    faults.inject("SendTaskSuccess", code="ThrottlingException", message="Rate exceeded", times=0)
    calls.made.clear()
    with pytest.raises(DecisionUndelivered, match="run the same command again"):
        decide_as(stack, bob, execution, "approve")
    record = catalog(stack).approval(execution)
    assert (record["status"], record["delivered"], record["decided_by"]) == (
        "approved", False, arn_of(bob)
    )  # fmt: skip
    assert status(stack, execution) == "RUNNING"
    assert checksum(stack, listener) == broken and mutating(calls) == []

    faults.clear()
    url = stack.url("DecisionFunction")
    code, out, err = cli_as(bob, "approve", execution, "--decision-url", url, "--wait")
    assert code == 0, (out, err)
    assert f"approved {execution} as {arn_of(bob)}" in out
    assert catalog(stack).approval(execution)["delivered"] is True
    assert checksum(stack, listener) == backed_up
    # Once delivered, and after the end: said plainly, nothing done.
    code, out, err = cli_as(bob, "approve", execution, "--decision-url", url)
    assert code == 2 and "the restore already ended, SUCCEEDED" in err and "nothing was done" in err


def test_one_throttle_is_absorbed_by_the_retries(stack: Stack) -> None:
    listener, key, backed_up, _ = broken_listener(stack)
    execution = start_as(stack, person(stack, "alice"), {"snapshot": key})
    wait_for_approval(stack, execution)
    faults.inject("SendTaskSuccess", code="ThrottlingException", message="Rate exceeded")
    decided = decide_as(stack, person(stack, "bob"), execution, "approve")
    assert decided["delivered"] is True
    assert stack.finish("restore", execution).status == "SUCCEEDED"
    assert checksum(stack, listener) == backed_up


def test_the_decision_url_takes_only_signed_allowed_callers(stack: Stack) -> None:
    """Unsigned, unknown key, wrong secret, or no lambda:InvokeFunctionUrl: 403 from the URL,
    the function never runs, the approval stays pending."""
    import urllib.request

    from botocore.credentials import Credentials

    from albrules.decision_client import signed_post

    listener, key, _, broken = broken_listener(stack)
    execution = start_as(stack, person(stack, "alice"), {"snapshot": key})
    wait_for_approval(stack, execution)
    url = stack.url("DecisionFunction")
    body = {"execution_arn": execution, "decision": "approve"}
    unsigned = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=30)
    assert refused.value.code == 403
    bob = person(stack, "bob").get_credentials()
    cases: list[tuple[Any, str]] = [
        (Credentials("AKIAUNKNOWN000000000", "x"), "security token included in the request"),
        (Credentials(bob.access_key, "not-the-secret"), "signature we calculated does not"),
        (person(stack, "carol", approver=False).get_credentials(), "Forbidden"),
    ]
    for credentials, said in cases:
        answer = signed_post(url, body, credentials, REGION)
        assert answer.status == 403 and said in answer.body["Message"], answer
    assert catalog(stack).approval(execution)["status"] == "pending"
    assert checksum(stack, listener) == broken


def cli_as(who: Any, *args: str) -> tuple[int, str, str]:
    """The CLI run with ``who``'s access key in the environment."""
    import os

    credentials = who.get_credentials()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ["AWS_ACCESS_KEY_ID"] = credentials.access_key
    os.environ["AWS_SECRET_ACCESS_KEY"] = credentials.secret_key
    try:
        return cli(*args, "--aws", "--region", REGION)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
