"""The audit of restores run by the SAM application: who started each (verified), who decided it
(verified), the SHA-256 of the plan decided on, and how it ended (``albrules audit``).

It reads the catalog table: the restore's audit record (``RESTORE#<execution>``) and its
approval record (``APPROVAL#<execution>``). The requester is the identity CloudTrail recorded
for the StartExecution call, kept in the approval record once found; when no record has it
(a restore that never waited for approval, or CloudTrail had not delivered yet), it is looked
up in CloudTrail now, if it can be. The input's ``requested_by`` is shown only as the
requester's own note.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .catalog import Catalog
from .errors import AlbRulesError, InvalidInput
from .requester import Principal, started_by


@dataclass(frozen=True)
class AuditEntry:
    execution_arn: str
    listener_arn: str
    outcome: str
    started_at: str
    ended_at: str
    requester: str | None  # verified: CloudTrail's StartExecution caller
    requester_source: str  # "approval record", "CloudTrail", or why it is unknown
    requested_by_note: str  # the input's requested_by, as given by the requester
    decision: str | None  # approved / rejected / None (no approval)
    approver: str | None  # verified: the DecisionFunction's IAM caller
    decided_at: str | None
    reason: str | None
    plan_sha256: str | None
    delivered: bool | None

    def public(self) -> dict[str, Any]:
        return asdict(self)


def entry(
    audit: dict[str, Any],
    approval: dict[str, Any] | None,
    execution_arn: str,
    cloudtrail: Any = None,
) -> AuditEntry:
    """One restore's audit, from its records (and CloudTrail, when they lack the requester)."""
    approval = approval or {}
    kept = audit.get("approval")
    closed: dict[str, Any] = kept if isinstance(kept, dict) else {}
    requester = Principal.from_record(approval.get("requester"))
    source = "approval record"
    if requester is None and closed.get("requester"):
        requester, source = Principal(arn=str(closed["requester"])), "approval record"
    if requester is None and cloudtrail is not None:
        try:
            requester = started_by(cloudtrail, execution_arn, audit.get("started_at"))
            source = "CloudTrail" if requester else "not in CloudTrail (yet)"
        except AlbRulesError as err:
            source = f"CloudTrail could not be read: {err}"
    elif requester is None:
        source = "not recorded"
    status = str(approval.get("status") or "")
    decided = status in ("approved", "rejected")
    return AuditEntry(
        execution_arn=execution_arn,
        listener_arn=str(audit.get("listener_arn") or approval.get("listener_arn") or ""),
        outcome=str(audit.get("outcome") or "unknown"),
        started_at=str(audit.get("started_at") or ""),
        ended_at=str(audit.get("ended_at") or ""),
        requester=requester.arn if requester else None,
        requester_source=source,
        requested_by_note=str(audit.get("requested_by") or ""),
        decision=status if decided else (status or None),
        approver=str(approval.get("decided_by")) if decided else None,
        decided_at=str(approval.get("decided_at")) if decided else None,
        reason=str(approval.get("reason") or "") or None,
        plan_sha256=approval.get("plan_sha256") or closed.get("plan_sha256"),
        delivered=approval.get("delivered") if decided else None,
    )


def audit(
    catalog: Catalog,
    *,
    listener_arn: str | None = None,
    execution_arn: str | None = None,
    cloudtrail: Any = None,
) -> list[AuditEntry]:
    """The audit of one restore (``execution_arn``) or of every restore of a listener,
    newest first."""
    if bool(listener_arn) == bool(execution_arn):
        raise InvalidInput("give --listener-arn ARN or --execution-arn ARN (one of them)")
    if execution_arn:
        found = catalog.audit(execution_arn)
        if found is None:
            raise InvalidInput(
                f"no restore {execution_arn} is in the catalog; check the execution ARN and "
                "the stack (--stack-name or --table)"
            )
        records = [{**found, "execution_arn": execution_arn}]
    else:
        records = catalog.audits(str(listener_arn))
    return [
        entry(r, catalog.approval(r["execution_arn"]), r["execution_arn"], cloudtrail)
        for r in records
    ]


def lines(found: AuditEntry) -> list[str]:
    """One restore's audit in words."""
    approval = (
        f"{found.decision} by {found.approver} at {found.decided_at}"
        + ("" if found.delivered is not False else " (recorded, not delivered yet)")
        if found.approver
        else (found.decision or "no approval")
    )
    return [
        f"execution:  {found.execution_arn}",
        f"listener:   {found.listener_arn}",
        f"outcome:    {found.outcome} (started {found.started_at or '?'}, "
        f"ended {found.ended_at or 'not yet'})",
        f"requester:  {found.requester or 'unknown'} ({found.requester_source})",
        f"note:       {found.requested_by_note or '(none)'} (as given by the requester)",
        f"approval:   {approval}" + (f"; reason: {found.reason}" if found.reason else ""),
        f"plan:       sha256 {found.plan_sha256 or 'not recorded'}",
    ]
