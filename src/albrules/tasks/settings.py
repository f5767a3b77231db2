"""A function's settings (its environment, as template.yaml sets it) and the stack's stores.

The approval links' signing key is cached in the process (a warm Lambda environment keeps it
across invocations) for :data:`KEY_TTL_SECONDS`; :meth:`Settings.signing_key` with
``refresh=True`` fetches it again (the signer always does, so a new link carries the current
key; the verifier does when a link fails to verify with a key older than
:data:`KEY_REFRESH_SECONDS`, so a rotated key is picked up at once, and junk costs at most one
fetch per that interval).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import accounts
from ..accounts import aws_for
from ..aws import Aws, as_albrules_error
from ..catalog import Catalog
from ..errors import InvalidInput
from ..oidc_secrets import DEFAULT_PREFIX, SecretScope, check_prefix
from ..pacing import AWS_DESCRIBE_REFILL, DEFAULT_DESCRIBE_CALLS_PER_SECOND
from ..records import RestoreRecords, stack_restore_records
from ..runtime_env import getenv
from ..seal import Kind, Sealer, digest, need_key
from ..snapshot_lock import SnapshotLock, parse_lock_days
from ..store import Store
from ..targets import RestoreTargets

KEY_TTL_SECONDS = 300.0
KEY_REFRESH_SECONDS = 10.0
_keys: dict[str, tuple[bytes, float]] = {}  # secret ARN -> (key, monotonic time fetched)
_keys_lock = threading.Lock()


def forget_signing_keys() -> None:
    """Drop the cached signing keys (a new local AWS, a new test)."""
    with _keys_lock:
        _keys.clear()


@dataclass(frozen=True)
class Settings:
    """The function's configuration, from its environment (see docs/workflows.md)."""

    bucket: str
    table: str
    kms_key_id: str | None
    topic_arn: str | None
    member_role_name: str | None
    external_id: str | None
    approval_secret_arn: str | None
    approval_url: str | None
    oidc_secret_prefix: str = DEFAULT_PREFIX
    seal_key_id: str | None = None
    member_read_role_name: str | None = None
    restore_targets_text: str = ""  # RestoreTargets, parsed when a restore needs it
    snapshot_lock_days: str = ""  # SnapshotLockDays, parsed when a backup needs it
    describe_calls_text: str = ""  # DescribeCallsPerSecond, parsed when a backup needs it

    @classmethod
    def load(cls) -> Settings:
        bucket, table = getenv("ALBRULES_BUCKET"), getenv("ALBRULES_TABLE")
        if not bucket or not table:
            raise InvalidInput(
                "the function has no ALBRULES_BUCKET or ALBRULES_TABLE; deploy it with "
                "template.yaml, which sets them"
            )
        return cls(
            bucket=bucket,
            table=table,
            kms_key_id=getenv("ALBRULES_KMS_KEY_ID") or None,
            topic_arn=getenv("ALBRULES_TOPIC_ARN") or None,
            member_role_name=getenv("ALBRULES_MEMBER_ROLE_NAME") or None,
            member_read_role_name=getenv("ALBRULES_MEMBER_READ_ROLE_NAME") or None,
            external_id=getenv("ALBRULES_EXTERNAL_ID") or None,
            approval_secret_arn=getenv("ALBRULES_APPROVAL_SECRET_ARN") or None,
            approval_url=getenv("ALBRULES_APPROVAL_URL") or None,
            oidc_secret_prefix=check_prefix(
                getenv("ALBRULES_OIDC_SECRET_PREFIX") or DEFAULT_PREFIX,
                "ALBRULES_OIDC_SECRET_PREFIX",
            ),
            seal_key_id=getenv("ALBRULES_SEAL_KEY_ID") or None,
            restore_targets_text=getenv("ALBRULES_RESTORE_TARGETS") or "",
            snapshot_lock_days=getenv("ALBRULES_SNAPSHOT_LOCK_DAYS") or "",
            describe_calls_text=getenv("ALBRULES_DESCRIBE_CALLS_PER_SECOND") or "",
        )

    @property
    def restore_targets(self) -> RestoreTargets:
        """The listeners a restore may change (InvalidInput if the parameter is malformed)."""
        return RestoreTargets.parse(self.restore_targets_text)

    @property
    def snapshot_lock(self) -> SnapshotLock | None:
        """How long the backup locks each snapshot it writes (None: not at all)."""
        return parse_lock_days(self.snapshot_lock_days, "ALBRULES_SNAPSHOT_LOCK_DAYS")

    @property
    def describe_calls_per_second(self) -> float:
        """The sweep's Describe calls a second in each account and region (the template's
        DescribeCallsPerSecond; 5 when unset)."""
        text = self.describe_calls_text.strip()
        if not text:
            return DEFAULT_DESCRIBE_CALLS_PER_SECOND
        try:
            rate = float(text)
        except ValueError:
            rate = 0.0
        if not 0 < rate <= AWS_DESCRIBE_REFILL:
            raise InvalidInput(
                f"ALBRULES_DESCRIBE_CALLS_PER_SECOND is {text!r}, not a number of calls a second "
                f"above 0 and at most {AWS_DESCRIBE_REFILL:g}; set the stack's "
                "DescribeCallsPerSecond parameter to one"
            )
        return rate

    # -- the stack's own stores, in this account --
    def home(self) -> Aws:
        return accounts.home()

    def catalog(self) -> Catalog:
        return Catalog(self.home(), self.table)

    def store(self, prefix: str) -> Store:
        return Store(f"s3://{self.bucket}/{prefix}", self.home())

    def put_json(self, key: str, document: Any) -> str:
        """Write a JSON document to the stack's bucket under SSE-KMS; returns its s3:// URI."""
        return self.put_sealed_json(key, document, None)[0]

    def put_sealed_json(self, key: str, document: Any, kind: Kind | None) -> tuple[str, str]:
        """Write a JSON document, sealed as ``kind`` (None: unsealed) in the same PutObject;
        returns its s3:// URI and the SHA-256 of the bytes written."""
        body = json.dumps(document, indent=1, sort_keys=True, default=str).encode()
        metadata = self.sealer().metadata(kind, body) if kind else None
        uri = self.store("").put_bytes(key, body, kms_key_id=self.kms_key_id, metadata=metadata)
        return uri, digest(body)

    def sealer(self) -> Sealer:
        """Seals and checks the seals of the stack's snapshots and plans (SealKey)."""
        return Sealer(self.home().client("kms"), need_key(self.seal_key_id))

    def restore_records(
        self, execution_arn: str, *, sealed: bool = False, part: str | None = None
    ) -> RestoreRecords:
        """The records (pre-restore snapshot, journal) of a restore run by the state machine;
        ``sealed``: the pre-restore snapshot it saves is sealed; ``part``: one listener's
        folder within a whole-load-balancer restore's."""
        records = stack_restore_records(
            self.bucket,
            self.home(),
            execution_arn,
            self.kms_key_id,
            self.sealer() if sealed else None,
        )
        if part:
            records.restore_id = f"{records.restore_id}/{part}"
        return records

    def secret_scope(self) -> SecretScope:
        """The OIDC client secrets a restore may read: names under the stack's prefix."""
        return SecretScope(
            self.oidc_secret_prefix,
            "or update the stack's OidcSecretPrefix parameter to cover it",
        )

    def signing_key(self, *, refresh: bool = False) -> bytes:
        """The approval links' HMAC key: cached in the process for KEY_TTL_SECONDS, fetched
        from Secrets Manager when older, or when ``refresh`` is true."""
        if not self.approval_secret_arn:
            raise InvalidInput("ALBRULES_APPROVAL_SECRET_ARN is not set; deploy with template.yaml")
        if not refresh:
            cached = self.cached_signing_key()
            if cached is not None:
                return cached
        try:
            secret = self.home().secrets.get_secret_value(SecretId=self.approval_secret_arn)
        except (ClientError, BotoCoreError) as err:
            where = self.approval_secret_arn
            raise as_albrules_error(err, service="secretsmanager", where=where) from err
        key = str(secret["SecretString"]).encode()
        with _keys_lock:
            _keys[self.approval_secret_arn] = (key, time.monotonic())
        return key

    def cached_signing_key(self) -> bytes | None:
        """The cached signing key if it is younger than KEY_TTL_SECONDS (no AWS call)."""
        with _keys_lock:
            cached = _keys.get(self.approval_secret_arn or "")
        if cached is None or time.monotonic() - cached[1] >= KEY_TTL_SECONDS:
            return None
        return cached[0]

    def signing_key_age(self) -> float:
        """Seconds since the cached key was fetched (infinity if none is cached)."""
        with _keys_lock:
            cached = _keys.get(self.approval_secret_arn or "")
        return float("inf") if cached is None else time.monotonic() - cached[1]

    def aws_in(
        self, account_id: str, region: str, role_arn: str | None = None, *, write: bool = False
    ) -> Aws:
        """A session in the account and region of a listener: in another account, the member
        account's read-only role, or its read-write role for ``write`` (the restore's plan, apply
        and rollback). A ``role_arn`` given by the input is used as it is."""
        role_name = self.member_role_name
        if not write and self.member_read_role_name:
            role_name = self.member_read_role_name
        return aws_for(
            account_id,
            region,
            role_arn=role_arn,
            member_role_name=role_name,
            external_id=self.external_id,
        )
