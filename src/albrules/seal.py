"""Seals: a KMS HMAC over what the stack wrote, so that a reader can tell it was not swapped.

A seal is ``GenerateMac`` (HMAC_SHA_256, the stack's ``SealKey``) over a short canonical
message naming the kind of document and the SHA-256 of its *exact stored bytes*::

    albrules-seal/1
    <kind>          (snapshot or plan)
    <sha256 hex of the object's bytes>

The digest, not the document, is MACed: KMS takes at most 4,096 bytes of message, a snapshot
may be 10 MiB, and a digest of the bytes needs no parsing (nor any canonical form) before the
seal is checked. The kind keeps a sealed snapshot from passing for a plan and back.

An S3 object carries its seal in its own metadata, set by the same PutObject that writes it:
``albrules-seal`` (the MAC, base64) and ``albrules-seal-key`` (the key's ARN, for people; a
reader always verifies with its own configured key, never the one the object names). A local
file carries it in a sidecar ``FILE.seal``: a JSON object of those two metadata entries, so
``aws s3 cp FILE s3://... --metadata "$(cat FILE.seal)"`` uploads the file with its seal.

A seal says the bytes were written by someone allowed ``kms:GenerateMac`` on the key: the
stack's writing functions, or an operator sealing a hand edit (``albrules seal``). It does not
say where the object should live: that is the bucket policy's job.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from .aws import Aws, as_albrules_error, error_code
from .errors import IntegrityFailed, InvalidInput
from .snapshot import format_for, loads
from .store import SEAL_METADATA, is_s3, parse_s3, read_object

Kind = Literal["snapshot", "plan"]
SEAL_KEY_METADATA = "albrules-seal-key"
MAC_ALGORITHM = "HMAC_SHA_256"
VERSION = "albrules-seal/1"
SIDECAR_SUFFIX = ".seal"


def digest(body: bytes) -> str:
    """The SHA-256 (hex) of exact bytes: what a seal and an approval bind."""
    return hashlib.sha256(body).hexdigest()


def message(kind: Kind, body: bytes) -> bytes:
    """What is MACed for ``body`` of ``kind``."""
    return f"{VERSION}\n{kind}\n{digest(body)}\n".encode()


@dataclass(frozen=True)
class Seal:
    mac: str  # base64
    key_arn: str

    def metadata(self) -> dict[str, str]:
        return {SEAL_METADATA: self.mac, SEAL_KEY_METADATA: self.key_arn}

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any] | None) -> Seal | None:
        found = {str(k).lower(): str(v) for k, v in (metadata or {}).items()}
        mac = found.get(SEAL_METADATA)
        return cls(mac, found.get(SEAL_KEY_METADATA, "")) if mac else None


def sidecar_path(path: str | Path) -> Path:
    return Path(f"{path}{SIDECAR_SUFFIX}")


def read_sidecar(path: str | Path) -> Seal | None:
    """The seal of a local file (its ``FILE.seal``), or None if it has none."""
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        return Seal.from_metadata(json.loads(side.read_text()))
    except (ValueError, OSError, AttributeError):
        return None


@dataclass(frozen=True)
class Sealer:
    """Seals and checks seals with one KMS HMAC key (``kms`` is a KMS client)."""

    kms: Any
    key_id: str

    def seal(self, kind: Kind, body: bytes) -> Seal:
        try:
            made = self.kms.generate_mac(
                KeyId=self.key_id, Message=message(kind, body), MacAlgorithm=MAC_ALGORITHM
            )
        except (ClientError, BotoCoreError) as err:
            raise as_albrules_error(err, service="kms", where=f"seal key {self.key_id}") from err
        return Seal(base64.b64encode(made["Mac"]).decode(), self.key_id)

    def metadata(self, kind: Kind, body: bytes) -> dict[str, str]:
        """The S3 metadata that seals ``body``."""
        return self.seal(kind, body).metadata()

    def verify(self, kind: Kind, body: bytes, seal: Seal | None, where: str) -> None:
        """Refuse (IntegrityFailed, naming ``where``) unless ``seal`` is this key's seal of
        ``body`` as ``kind``."""
        if seal is None:
            raise IntegrityFailed(
                f"{where} has no seal, so it was not written by this stack; nothing was changed "
                "(a hand-edited snapshot must be sealed with `albrules seal`)"
            )
        try:
            mac = base64.b64decode(seal.mac, validate=True)
        except (binascii.Error, ValueError):
            mac = b""
        if not mac:
            raise IntegrityFailed(f"{where} has a malformed seal; nothing was changed")
        try:
            checked = self.kms.verify_mac(
                KeyId=self.key_id, Message=message(kind, body), Mac=mac, MacAlgorithm=MAC_ALGORITHM
            )
        except ClientError as err:
            if error_code(err) == "KMSInvalidMacException":
                other = f" (it names key {seal.key_arn})" if seal.key_arn else ""
                raise IntegrityFailed(
                    f"the seal of {where} does not verify with the stack's seal key{other}: the "
                    f"{kind} was changed or replaced after it was sealed; nothing was changed"
                ) from None
            raise as_albrules_error(err, service="kms", where=f"seal key {self.key_id}") from err
        except BotoCoreError as err:
            raise as_albrules_error(err, service="kms", where=f"seal key {self.key_id}") from err
        if checked.get("MacValid") is not True:
            raise IntegrityFailed(f"the seal of {where} does not verify; nothing was changed")


def check_digest(body: bytes, expected: str | None, where: str, what: str) -> None:
    """Refuse unless ``body`` is the exact bytes whose SHA-256 is ``expected`` (None: no
    expectation yet)."""
    if expected is not None and digest(body) != expected:
        raise IntegrityFailed(
            f"{where} is not the {what} (its SHA-256 is {digest(body)[:12]}..., not "
            f"{expected[:12]}...): it was replaced during the restore; nothing was changed"
        )


def need_key(key_id: str | None) -> str:
    if not key_id:
        raise InvalidInput(
            "no seal key is configured (ALBRULES_SEAL_KEY_ID); deploy with template.yaml, "
            "which creates SealKey"
        )
    return key_id


def read_sealed(
    location: str, aws: Aws | None, sealer: Sealer, kind: Kind, expect: str | None = None
) -> bytes:
    """The bytes at ``location``, once their seal verifies (and, given ``expect``, once they
    are the exact bytes of that SHA-256); else IntegrityFailed naming the object."""
    body, metadata = read_object(location, aws)
    check_digest(body, expect, location, f"{kind} this restore read before")
    seal = Seal.from_metadata(metadata) if is_s3(location) else read_sidecar(location)
    sealer.verify(kind, body, seal, location)
    return body


@dataclass(frozen=True)
class Sealed:
    location: str
    sealed_at: str  # where the seal went: the object's metadata, or the sidecar file
    sha256: str
    key_arn: str


def seal_location(location: str, s3: Any, sealer: Sealer) -> Sealed:
    """Seal the snapshot at ``location`` as it is (a hand edit): an S3 object gets the seal in
    its metadata (copied in place, the same version's bytes, encryption and content type); a
    local file gets ``FILE.seal``. A document that is not a valid snapshot is not sealed."""
    if not is_s3(location):
        body, _ = read_object(location, None)
        loads(body, location, format_for(location))
        seal = sealer.seal("snapshot", body)
        side = sidecar_path(Path(location).expanduser())
        side.write_text(json.dumps(seal.metadata(), indent=1) + "\n")
        return Sealed(location, str(side), digest(body), seal.key_arn)
    bucket, key = parse_s3(location)
    try:
        got = s3.get_object(Bucket=bucket, Key=key)
        body = got["Body"].read()
    except (ClientError, BotoCoreError) as err:
        raise as_albrules_error(err, service="s3", where=location) from err
    loads(body, location, format_for(location))
    seal = sealer.seal("snapshot", body)
    source: dict[str, str] = {"Bucket": bucket, "Key": key}
    if got.get("VersionId") and got["VersionId"] != "null":
        source["VersionId"] = got["VersionId"]
    kwargs: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "CopySource": source,
        "CopySourceIfMatch": got["ETag"],  # exactly the bytes sealed, or nothing
        "MetadataDirective": "REPLACE",
        "Metadata": {**(got.get("Metadata") or {}), **seal.metadata()},
        "ContentType": got.get("ContentType") or "application/json",
    }
    if got.get("ServerSideEncryption") == "aws:kms":
        kwargs["ServerSideEncryption"] = "aws:kms"
        if got.get("SSEKMSKeyId"):
            kwargs["SSEKMSKeyId"] = got["SSEKMSKeyId"]
    try:
        s3.copy_object(**kwargs)
    except (ClientError, BotoCoreError) as err:
        raise as_albrules_error(err, service="s3", where=location) from err
    return Sealed(location, f"{location} (metadata {SEAL_METADATA})", digest(body), seal.key_arn)
