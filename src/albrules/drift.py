"""Drift: what changed on a listener since a snapshot of it.

The comparison is the restore planner's own (:func:`albrules.plan.plan_restore` with the
snapshot as its target), so drift and restore always agree on which rule is which. The planner
looks from the live listener towards the snapshot; drift reads the same changes the other way,
from the snapshot to the live listener ("before" is the snapshot, "after" is live):

=================  ==========================================
the planner would  so, since the snapshot, the rule was
=================  ==========================================
create             removed
delete             added
modify             changed (and moved, if its priority moved)
move               moved (old -> new priority)
default-actions    the default actions changed
=================  ==========================================

Nothing here calls a mutating API: the plan is computed and thrown away.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .errors import InvalidInput
from .labels import describe_actions, describe_conditions
from .models import ListenerState, LiveRule, Snapshot
from .notifications import listener_label
from .plan import RuleChange, plan_restore
from .resolve import desired_from_snapshot
from .snapshot import build_snapshot
from .store import Store, is_s3, read_snapshot

Kind = Literal["added", "removed", "changed", "moved", "default-actions", "listener-settings"]
CHANGE_FIELDS = ("conditions", "actions", "transforms", "tags")
# The planner wants a source for every OIDC client secret it would have to set; drift never
# applies its plan, so any placeholder does.
_NO_SECRET = "drift: never applied"


class RuleDrift(BaseModel):
    """One rule (or the default actions) that is not as the snapshot has it."""

    model_config = ConfigDict(extra="forbid")
    kind: Kind
    priority: int | None = None  # where the rule is now (None: removed, or default actions)
    old_priority: int | None = None  # where the snapshot had it (None: added)
    fields: list[str] = Field(default_factory=list)  # changed: which of CHANGE_FIELDS
    before: dict[str, Any] | None = None  # as in the snapshot
    after: dict[str, Any] | None = None  # as live now

    @property
    def moved(self) -> bool:
        return None not in (self.priority, self.old_priority) and self.priority != self.old_priority

    def where(self) -> str:
        """``priority 30`` or ``priority 30 -> 35``, with the rule's conditions."""
        if self.kind == "default-actions":
            return "the default actions"
        rule = self.after or self.before or {}
        at = (
            f"priority {self.old_priority} -> {self.priority}"
            if self.moved
            else f"priority {self.priority if self.priority is not None else self.old_priority}"
        )
        return f"{at} ({describe_conditions(rule.get('conditions', []))})"

    def line(self) -> str:
        """One short line: ``changed priority 30 (path-pattern=/api/*): actions``."""
        if self.kind == "default-actions":
            return "changed the default actions"
        text = f"{self.kind} {self.where()}"
        return f"{text}: {', '.join(self.fields)}" if self.fields else text

    def details(self) -> list[str]:
        """What changed, field by field, snapshot -> live (for people reading a terminal)."""
        before, after = self.before or {}, self.after or {}
        if self.kind == "added":
            return [f"=> {describe_actions(after.get('actions', []))}"]
        if self.kind == "removed":
            return [f"was => {describe_actions(before.get('actions', []))}"]
        out = []
        for name in self.fields if self.kind != "default-actions" else ["actions"]:
            out.append(f"{name}: {_show(name, before.get(name))} -> {_show(name, after.get(name))}")
        return out


def _show(field: str, value: Any) -> str:
    if field == "conditions":
        return describe_conditions(value or [])
    if field == "actions":
        return describe_actions(value or []) or "(none)"
    if field == "transforms":
        return ", ".join(t.get("Type", "?") for t in value or []) or "(none)"
    if field == "tags":
        return ", ".join(f"{k}={v}" for k, v in sorted((value or {}).items())) or "(none)"
    return str(value)


class ListenerDrift(BaseModel):
    """A listener compared with a snapshot of it: what changed since, snapshot -> live."""

    model_config = ConfigDict(extra="forbid")
    listener_arn: str
    load_balancer: str
    port: int | None = None
    snapshot: str  # where the snapshot is
    snapshot_taken: datetime
    snapshot_checksum: str
    live_checksum: str
    changes: list[RuleDrift] = Field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.changes)

    @property
    def label(self) -> str:
        return listener_label(self.listener_arn, self.port)

    def count(self, kind: Kind) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    def counts(self) -> dict[str, int]:
        """Rules added, removed, changed and moved, and whether the default actions changed."""
        return {
            "added": self.count("added"),
            "removed": self.count("removed"),
            "changed": self.count("changed"),
            "moved": self.count("moved"),
            "default_actions": self.count("default-actions"),
        }

    def summary(self) -> str:
        """``2 removed, 1 changed, 1 added`` (only the kinds that happened)."""
        counts = self.counts()
        parts = [f"{counts[k]} {k}" for k in ("added", "removed", "changed", "moved") if counts[k]]
        if counts["default_actions"]:
            parts.append("default actions changed")
        if self.count("listener-settings"):
            parts.append("listener settings changed")
        return ", ".join(parts) or "no drift"


