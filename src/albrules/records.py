"""Where albrules keeps what a backup or a restore leaves behind, and the shapes of it.

A restore's records live in one folder, ``<pre-restore location>/<restore id>/``, for the CLI
(``--pre-restore-to``, default ``~/.albrules/pre-restore``) and for the restore state machine
(``s3://<SnapshotBucket>/pre-restore``, the restore id being the execution's name) alike:

- the pre-restore snapshot, in the backup layout (``<account>/<region>/<lb>/<listener>/...``);
- ``journal.json``: every mutating call, in order, with its outcome (restore then rollback).

The state machine also keeps the plan it reviewed and applies at ``plans/<restore id>.json``,
and the audit record of each restore in the catalog table (:func:`audit_opened`,
:func:`audit_closed`). A backup run keeps ``runs/<execution name>/listeners.json`` (what the
Map reads), ``runs/<execution name>/summary.json``, and one drift report per changed snapshot
(:func:`drift_key`).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .arns import parse_listener_arn
from .aws import Aws
from .errors import AlbRulesError, InvalidInput
from .models import Snapshot
from .store import Sealing, Store, read_bytes

PRE_RESTORE_PREFIX = "pre-restore"
JOURNAL_NAME = "journal.json"
IN_FLIGHT_NAME = "in-flight.json"
ROLLBACK_PLAN_NAME = "rollback-plan.json"  # sealed, by the rollback's first slice
PLANS_PREFIX = "plans"
RUNS_PREFIX = "runs"


def new_restore_id() -> str:
    """A restore id for a restore started outside the state machine (as `albrules run` names
    executions): ``cli-<UTC stamp>-<8 hex>``."""
    return f"cli-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:8]}"


def execution_name(execution_arn: str) -> str:
    """The name of an execution (the last part of its ARN): a restore's id in the machine."""
    return execution_arn.rsplit(":", 1)[-1]


@dataclass
class RestoreRecords:
    """The folder of one restore's records: its pre-restore snapshot and its journal."""

    store: Store
    restore_id: str
    kms_key_id: str | None = None
    seal: Sealing | None = None  # the metadata that seals a pre-restore snapshot's bytes

    @property
    def folder(self) -> str:
        return f"{self.store.location.rstrip('/')}/{self.restore_id}"

    @property
    def journal_location(self) -> str:
        return f"{self.folder}/{JOURNAL_NAME}"

    def save_pre_restore(self, snapshot: Snapshot) -> str:
        """Store the listener as it was before the restore (the rollback's target)."""
        return self.save_pre_restore_bytes(snapshot)[0]

    def save_pre_restore_bytes(self, snapshot: Snapshot) -> tuple[str, str | None]:
        """As :meth:`save_pre_restore`; also the SHA-256 of the bytes written."""
        saved = Store(self.folder, self.store.aws).save(
            snapshot, force=True, kms_key_id=self.kms_key_id, seal=self.seal
        )
        return saved.location, saved.sha256

    def write_journal(self, journal: list[dict[str, Any]]) -> str:
        """Store the journal (replacing any earlier one of this restore); its location."""
        body = json.dumps(journal, indent=2, default=str).encode("utf-8")
        return self.store.write_file(
            f"{self.restore_id}/{JOURNAL_NAME}", body, kms_key_id=self.kms_key_id
        )

    @property
    def in_flight_location(self) -> str:
        return f"{self.folder}/{IN_FLIGHT_NAME}"

    def write_in_flight(self, journal: list[dict[str, Any]]) -> None:
        """The write-ahead mark of a sliced apply, before each call: the call about to be
        made (the journal's last entry) and how many steps of its phase are done. Small and
        the same size at every step (the whole journal is written when the slice ends), so
        a 1,000-call plan does not write its growing journal 1,000 times."""
        entry = journal[-1]
        done = sum(
            1
            for e in journal
            if e.get("phase") == entry.get("phase") and e.get("step") and e.get("status") == "done"
        )
        body = json.dumps({"entry": entry, "done": done}, default=str).encode("utf-8")
        self.store.write_file(
            f"{self.restore_id}/{IN_FLIGHT_NAME}", body, kms_key_id=self.kms_key_id
        )

    def read_in_flight(self) -> dict[str, Any] | None:
        """The last write-ahead mark (None when there is none)."""
        try:
            data = json.loads(read_bytes(self.in_flight_location, self.store.aws))
        except InvalidInput:
            return None
        return data if isinstance(data, dict) else None

    def read_journal(self) -> list[dict[str, Any]]:
        """The journal stored so far ([] when there is none yet)."""
        try:
            data = json.loads(read_bytes(self.journal_location, self.store.aws))
        except InvalidInput:  # not written: the apply made no call, or never ran
            return []
        if not isinstance(data, list):
            raise AlbRulesError(f"{self.journal_location} is not a journal (a JSON list)")
        return data

    def try_write_journal(self, journal: list[dict[str, Any]], warnings: list[str]) -> str | None:
        """Store the journal; a failure here must never hide the outcome of the restore itself:
        it becomes a warning, and the journal stays in the outcome."""
        try:
            return self.write_journal(journal)
        except (AlbRulesError, OSError, ClientError, BotoCoreError) as err:
            warnings.append(f"could not store the journal in {self.folder}: {err}")
            return None


