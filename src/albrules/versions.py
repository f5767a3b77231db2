"""A listener's versions: the snapshots the catalog holds of it and the deletions it records,
each with what caused it (its trigger) and the CloudTrail events it covers.

These are the catalog's words for a listener's history (``albrules history``, point-in-time
restores, change-triggered backups). Who made a change comes from CloudTrail's
``userIdentity`` (AWS authentication), never from the event's request parameters.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: What caused a version: a change seen in CloudTrail, the (daily) sweep, a person's backup,
#: a restore's pre-restore snapshot, or a change a restore made (with its execution).
Trigger = Literal["change", "schedule", "manual", "pre-restore", "restore"]
TRIGGERS: tuple[str, ...] = ("change", "schedule", "manual", "pre-restore", "restore")

#: The most events one version records in the catalog (a DynamoDB item is at most 400 KB);
#: beyond it the version counts them (``more_events``).
MAX_EVENTS = 200


class ChangeEvent(BaseModel):
    """One CloudTrail management event a version covers."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(description="CloudTrail eventID")
    name: str = Field(description="eventName: the API action, e.g. ModifyRule")
    time: str = Field(description="eventTime, ISO 8601 UTC")
    by: str = Field(description="userIdentity.arn (for an assumed role, the session's ARN)")
    issuer: str | None = Field(
        default=None, description="for an assumed role, the role (sessionContext.sessionIssuer)"
    )
    account: str | None = None
    region: str | None = None

    @classmethod
    def from_cloudtrail(cls, detail: dict[str, Any]) -> ChangeEvent:
        """The event from a CloudTrail record (an EventBridge event's ``detail``)."""
        identity = detail.get("userIdentity") or {}
        issuer = ((identity.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
        by = identity.get("arn") or identity.get("principalId") or identity.get("type") or "?"
        return cls(
            id=str(detail.get("eventID") or ""),
            name=str(detail.get("eventName") or ""),
            time=str(detail.get("eventTime") or ""),
            by=str(by),
            issuer=str(issuer) if issuer else None,
            account=detail.get("recipientAccountId"),
            region=detail.get("awsRegion"),
        )


class Version(BaseModel):
    """One entry of a listener's history, as the catalog holds it."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["snapshot", "deletion", "recreation"] = "snapshot"
    listener_arn: str
    taken_at: str = Field(description="when the snapshot was taken, or the deletion seen")
    trigger: Trigger = "schedule"
    snapshot_id: str | None = None
    location: str | None = Field(default=None, description="the snapshot (None: a deletion)")
    checksum: str | None = None
    rules: int | None = None
    execution_arn: str | None = Field(
        default=None, description="the restore (trigger restore or pre-restore) or backup run"
    )
    events: list[ChangeEvent] = Field(default_factory=list)
    more_events: int = 0
    recreated_as: str | None = Field(
        default=None, description="a recreation: the listener made in place of this one"
    )
    recreated_from: str | None = Field(
        default=None, description="a recreation: the deleted listener this one replaces"
    )
    sort_key: str = Field(default="", description="the catalog item's sort key")

    @property
    def changed_by(self) -> list[str]:
        """The identities that made the changes, in the order they first appear."""
        return list(dict.fromkeys(event.by for event in self.events))