def _from_plan(change: RuleChange) -> RuleDrift:
    """Turn one of the planner's changes (live -> snapshot) round: snapshot -> live."""
    live, snap = change.before, change.after  # the planner's before is live, after the target
    if change.kind == "default-actions":
        return RuleDrift(kind="default-actions", fields=["actions"], before=snap, after=live)
    if change.kind == "listener-settings":
        return RuleDrift(kind="listener-settings", fields=change.fields, before=snap, after=live)
    if change.kind == "create" and snap is not None:
        return RuleDrift(kind="removed", old_priority=snap["priority"], before=snap)
    if change.kind == "delete" and live is not None:
        return RuleDrift(kind="added", priority=live["priority"], after=live)
    assert live is not None and snap is not None, change
    fields = [f for f in change.fields if f in CHANGE_FIELDS]
    return RuleDrift(
        kind="changed" if fields else "moved",
        priority=live["priority"],
        old_priority=snap["priority"],
        fields=fields,
        before=snap,
        after=live,
    )


def _order(change: RuleDrift) -> tuple[int, int]:
    if change.kind == "listener-settings":
        return (-1, 0)
    if change.kind == "default-actions":
        return (0, 0)
    return (1, change.priority if change.priority is not None else change.old_priority or 0)


def _oidc_clients(actions: list[dict[str, Any]]) -> set[str]:
    return {
        a["AuthenticateOidcConfig"]["ClientId"] for a in actions if a["Type"] == "authenticate-oidc"
    }


def check_location(location: str) -> None:
    """Refuse (InvalidInput) a location that cannot be a directory or S3 prefix of snapshots,
    before anything else is read."""
    store = Store(location)
    if is_s3(location):
        if store.is_file:
            raise InvalidInput(
                f"--against {location} is one snapshot file; give the s3://BUCKET/PREFIX that "
                f"`albrules backup --out` wrote to (to compare with one file: albrules plan FILE)"
            )
        return
    if not store.path.exists():
        raise InvalidInput(
            f"--against {location} does not exist; give the directory (or s3://BUCKET/PREFIX) "
            "that `albrules backup --out` wrote to"
        )
    if not store.path.is_dir():
        raise InvalidInput(
            f"--against {location} is one file; give the directory that `albrules backup "
            "--out` wrote to (to compare with one file: albrules plan FILE)"
        )


def against(store: Store, states: list[ListenerState]) -> list[ListenerDrift]:
    """Each listener compared with its latest snapshot in ``store``.

    A listener with no snapshot there is an error (InvalidInput, naming every such listener
    and the backup command that makes one): without a snapshot there is nothing to compare.
    """
    found: list[tuple[ListenerState, str]] = []
    missing: list[ListenerState] = []
    for state in states:
        latest = store.latest_checksum(state.source)
        if latest is None:
            missing.append(state)
        else:
            found.append((state, latest[0]))
    if missing:
        names = ", ".join(listener_label(s.source.listener_arn, s.source.port) for s in missing)
        arns = " ".join(f"--listener-arn {s.source.listener_arn}" for s in missing)
        empty = not is_s3(store.location) and not store.list()
        raise InvalidInput(
            f"{store.location} has no snapshot of {names}"
            + (" (it holds no snapshots at all)" if empty else "")
            + f"; take one first with `albrules backup {arns} --out {store.location}`"
        )
    return [compare(state, read_snapshot(loc, store.aws), loc) for state, loc in found]


def compare(live: ListenerState, snapshot: Snapshot, location: str) -> ListenerDrift:
    """How ``live`` differs from ``snapshot`` (stored at ``location``), snapshot -> live."""
    desired = desired_from_snapshot(snapshot)
    clients = _oidc_clients(desired.default_actions)
    for rule in desired.rules:
        clients |= _oidc_clients(rule["actions"])
    plan = plan_restore(live, desired, oidc_secrets=dict.fromkeys(clients, _NO_SECRET))
    changes = sorted((_from_plan(c) for c in plan.changes), key=_order)
    return ListenerDrift(
        listener_arn=live.source.listener_arn,
        load_balancer=live.source.load_balancer_name,
        port=live.source.port,
        snapshot=location,
        snapshot_taken=snapshot.created_at,
        snapshot_checksum=snapshot.checksum,
        live_checksum=build_snapshot(live).checksum,
        changes=changes,
    )


def as_listener(snapshot: Snapshot) -> ListenerState:
    """A snapshot as if it were a live listener (its rules named by their priority), so that
    two snapshots compare the way a snapshot and a live listener do."""
    arn = snapshot.source.listener_arn
    return ListenerState(
        source=snapshot.source,
        default_actions=snapshot.default_actions,
        rules=[
            LiveRule(arn=f"{arn}/snapshot-rule/{rule.priority}", **dict(rule))
            for rule in snapshot.rules
        ],
        default_rule_arn=f"{arn}/snapshot-default-rule",
        listener=snapshot.listener,
    )


def compare_snapshots(before: Snapshot, before_location: str, after: Snapshot) -> ListenerDrift:
    """What changed from ``before`` (stored at ``before_location``) to ``after``, in drift's
    words: "added" is in ``after`` and not in ``before``."""
    return compare(as_listener(after), before, before_location)
