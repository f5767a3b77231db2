"""Attacks on OIDC client secrets, against the stack as an operator deploys it.

Whoever can start a restore chooses the snapshot (so the identity provider's endpoints) and the
secret (``oidc_secrets``). The stack reads only secrets named under ``OidcSecretPrefix``
(default ``albrules/``), in the target listener's account and region, and sends only a JSON
secret's ``client_secret``. Each attack is a restore that would create an authenticate-oidc
rule; each test asserts the listener's real state, that no mutating ELBv2 call and no read of
the secret was made, and that the secret's value is nowhere: not in the execution's history,
the functions' logs, the bucket or the table.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from local_world import Calls, function_url_event
from oidc_cases import (
    CLIENT,
    DB_PASSWORD,
    ISSUER,
    WHOLE_JSON,
    Requests,
    create_secret,
    delete_oidc_rule,
    nowhere,
    oidc_listener,
    record_requests,
    secret_sent,
)
from security.people import approve_as_other, wait_for_approval
from stack import Stack, received, subscribe


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Requests:
    return record_requests(monkeypatch)


def snapshot_key(stack: Stack, listener: str) -> str:
    listener_id = listener.rsplit("/", 1)[-1]
    return sorted(k for k in stack.keys("snapshots/") if f"/{listener_id}/" in k)[-1]


def backed_up_then_broken(stack: Stack) -> tuple[str, str]:
    """A listener with an OIDC rule, backed up by the stack, then that rule deleted."""
    listener = oidc_listener(stack.world)
    result = stack.run("backup", stack.backup_targets())
    assert result.status == "SUCCEEDED", result.cause
    key = snapshot_key(stack, listener)
    delete_oidc_rule(stack.world, listener)
    return listener, key


def rules_now(stack: Stack, listener: str) -> list[tuple[str, str]]:
    return sorted((r["Priority"], r["RuleArn"]) for r in stack.world.rules(listener))


def start(stack: Stack, key: str, secret: str) -> str:
    return stack.start(
        "restore",
        {"snapshot": key, "require_approval": True, "oidc_secrets": {CLIENT: secret}},
    )


def states(stack: Stack, execution: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in stack.history(execution)
        if "stateEnteredEventDetails" in e
    ]


def everything_stored(stack: Stack) -> list[Any]:
    """Every object in the bucket and every item in the table, as text."""
    objects = [
        stack.s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read().decode(errors="replace")
        for key in stack.keys("")
    ]
    items = stack.ddb.scan(TableName=stack.table)["Items"]
    return [*objects, items]


def assert_nowhere(stack: Stack, value: str, execution: str, logs: str) -> None:
    nowhere(value, stack.history(execution), logs, *everything_stored(stack))


@pytest.mark.parametrize(
    ("attack", "said"),
    [
        ("outside the prefix", "is outside the secret name prefix 'albrules/'"),
        ("another region", "is in region us-west-2, not in the target listener's region"),
        ("another account", "is in account 210987654321, not in the target listener's account"),
    ],
)
def test_a_secret_outside_the_prefix_is_refused_before_any_change(
    stack: Stack,
    calls: Calls,
    recorded: Requests,
    capfd: pytest.CaptureFixture[str],
    attack: str,
    said: str,
) -> None:
    listener, key = backed_up_then_broken(stack)
    before = rules_now(stack, listener)
    if attack == "outside the prefix":  # the account's database password, say
        secret = create_secret(stack.world, "prod/db-password", DB_PASSWORD)
    elif attack == "another region":
        secret = create_secret(stack.world, "albrules/shop", DB_PASSWORD, region="us-west-2")
    else:
        secret = "arn:aws:secretsmanager:us-east-1:210987654321:secret:albrules/shop-AbCdEf"
    calls.clear()
    recorded.made.clear()

    execution = start(stack, key, secret)
    result = stack.finish("restore", execution)

    assert result.status == "FAILED" and result.error == "RestoreRefused", result.cause
    assert f"the OIDC client secret {secret} (client '{CLIENT}') {said}" in str(result.cause)
    assert rules_now(stack, listener) == before  # the OIDC rule was not created
    assert calls.mutating == []
    assert secret not in recorded.secrets_read()
    # Refused while validating: before the pre-restore snapshot, the plan and the approval.
    visited = states(stack, execution)
    assert "Take the pre-restore snapshot" not in visited and "Wait for approval" not in visited
    assert stack.keys("pre-restore/") == [] and stack.keys("plans/") == []
    assert_nowhere(stack, DB_PASSWORD, execution, capfd.readouterr().out)


def test_a_json_secret_without_the_key_is_refused_and_not_sent(
    stack: Stack, calls: Calls, capfd: pytest.CaptureFixture[str]
) -> None:
    listener, key = backed_up_then_broken(stack)
    before = rules_now(stack, listener)
    document = json.dumps({"username": "svc-shop", "password": WHOLE_JSON})
    secret = create_secret(stack.world, "albrules/shop-credentials", document)
    calls.clear()

    execution = start(stack, key, secret)
    result = stack.finish("restore", execution)

    assert result.status == "FAILED" and result.error == "RestoreRefused", result.cause
    assert (
        f"secret {secret} is a JSON secret without a 'client_secret' (or 'ClientSecret') key"
        in str(result.cause)
    )
    assert rules_now(stack, listener) == before
    assert calls.mutating == []
    # Refused when the plan reads the secret: before the approval is asked for.
    assert "Wait for approval" not in states(stack, execution)
    assert stack.keys("plans/") == []
    assert_nowhere(stack, WHOLE_JSON, execution, capfd.readouterr().out)


def test_a_secret_under_the_prefix_is_shown_to_the_approver_and_sent_once_approved(
    stack: Stack, capfd: pytest.CaptureFixture[str]
) -> None:
    """The control: the same restore with a secret in scope waits for approval, the review
    page shows where the secret would go, and the approved restore sends that value only."""
    listener, key = backed_up_then_broken(stack)
    value = "the-real-oidc-client-secret"
    secret = create_secret(stack.world, "albrules/shop", json.dumps({"client_secret": value}))
    queue = subscribe(stack)

    execution = start(stack, key, secret)
    wait_for_approval(stack, execution)
    link = re.findall(r"https?://\S+\?token=([\w.-]+)", received(stack, queue)[0]["Message"])
    page = stack.session.client("lambda").invoke(
        FunctionName=stack.deployment.physical_id("ApprovalFunction"),
        Payload=json.dumps(function_url_event("GET", link[0], "192.0.2.1")).encode(),
    )
    body = json.loads(page["Payload"].read())["body"]
    section = body.split("Where OIDC client secrets go", 1)[1]
    for shown in (
        "new rule at priority 7",
        CLIENT,
        ISSUER,
        f"{ISSUER}/authorize",
        f"{ISSUER}/token",
        f"{ISSUER}/userinfo",
        secret,
    ):
        assert f">{shown}<" in section, shown

    approve_as_other(stack, execution)
    result = stack.finish("restore", execution)

    assert result.status == "SUCCEEDED", result.cause
    arns = {arn for _, arn in rules_now(stack, listener)}
    assert secret_sent(arns) == {CLIENT: value}
    assert_nowhere(stack, value, execution, capfd.readouterr().out)
