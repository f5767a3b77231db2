"""Restore locks: one lock per listener in the catalog table (``LOCK#<listener arn>``), taken by
every restore that may change the listener, whichever door started it.

- **Who.** The restore state machine's execution (owner: its execution ARN) and the CLI's
  ``albrules restore`` (owner: ``cli:<caller ARN from STS>:<uuid>``) take the same lock, keyed
  by the listener's canonical ARN (``parse_listener_arn(...).arn``).
- **How long.** A workflow restore's lock lasts :func:`workflow_lock_seconds`: its approval
  timeout plus the time the steps around the wait may take, so a restore waiting for approval
  never loses its lock. Before changing the listener, the apply checks with one conditional
  write that it still holds the lock, unexpired, and extends it (:data:`APPLY_SECONDS`);
  otherwise LockLost and nothing is changed.
- **Rollback.** A rollback re-takes the lock as a new restore would (free, expired, or already
  its own) and then rolls back: the listener is already changed, and nobody else is working
  on it. If another restore holds it, the rollback does not fight that restore: it changes
  nothing and ends ROLLBACK_FAILED, naming the holder and the pre-restore snapshot.
- **Abandoned locks.** An execution that ends without passing "Release the lock and record
  the outcome" (stopped, timed out, failed outside its Catch paths) has its lock released and
  its audit record closed by :func:`release_abandoned_lock`, run on the execution's
  "Step Functions Execution Status Change" event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws import as_albrules_error
from .catalog import Catalog
from .errors import InvalidInput
from .records import audit_abandoned

# What a workflow restore may spend outside the approval wait before it applies: four Lambda
# tasks of at most 120 s, each retried up to 6 times with up to 60 s between attempts.
BEFORE_APPLY_SECONDS = 2 * 3600
# Apply (300 s), verify (120 s), roll back (300 s) and verify again, with their retries.
APPLY_SECONDS = 2 * 3600
# A CLI restore: planned, confirmed by a person at the terminal, applied; renewed at apply.
CLI_SECONDS = 3600

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def workflow_lock_seconds(approval_timeout_seconds: int) -> int:
    """How long a workflow restore's lock lasts when taken: longer than the approval can
    wait, plus the steps before the apply, plus the apply itself."""
    return int(approval_timeout_seconds) + BEFORE_APPLY_SECONDS + APPLY_SECONDS


def cli_owner(caller_arn: str) -> str:
    """The lock owner of a CLI restore: who (from STS) and which run."""
    return f"cli:{caller_arn}:{uuid.uuid4()}"


@dataclass
class RestoreLock:
    """A listener's lock held by one restore of the CLI; a context manager that takes it on
    entry and releases it on exit, whatever the way out (an error, Ctrl-C)."""

    catalog: Catalog
    listener_arn: str
    owner: str
    seconds: int = CLI_SECONDS
    held: bool = field(default=False, init=False)

    def __enter__(self) -> RestoreLock:
        self.catalog.acquire_lock(self.listener_arn, self.owner, self.seconds)
        self.held = True
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.held:
            self.release()

    def check(self) -> None:
        """Before any change: still ours and unexpired (extended), else LockLost."""
        self.catalog.hold_lock(self.listener_arn, self.owner, self.seconds)

    def retake_for_rollback(self) -> None:
        """Before a rollback: ours again unless another restore holds it (ListenerLocked)."""
        self.catalog.acquire_lock(self.listener_arn, self.owner, self.seconds)

    def release(self) -> bool:
        self.held = False
        return self.catalog.release_lock(self.listener_arn, self.owner)


# --- abandoned locks ---------------------------------------------------------------------------


def machine_of(execution_arn: str) -> str:
    """The state machine ARN of a standard execution ARN
    (``arn:P:states:R:A:execution:MACHINE:NAME``)."""
    parts = execution_arn.split(":")
    if len(parts) != 8 or parts[0] != "arn" or parts[2] != "states" or parts[5] != "execution":
        raise InvalidInput(f"{execution_arn!r} is not a Step Functions execution ARN")
    return ":".join([*parts[:5], "stateMachine", parts[6]])


def release_abandoned_lock(
    catalog: Catalog, sfn: Any, execution_arn: str, restore_machine_arn: str
) -> dict[str, Any]:
    """Release the lock an ended restore execution still holds and close its audit record.

    What the event says is not trusted: the execution must be one of the restore machine's,
    and Step Functions itself (DescribeExecution) must say it has ended. The lock is released
    only if this execution still owns it, and the audit record is closed only if it is still
    open, so running this for an execution whose own path released and recorded everything
    changes nothing."""
    if machine_of(execution_arn) != restore_machine_arn:
        raise InvalidInput(
            f"{execution_arn} is not an execution of the restore state machine "
            f"{restore_machine_arn}; nothing was done"
        )
    try:
        described = sfn.describe_execution(executionArn=execution_arn)
    except (ClientError, BotoCoreError) as err:
        raise as_albrules_error(err, service="stepfunctions", where=execution_arn) from err
    status = str(described.get("status", ""))
    if status not in TERMINAL:
        raise InvalidInput(
            f"execution {execution_arn} is {status or 'in an unknown state'}, not ended; its "
            "lock stays with it"
        )
    record = catalog.audit(execution_arn)
    if record is None:  # it ended before "Lock the listener" opened its record: no lock
        return {"execution_arn": execution_arn, "status": status, "lock_released": False}
    listener = str(record.get("listener_arn") or "")
    key = str(record.get("lock_key") or listener)  # a recreation locks its load balancer's port
    released = bool(key) and catalog.release_lock(key, execution_arn)
    closed = False
    if record.get("outcome") == "RUNNING":
        fields = audit_abandoned(
            status=status,
            ended_at=_stop_date(described),
            error=str(described.get("error") or ""),
            cause=str(described.get("cause") or ""),
            lock_released=released,
        )
        closed = catalog.write_audit(execution_arn, fields, only_if_outcome="RUNNING")
    return {
        "execution_arn": execution_arn,
        "status": status,
        "listener_arn": listener,
        "lock_released": released,
        "audit_closed": closed,
    }


def _stop_date(described: dict[str, Any]) -> str:
    stop = described.get("stopDate")
    if isinstance(stop, datetime):
        return stop.astimezone(UTC).isoformat(timespec="seconds")
    return datetime.now(UTC).isoformat(timespec="seconds")
