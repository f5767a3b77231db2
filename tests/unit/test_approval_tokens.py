"""The approval function's token handling (issue 11, section 5): a malformed, over-long or
expired token is refused before any AWS call; the signing key is cached per process and a
rotated key is picked up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from albrules import approval
from albrules.errors import ApprovalError
from albrules.tasks import approval as approval_task
from albrules.tasks import settings as settings_module
from albrules.tasks.settings import Settings

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:albrules-restore:r-1"
KEY = b"the signing key"


def token(key: bytes = KEY, expires: float | None = None, **claim: Any) -> str:
    fields = {
        "execution_arn": EXECUTION,
        "decision": "review",
        "nonce": approval.new_nonce(),
        "expires_at": int(expires if expires is not None else time.time() + 600),
        **claim,
    }
    return approval.sign(key, approval.LinkClaim(**fields))


class FakeSecrets:
    def __init__(self, value: bytes) -> None:
        self.value, self.calls = value, 0

    def get_secret_value(self, SecretId: str) -> dict[str, str]:
        self.calls += 1
        return {"SecretString": self.value.decode()}


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSecrets]:
    fake = FakeSecrets(KEY)
    monkeypatch.setattr(Settings, "home", lambda self: SimpleNamespace(secrets=fake))
    settings_module.forget_signing_keys()
    yield fake
    settings_module.forget_signing_keys()


def settings() -> Settings:
    return Settings(
        bucket="b",
        table="t",
        kms_key_id=None,
        topic_arn=None,
        member_role_name=None,
        external_id=None,
        approval_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:sign-AbCdEf",
        approval_url=None,
    )


JUNK = [
    "",
    "x",
    "a" * 5000,  # over-long
    "a" * 2000 + "." + "b" * 43,
    "not base64!." + "b" * 43,
    "eyJ9." + "b" * 43,  # not JSON
    approval._b64(b'{"e":1,"d":"review","n":"n","x":1}') + "." + "b" * 43,
    approval._b64(b"[1,2,3]") + "." + "b" * 43,
    token(execution_arn="<script>alert(1)</script>"),
    token(decision="approve-everything"),  # type: ignore[arg-type]
    token(nonce="spaces are not base64url"),
    approval._b64(b'{"e":"' + EXECUTION.encode() + b'","d":"review","n":"n","x":true}')
    + "."
    + "b" * 43,
]


@pytest.mark.parametrize("junk", JUNK)
def test_a_malformed_or_over_long_token_is_refused_by_screening(junk: str) -> None:
    with pytest.raises(ApprovalError, match="malformed") as refused:
        approval.screen_token(junk)
    assert not isinstance(refused.value, approval.LinkExpired)


def test_screening_passes_a_well_formed_unexpired_token_without_verifying_it() -> None:
    forged = token(key=b"not the key")
    claim, _, _ = approval.screen_token(forged)
    assert claim.execution_arn == EXECUTION
    with pytest.raises(approval.LinkNotSigned):
        approval.verify_token(KEY, forged)


def test_verify_still_tells_a_forged_expired_link_from_a_genuine_one() -> None:
    with pytest.raises(approval.LinkExpired):
        approval.verify_token(KEY, token(expires=1))
    with pytest.raises(approval.LinkNotSigned):
        approval.verify_token(KEY, token(key=b"other", expires=1))


@pytest.mark.parametrize("junk", [*JUNK, token(expires=1), token(key=b"x", expires=1)])
def test_the_function_refuses_junk_and_expired_tokens_without_fetching_the_key(
    secrets: FakeSecrets, junk: str
) -> None:
    page = approval_task._claim(settings(), junk)
    assert isinstance(page, dict) and page["statusCode"] == 403
    assert secrets.calls == 0


def test_the_key_is_fetched_once_and_cached_across_invocations(secrets: FakeSecrets) -> None:
    for _ in range(50):
        assert isinstance(approval_task._claim(settings(), token()), approval.LinkClaim)
        assert isinstance(approval_task._claim(settings(), token(key=b"forged")), dict)
    assert secrets.calls == 1


def test_forged_tokens_cost_at_most_one_fetch_per_refresh_interval(
    secrets: FakeSecrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(settings_module.time, "monotonic", lambda: clock[0])
    for _ in range(100):  # 100 forged tokens within 5 s
        clock[0] += 0.05
        assert isinstance(approval_task._claim(settings(), token(key=b"forged")), dict)
    assert secrets.calls == 1
    clock[0] += settings_module.KEY_REFRESH_SECONDS
    assert isinstance(approval_task._claim(settings(), token(key=b"forged")), dict)
    assert secrets.calls == 2


def test_a_rotated_key_is_picked_up_by_a_warm_function(
    secrets: FakeSecrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(settings_module.time, "monotonic", lambda: clock[0])
    assert isinstance(approval_task._claim(settings(), token()), approval.LinkClaim)
    secrets.value = b"the rotated key"
    clock[0] += settings_module.KEY_REFRESH_SECONDS + 1  # well inside the cache's lifetime
    claim = approval_task._claim(settings(), token(key=b"the rotated key"))
    assert isinstance(claim, approval.LinkClaim) and secrets.calls == 2
    clock[0] += settings_module.KEY_TTL_SECONDS + 1  # and the cache expires on its own
    claim = approval_task._claim(settings(), token(key=b"the rotated key"))
    assert isinstance(claim, approval.LinkClaim) and secrets.calls == 3


def test_an_expired_genuine_link_says_expired_and_a_forged_one_says_not_valid_when_warm(
    secrets: FakeSecrets,
) -> None:
    approval_task._claim(settings(), token())  # warm: the key is cached
    calls = secrets.calls
    genuine = approval_task._claim(settings(), token(expires=1))
    forged = approval_task._claim(settings(), token(key=b"x", expires=1))
    assert isinstance(genuine, dict) and "has expired" in genuine["body"]
    assert isinstance(forged, dict) and "not valid" in forged["body"]
    assert secrets.calls == calls
