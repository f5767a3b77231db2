"""The local AWS's KMS HMAC operations behave as AWS documents (albrules.local.kms), and
albrules' seals hold on it: another key, another algorithm, a non-HMAC key, changed bytes or
another kind of document all fail to verify."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from albrules.errors import IntegrityFailed
from albrules.seal import MAC_ALGORITHM, Sealer


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


@pytest.fixture
def kms(session: boto3.Session) -> Any:
    return session.client("kms")


def hmac_key(kms: Any, spec: str = "HMAC_256") -> str:
    created = kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")
    return str(created["KeyMetadata"]["Arn"])


def mac(kms: Any, key: str, message: bytes = b"m", algorithm: str = MAC_ALGORITHM) -> bytes:
    return bytes(kms.generate_mac(KeyId=key, Message=message, MacAlgorithm=algorithm)["Mac"])


def test_a_mac_verifies_only_with_its_key_its_algorithm_and_its_message(kms: Any) -> None:
    key, other = hmac_key(kms), hmac_key(kms)
    made = mac(kms, key)
    checked = kms.verify_mac(KeyId=key, Message=b"m", Mac=made, MacAlgorithm=MAC_ALGORITHM)
    assert checked["MacValid"] is True
    for key_id, message in ((other, b"m"), (key, b"n")):
        with pytest.raises(ClientError) as err:
            kms.verify_mac(KeyId=key_id, Message=message, Mac=made, MacAlgorithm=MAC_ALGORITHM)
        assert code(err) == "KMSInvalidMacException"


def test_an_algorithm_the_key_does_not_support_is_refused(kms: Any) -> None:
    key = hmac_key(kms)
    with pytest.raises(ClientError) as err:
        mac(kms, key, algorithm="HMAC_SHA_512")
    assert code(err) == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as err:
        kms.verify_mac(KeyId=key, Message=b"m", Mac=mac(kms, key), MacAlgorithm="HMAC_SHA_384")
    assert code(err) == "InvalidKeyUsageException"
    assert mac(kms, hmac_key(kms, "HMAC_512"), algorithm="HMAC_SHA_512")


def test_a_key_that_is_not_an_hmac_key_is_refused(kms: Any) -> None:
    encryption_key = kms.create_key()["KeyMetadata"]["Arn"]
    with pytest.raises(ClientError) as err:
        mac(kms, encryption_key)
    assert code(err) == "InvalidKeyUsageException"


def test_a_disabled_or_deleted_key_makes_no_mac(kms: Any) -> None:
    disabled, deleted = hmac_key(kms), hmac_key(kms)
    kms.disable_key(KeyId=disabled.rsplit("/", 1)[-1])  # moto takes only the key id here
    kms.schedule_key_deletion(KeyId=deleted.rsplit("/", 1)[-1], PendingWindowInDays=7)
    for key, expected in ((disabled, "DisabledException"), (deleted, "KMSInvalidStateException")):
        with pytest.raises(ClientError) as err:
            mac(kms, key)
        assert code(err) == expected


def test_a_message_over_4096_bytes_is_refused(kms: Any) -> None:
    key = hmac_key(kms)
    assert mac(kms, key, b"x" * 4096)
    with pytest.raises(ClientError) as err:
        mac(kms, key, b"x" * 4097)
    assert code(err) == "ValidationException"


def test_an_hmac_key_does_not_rotate(kms: Any) -> None:
    with pytest.raises(ClientError) as err:
        kms.enable_key_rotation(KeyId=hmac_key(kms))
    assert code(err) == "UnsupportedOperationException"
    kms.enable_key_rotation(KeyId=kms.create_key()["KeyMetadata"]["KeyId"])  # symmetric: fine


def test_seals_of_a_10_mib_document_bind_its_bytes_and_its_kind(kms: Any) -> None:
    sealer = Sealer(kms, hmac_key(kms))
    body = b"{" + b" " * (10 * 1024 * 1024) + b"}"  # far over KMS's 4,096-byte message
    seal = sealer.seal("snapshot", body)
    sealer.verify("snapshot", body, seal, "the document")
    for kind, changed in (("plan", body), ("snapshot", body[:-1] + b" }")):
        with pytest.raises(IntegrityFailed, match="the document"):
            sealer.verify(kind, changed, seal, "the document")  # type: ignore[arg-type]
    with pytest.raises(IntegrityFailed, match="does not verify"):
        Sealer(kms, hmac_key(kms)).verify("snapshot", body, seal, "the document")
    with pytest.raises(IntegrityFailed, match="has no seal"):
        sealer.verify("snapshot", body, None, "the document")
