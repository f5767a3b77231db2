"""A function's settings (its environment, as template.yaml sets it) and the stack's stores."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import accounts
from ..accounts import aws_for
from ..aws import Aws, as_albrules_error
from ..catalog import Catalog
from ..errors import InvalidInput
from ..records import RestoreRecords, stack_restore_records
from ..runtime_env import getenv
from ..store import Store
from ..targets import RestoreTargets


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
    member_read_role_name: str | None = None
    restore_targets_text: str = ""  # RestoreTargets, parsed when a restore needs it

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
            restore_targets_text=getenv("ALBRULES_RESTORE_TARGETS") or "",
        )

    @property
    def restore_targets(self) -> RestoreTargets:
        """The listeners a restore may change (InvalidInput if the parameter is malformed)."""
        return RestoreTargets.parse(self.restore_targets_text)

    # -- the stack's own stores, in this account --
    def home(self) -> Aws:
        return accounts.home()

    def catalog(self) -> Catalog:
        return Catalog(self.home(), self.table)

    def store(self, prefix: str) -> Store:
        return Store(f"s3://{self.bucket}/{prefix}", self.home())

    def put_json(self, key: str, document: Any) -> str:
        """Write a JSON document to the stack's bucket under SSE-KMS; returns its s3:// URI."""
        body = json.dumps(document, indent=1, sort_keys=True, default=str).encode()
        return self.store("").put_bytes(key, body, kms_key_id=self.kms_key_id)

    def restore_records(self, execution_arn: str) -> RestoreRecords:
        """The records (pre-restore snapshot, journal) of a restore run by the state machine."""
        return stack_restore_records(self.bucket, self.home(), execution_arn, self.kms_key_id)

    def signing_key(self) -> bytes:
        """The approval links' HMAC key, from Secrets Manager."""
        if not self.approval_secret_arn:
            raise InvalidInput("ALBRULES_APPROVAL_SECRET_ARN is not set; deploy with template.yaml")
        try:
            secret = self.home().secrets.get_secret_value(SecretId=self.approval_secret_arn)
        except (ClientError, BotoCoreError) as err:
            where = self.approval_secret_arn
            raise as_albrules_error(err, service="secretsmanager", where=where) from err
        return str(secret["SecretString"]).encode()

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
