"""``albrules restore --oidc-secret``: the secrets a CLI restore may read and what it sends.

A secret outside ``--oidc-secret-prefix`` (default ``albrules/``, the stack's default), or in
another account or region than the listener, is refused before any AWS call; a JSON secret
without ``client_secret`` is refused, naming the secret, and its text is sent nowhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_runs import cli
from local_world import MUTATING, Calls, World
from oidc_cases import (
    CLIENT,
    DB_PASSWORD,
    WHOLE_JSON,
    Requests,
    create_secret,
    delete_oidc_rule,
    nowhere,
    oidc_listener,
    record_requests,
    secret_sent,
)

OTHER_ACCOUNT = "arn:aws:secretsmanager:us-east-1:210987654321:secret:albrules/shop-AbCdEf"


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Requests:
    return record_requests(monkeypatch)


@pytest.fixture
def broken(world: World, tmp_path: Path) -> tuple[str, Path, str]:
    """A listener backed up to a file, then its OIDC rule deleted: (listener, file, rules)."""
    listener = oidc_listener(world)
    snapshot = tmp_path / "shop.json"
    code, _, err = cli("backup", "--listener-arn", listener, "--out", str(snapshot))
    assert code == 0, err
    delete_oidc_rule(world, listener)
    return listener, snapshot, str(sorted(r["RuleArn"] for r in world.rules(listener)))


def restore(snapshot: Path, tmp_path: Path, secret: str, *more: str) -> tuple[int, str, str]:
    return cli(
        "restore",
        str(snapshot),
        "--oidc-secret",
        f"{CLIENT}={secret}",
        "--pre-restore-to",
        str(tmp_path / "pre"),
        "--yes",
        *more,
    )


def unchanged(world: World, listener: str, rules: str) -> None:
    assert str(sorted(r["RuleArn"] for r in world.rules(listener))) == rules
    assert [r["Priority"] for r in world.rules(listener)] == ["1"]


def test_a_secret_outside_the_prefix_is_refused_before_any_aws_call(
    world: World, broken, tmp_path: Path, calls: Calls, recorded: Requests
) -> None:
    listener, snapshot, rules = broken
    arn = create_secret(world, "prod/db-password", DB_PASSWORD)
    calls.clear()
    code, out, err = restore(snapshot, tmp_path, arn)
    assert code == 2
    said = " ".join(err.split())
    assert f"the OIDC client secret {arn} (client '{CLIENT}') is outside the secret name " in said
    assert "prefix 'albrules/'" in said and "--oidc-secret-prefix PREFIX" in said
    assert "Traceback" not in out + err
    assert calls.made == [] and recorded.secrets_read() == []  # refused before any AWS call
    unchanged(world, listener, rules)
    nowhere(DB_PASSWORD, out, err, [p.read_text() for p in tmp_path.rglob("*.json")])


@pytest.mark.parametrize(
    ("where", "said"),
    [("another region", "is in region us-west-2, not in"), ("another account", "in account")],
)
def test_a_secret_in_another_region_or_account_is_refused_even_with_any_oidc_secret(
    world: World, broken, tmp_path: Path, calls: Calls, where: str, said: str
) -> None:
    listener, snapshot, rules = broken
    if where == "another region":
        arn = create_secret(world, "albrules/shop", DB_PASSWORD, region="us-west-2")
    else:
        arn = OTHER_ACCOUNT
    calls.clear()
    for more in ((), ("--any-oidc-secret",)):
        code, _, err = restore(snapshot, tmp_path, arn, *more)
        assert code == 2 and said in " ".join(err.split()), err
        assert calls.mutating == []
    unchanged(world, listener, rules)


def test_a_json_secret_without_client_secret_is_refused_naming_it_and_never_sent(
    world: World, broken, tmp_path: Path, calls: Calls
) -> None:
    listener, snapshot, rules = broken
    arn = create_secret(
        world, "albrules/shop-json", f'{{"username": "svc", "password": "{WHOLE_JSON}"}}'
    )
    calls.clear()
    code, out, err = restore(snapshot, tmp_path, arn)
    assert code == 2
    said = " ".join(err.split())
    assert f"secret {arn} is a JSON secret without a 'client_secret' (or 'ClientSecret')" in said
    assert calls.mutating == []
    unchanged(world, listener, rules)
    nowhere(WHOLE_JSON, out, err, [p.read_text() for p in tmp_path.rglob("*.json")])


def test_secrets_under_the_prefix_are_sent_plain_or_from_their_client_secret_key(
    world: World, broken, tmp_path: Path, calls: Calls
) -> None:
    listener, snapshot, _ = broken
    arn = create_secret(world, "albrules/shop", '{"client_secret": "from-json", "other": "x"}')
    code, out, err = restore(snapshot, tmp_path, arn)
    assert code == 0, err
    arns = {r["RuleArn"] for r in world.rules(listener)}
    assert secret_sent(arns) == {CLIENT: "from-json"}
    assert calls.mutating and set(calls.mutating) <= MUTATING
    nowhere("from-json", out, err, [p.read_text() for p in tmp_path.rglob("*.json")])


def test_another_prefix_or_any_secret_when_the_user_says_so(
    world: World, broken, tmp_path: Path
) -> None:
    listener, snapshot, _ = broken
    arn = create_secret(world, "team-a/oidc/shop", "plain-text-secret")
    code, _, err = cli("plan", str(snapshot), "--oidc-secret", f"{CLIENT}={arn}")
    assert code == 2 and "outside the secret name prefix 'albrules/'" in " ".join(err.split())
    code, _, err = cli(
        "plan", str(snapshot), "--oidc-secret", f"{CLIENT}={arn}", "--oidc-secret-prefix", "x"
    )
    assert code == 2 and "prefix 'x'" in " ".join(err.split())
    code, _, err = restore(snapshot, tmp_path, arn, "--oidc-secret-prefix", "team-a/")
    assert code == 0, err
    assert secret_sent({r["RuleArn"] for r in world.rules(listener)}) == {
        CLIENT: "plain-text-secret"
    }
    delete_oidc_rule(world, listener)
    code, _, err = restore(snapshot, tmp_path, arn, "--any-oidc-secret")
    assert code == 0, err


def test_a_malformed_prefix_or_secret_arn_is_bad_input(broken, tmp_path: Path) -> None:
    _, snapshot, _ = broken
    code, _, err = restore(snapshot, tmp_path, OTHER_ACCOUNT, "--oidc-secret-prefix", "a b")
    assert code == 2 and "--oidc-secret-prefix 'a b' is not a secret name prefix" in err
    bad = "arn:aws:secretsmanager:us-east-1:123456789012:secret:a b"
    code, _, err = restore(snapshot, tmp_path, bad)
    assert code == 2 and f"--oidc-secret {CLIENT}: " in err and "is not a Secrets Manager" in err