def stack_restore_records(
    bucket: str,
    aws: Aws,
    execution_arn: str,
    kms_key_id: str | None = None,
    sealer: Any = None,
) -> RestoreRecords:
    """The records of a restore run by the state machine, in the stack's bucket; a ``sealer``
    (:class:`albrules.seal.Sealer`) seals the pre-restore snapshot."""
    seal = (lambda body: sealer.metadata("snapshot", body)) if sealer is not None else None
    return RestoreRecords(
        Store(f"s3://{bucket}/{PRE_RESTORE_PREFIX}", aws),
        execution_name(execution_arn),
        kms_key_id,
        seal,
    )


def plan_key(execution_arn: str) -> str:
    """Where the state machine keeps the plan of a restore, in the stack's bucket."""
    return f"{PLANS_PREFIX}/{execution_name(execution_arn)}.json"


# --- a backup run ------------------------------------------------------------------------------


def run_listeners_key(execution_arn: str) -> str:
    """The listeners a backup run found (the Distributed Map's ItemReader reads them)."""
    return f"{RUNS_PREFIX}/{execution_name(execution_arn)}/listeners.json"


def run_summary_key(execution_arn: str) -> str:
    """A backup run's summary and every listener's result."""
    return f"{RUNS_PREFIX}/{execution_name(execution_arn)}/summary.json"


def drift_key(listener_arn: str, snapshot_id: str) -> str:
    """Where the whole drift report of a new snapshot is kept, in the stack's bucket."""
    parsed = parse_listener_arn(listener_arn)
    return (
        f"{RUNS_PREFIX}/drift/{parsed.account}/{parsed.region}/{parsed.load_balancer_name}/"
        f"{parsed.listener_id}/{snapshot_id}.json"
    )


# --- the audit record (catalog table) -----------------------------------------------------------


def audit_opened(
    *,
    started_at: str,
    requested_by: str | None,
    reason: str | None,
    request: dict[str, Any],
    listener_arn: str,
    snapshot: str,
    chosen: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The audit record's fields when a restore starts (``chosen``: the snapshot chosen from
    the listener's history for an ``at``/``before_change`` input, and why)."""
    return {
        "started_at": started_at,
        "requested_by": requested_by or "not given in the input",
        "reason": reason or "",
        "request": request,
        "listener_arn": listener_arn,
        "snapshot": snapshot,
        **({"snapshot_choice": chosen} if chosen else {}),
        "outcome": "RUNNING",
    }


def audit_closed(
    *,
    outcome: str,
    ended_at: str,
    listener_arn: str | None,
    plan_location: str | None,
    pre_restore_location: str | None,
    journal_location: str | None,
    changes: int | None,
    plan: dict[str, Any],
    error: dict[str, Any],
    rollback_error: dict[str, Any],
    approval: dict[str, Any] | None,
    lock_released: bool,
) -> dict[str, Any]:
    """The audit record's fields when a restore ends, whatever the way."""
    return {
        "outcome": outcome,
        "ended_at": ended_at,
        "listener_arn": listener_arn or "",
        "plan_location": plan_location or "",
        "pre_restore_location": pre_restore_location or "",
        "journal_location": journal_location or "",
        "changes": changes or 0,
        "plan": plan,
        "error": error,
        "rollback_error": rollback_error,
        "approval": approval or {},
        "lock_released": lock_released,
    }


def audit_abandoned(
    *, status: str, ended_at: str, error: str, cause: str, lock_released: bool
) -> dict[str, Any]:
    """The audit record's fields when a restore execution ended without recording its
    outcome (stopped, timed out, or failed outside the machine's own paths)."""
    return {
        "outcome": "ABANDONED",
        "execution_status": status,
        "ended_at": ended_at,
        "error": {"Error": error, "Cause": cause[:1000]} if error or cause else {},
        "lock_released": lock_released,
        "closed_by": "the execution's status change event (release_abandoned_lock)",
    }


__all__ = [
    "RestoreRecords",
    "audit_abandoned",
    "audit_closed",
    "audit_opened",
    "drift_key",
    "execution_name",
    "new_restore_id",
    "plan_key",
    "run_listeners_key",
    "run_summary_key",
    "stack_restore_records",
]
