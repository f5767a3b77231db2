"""Restoring a whole load balancer: every listener its snapshots name, as one saga.

``albrules restore --load-balancer NAME (--from LOCATION | --at TIME)`` and the restore
machine's ``{"load_balancer": NAME, ...}`` input both come here for the choosing and the
planning; each listener then runs the one restore lifecycle (:mod:`albrules.restore`).

1. :func:`choose_members`: the listeners the snapshots name for the load balancer, found by
   its *name* (a load balancer recreated by a pipeline has a new ARN), and each one's snapshot:
   its latest in LOCATION, or its version at TIME (:func:`albrules.history.choose_at`). Two
   listeners on one port (one replaced the other) keep the newer snapshot.
2. :func:`match_live`: each snapshot's listener on the live load balancer: the same ARN, else
   the listener now on its port, else missing (to recreate, with ``--recreate-listener``).
   Live listeners that no snapshot names are left as they are.
3. :func:`prepare_fleet`: every check and every plan, before any change. One refusal
   (a missing listener without ``--recreate-listener``, a missing target group, ...) refuses
   the whole restore and changes nothing.
4. :func:`execute_fleet`: check every listener is still as planned and take every pre-restore
   snapshot, then apply and verify listener by listener (by port). If one fails, that one and
   every listener already changed are rolled back, newest first (a saga), and the outcome
   names each listener and what happened to it.

How it ends (``RESTORED``, ``ROLLED_BACK``, ...) and the exit code are
:mod:`albrules.outcomes`'s, as for one listener.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .arns import parse_listener_arn
from .aws import Aws, as_albrules_error
from .capture import load_balancer_listeners, resolve_load_balancer
from .errors import RestoreRefused
from .history import CatalogVersions, Choice, Reader, StoreVersions, VersionSource, choose_at
from .history import check_chosen as check_catalogued
from .locks import RestoreLock
from .models import Snapshot
from .moments import parse_time, zulu
from .oidc_secrets import SecretScope
from .outcomes import exit_code_of
from .records import RestoreRecords
from .recreate import check_port_free, create_listener, delete_created
from .restore import (
    Prepared,
    PreRestore,
    apply_with_journal,
    check_unchanged,
    default_oidc,
    plan_for_created,
    prepare_recreate,
    prepare_restore,
    roll_back,
    take_pre_restore_snapshot,
    undo_under_lock,
    verify,
)
from .store import Store

MemberStatus = Literal["restored", "rolled back", "rollback failed", "unchanged", "planned"]
FleetStatus = Literal["NO_CHANGES", "DRY_RUN", "RESTORED", "ROLLED_BACK", "ROLLBACK_FAILED"]


# --- 1. the snapshots ------------------------------------------------------------------------


@dataclass(frozen=True)
class Chosen:
    """One listener's snapshot for the restore, where it is, and why it was chosen."""

    snapshot: Snapshot
    location: str
    reason: str

    @property
    def port_key(self) -> str:
        """What makes two snapshots the same listener slot: the port (the listener id for
        a snapshot that does not record its port)."""
        port = self.snapshot.source.port
        return f"port {port}" if port is not None else self.snapshot.source.listener_id


@dataclass
class Choosing:
    """The snapshots chosen, and the listeners with snapshots that were left out (and why)."""

    chosen: list[Chosen] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (listener ARN, why)


def snapshot_listeners(source: VersionSource, read: Reader, load_balancer_arn: str) -> list[str]:
    """The listeners with snapshots of the load balancer with the name of
    ``load_balancer_arn`` (under any ARN it had: one recreated gets a new ARN), in its
    account and region."""
    parts = load_balancer_arn.split(":")
    here = (parts[4], parts[3])  # account, region
    if isinstance(source, StoreVersions):
        found = source.listeners_of(load_balancer_arn.split("/")[-2], read)
    else:
        assert isinstance(source, CatalogVersions)
        found = source.catalog.listeners_of_load_balancers_named(load_balancer_arn)
    return sorted(
        arn
        for arn in dict.fromkeys(found)
        if (parse_listener_arn(arn).account, parse_listener_arn(arn).region) == here
    )


def choose_members(
    source: VersionSource,
    read: Reader,
    load_balancer_arn: str,
    *,
    at: str | None = None,
    now: datetime | None = None,
    at_name: str = "--at",
) -> Choosing:
    """Each listener's snapshot: the latest at or before ``at`` (default: now, the latest);
    one per port, the newest. RestoreRefused when no listener of ``name`` has one."""
    moment = parse_time(at, now=now or datetime.now(UTC), what=at_name) if at else None
    arns = snapshot_listeners(source, read, load_balancer_arn)
    name = load_balancer_arn.split("/")[-2]
    result = Choosing()
    by_slot: dict[str, Chosen] = {}
    for arn in arns:
        try:
            choice: Choice = choose_at(source, arn, moment or datetime.now(UTC), given=at)
        except RestoreRefused:
            when = f"at or before {zulu(moment)}" if moment else "at all"
            result.left_out.append((arn, f"no snapshot of it {when}"))
            continue
        snapshot = read(choice.location)
        check_catalogued(choice, snapshot)
        chosen = Chosen(snapshot, choice.location, choice.reason)
        earlier = by_slot.get(chosen.port_key)
        if earlier is None or earlier.snapshot.created_at < snapshot.created_at:
            if earlier is not None:
                result.left_out.append(_superseded(earlier, chosen))
            by_slot[chosen.port_key] = chosen
        else:
            result.left_out.append(_superseded(chosen, earlier))
    if not by_slot:
        when = f" at or before {zulu(moment)}" if moment else ""
        raise RestoreRefused(
            f"{source.where} holds no snapshot of a listener of load balancer {name!r}{when}; "
            "nothing was changed (back it up first, or check the name and the location)"
        )
    result.chosen = sorted(
        by_slot.values(), key=lambda c: (c.snapshot.source.port or 0, c.port_key)
    )
    return result


def _superseded(old: Chosen, new: Chosen) -> tuple[str, str]:
    return (
        old.snapshot.source.listener_arn,
        f"replaced on its {old.port_key} by listener {new.snapshot.source.listener_arn}, "
        "whose snapshot is newer",
    )


# --- 2. the live load balancer ---------------------------------------------------------------


@dataclass
class Member:
    """One listener of the restore: its snapshot, the live listener it goes to (None: it is
    missing), and, once planned, its plan (or, to recreate it, the recreate target)."""

    chosen: Chosen
    target_arn: str | None
    note: str = ""
    prepared: Prepared | None = None
    recreate: Any = None  # albrules.recreate.RecreateTarget, for a missing listener

    @property
    def port(self) -> int | None:
        return self.chosen.snapshot.source.port

    @property
    def name(self) -> str:
        """The listener in a few words: ``port 443 (arn:...)``."""
        where = self.target_arn or f"missing; was {self.chosen.snapshot.source.listener_arn}"
        return f"{self.chosen.port_key} ({where})"

    @property
    def changes(self) -> int:
        """Its mutating calls (a recreation's CreateListener counted)."""
        if self.prepared is None:
            return 0
        return len(self.prepared.plan.operations) + (1 if self.recreate is not None else 0)

    @property
    def lock_key(self) -> str:
        """Its restore lock: the listener, or (to recreate it) its load balancer and port."""
        if self.target_arn is not None and self.recreate is None:
            return self.target_arn
        assert self.recreate is not None
        return str(self.recreate.lock_key)


@dataclass
class FleetPlan:
    """A whole load balancer's restore, planned: nothing changed yet."""

    load_balancer_name: str
    load_balancer_arn: str
    members: list[Member]
    left_alone: list[tuple[str, str]] = field(default_factory=list)  # (listener ARN, why)

    @property
    def changes(self) -> int:
        return sum(m.changes for m in self.members)

    @property
    def missing(self) -> list[Member]:
        return [m for m in self.members if m.target_arn is None]

    @property
    def empty(self) -> bool:
        return self.changes == 0

    def public(self) -> dict[str, Any]:
        """The plan for ``--json`` and the machine's records."""
        return {
            "load_balancer": self.load_balancer_name,
            "load_balancer_arn": self.load_balancer_arn,
            "changes": self.changes,
            "listeners": [
                {
                    "port": m.port,
                    "listener_arn": m.target_arn,
                    "snapshot_listener_arn": m.chosen.snapshot.source.listener_arn,
                    "snapshot": m.chosen.location,
                    "reason": m.chosen.reason,
                    "note": m.note,
                    "recreate": m.recreate.public() if m.recreate is not None else None,
                    "plan": m.prepared.plan.public() if m.prepared else None,
                }
                for m in self.members
            ],
            "left_alone": [{"listener_arn": a, "why": w} for a, w in self.left_alone],
        }


def match_live(aws: Aws, balancer: str, choosing: Choosing) -> FleetPlan:
    """Each chosen snapshot's listener on the live load balancer ``balancer`` (its ARN): the
    same ARN, else the listener now on its port, else none (missing)."""
    name = balancer.split("/")[-2]
    live = load_balancer_listeners(aws, balancer)
    by_arn = {str(item["ListenerArn"]): item for item in live}
    by_port = {int(item["Port"]): str(item["ListenerArn"]) for item in live if "Port" in item}
    claimed: set[str] = set()
    members: list[Member] = []
    for chosen in choosing.chosen:
        source = chosen.snapshot.source
        if source.listener_arn in by_arn:
            members.append(Member(chosen, source.listener_arn))
            claimed.add(source.listener_arn)
            continue
        now_there = by_port.get(source.port) if source.port is not None else None
        if now_there is not None and now_there not in claimed:
            members.append(
                Member(
                    chosen,
                    now_there,
                    note=f"restored into the listener now on port {source.port} (the snapshot's "
                    f"listener {source.listener_arn} no longer exists)",
                )
            )
            claimed.add(now_there)
            continue
        members.append(Member(chosen, None, note="the listener no longer exists"))
    left = [
        (arn, "no snapshot names it: left as it is") for arn in sorted(by_arn) if arn not in claimed
    ]
    return FleetPlan(name, balancer, members, left + choosing.left_out)


# --- 3. every check and every plan, before any change ---------------------------------------


@dataclass(frozen=True)
class FleetOptions:
    """What the user chose for every listener of the restore."""

    recreate_listener: bool = False
    map_by_name: bool = False
    oidc_secrets: dict[str, str] = field(default_factory=dict)
    secret_scope: SecretScope = field(default_factory=SecretScope)
    certificate_map: dict[str, str] = field(default_factory=dict)


def check_missing(
    fleet: FleetPlan, recreate_listener: bool, how: str = "pass --recreate-listener"
) -> None:
    """RestoreRefused, naming them, when listeners the snapshots name no longer exist and
    ``recreate_listener`` is not given (``how``: the option's name at the door used)."""
    missing = fleet.missing
    if missing and not recreate_listener:
        names = "; ".join(m.name for m in missing)
        raise RestoreRefused(
            f"{len(missing)} listener(s) of load balancer {fleet.load_balancer_name} no longer "
            f"exist ({names}); {how} to create them from their snapshots, nothing was changed"
        )


def prepare_fleet(aws: Aws, fleet: FleetPlan, options: FleetOptions) -> FleetPlan:
    """Check and plan every listener (nothing is changed). Raises (exit 2) on the first
    problem, naming the listener; a missing listener without ``recreate_listener`` is one
    (:func:`check_missing`), and one with it is planned by :func:`check_recreate`."""
    check_missing(fleet, options.recreate_listener)
    for member in fleet.members:
        if member.target_arn is None:
            member.recreate = check_recreate(aws, member, fleet, options)
            continue
        try:
            member.prepared = prepare_restore(
                aws,
                member.chosen.snapshot,
                target_listener_arn=member.target_arn,
                map_by_name=options.map_by_name,
                oidc_secrets=options.oidc_secrets,
                secret_scope=options.secret_scope,
            )
        except RestoreRefused as err:
            raise type(err)(f"listener {member.name}: {err}") from None
    return fleet


def check_recreate(aws: Aws, member: Member, fleet: FleetPlan, options: FleetOptions) -> Any:
    """Plan a missing listener's recreation on the live load balancer (refused before any
    change when it cannot be: a format 1 snapshot, a certificate missing, ...)."""
    try:
        member.prepared = prepare_recreate(
            aws,
            member.chosen.snapshot,
            load_balancer=fleet.load_balancer_arn,
            certificate_map=options.certificate_map,
            map_by_name=options.map_by_name,
            oidc_secrets=options.oidc_secrets,
            secret_scope=options.secret_scope,
        )
    except RestoreRefused as err:
        raise type(err)(f"listener {member.name}: {err}") from None
    return member.prepared.recreate


# --- 4. apply, listener by listener; roll back every changed one on failure -----------------


class ListenerOutcome(BaseModel):
    """What the restore did to one listener."""

    model_config = ConfigDict(extra="forbid")
    port: int | None
    listener_arn: str | None
    snapshot: str
    status: MemberStatus
    changes: int = 0
    note: str = ""
    pre_restore: str | None = None
    journal_location: str | None = None
    differences: list[str] = Field(default_factory=list)


class FleetResult(BaseModel):
    """What a whole-load-balancer restore did, for people (CLI) and machines (``--json``)."""

    model_config = ConfigDict(extra="forbid")
    status: FleetStatus
    load_balancer: str
    message: str
    changes: int
    listeners: list[ListenerOutcome]
    left_alone: list[dict[str, str]] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return exit_code_of(self.status)


def _outcome(member: Member, status: MemberStatus, note: str = "", **extra: Any) -> ListenerOutcome:
    return ListenerOutcome(
        port=member.port,
        listener_arn=member.target_arn,
        snapshot=member.chosen.location,
        status=status,
        changes=member.changes,
        note=_joined(note, "" if member.recreate is not None and note else member.note),
        **extra,
    )


def _joined(note: str, more: str) -> str:
    return f"{note}; {more}" if note and more else note or more


def _result(
    fleet: FleetPlan, status: FleetStatus, message: str, outcomes: list[ListenerOutcome]
) -> FleetResult:
    return FleetResult(
        status=status,
        load_balancer=fleet.load_balancer_name,
        message=message,
        changes=fleet.changes,
        listeners=outcomes,
        left_alone=[{"listener_arn": a, "why": w} for a, w in fleet.left_alone],
        warnings=[w for m in fleet.members if m.prepared for w in m.prepared.warnings],
    )


def unapplied_fleet(fleet: FleetPlan, dry_run: bool) -> FleetResult | None:
    """The result of a restore that applies nothing (every listener matches, or a dry run);
    None when the plan must be applied."""
    if fleet.empty:
        outcomes = [_outcome(m, "unchanged", "already matches its snapshot") for m in fleet.members]
        return _result(
            fleet, "NO_CHANGES", "every listener already matches; nothing to do", outcomes
        )
    if dry_run:
        outcomes = [
            _outcome(m, "planned" if m.changes or m.recreate else "unchanged")
            for m in fleet.members
        ]
        return _result(fleet, "DRY_RUN", "dry run: nothing was changed", outcomes)
    return None


@dataclass
class _Applied:
    """One listener's part of the saga while it runs."""

    member: Member
    records: RestoreRecords
    pre: PreRestore | None = None
    journal: list[dict[str, Any]] = field(default_factory=list)
    status: MemberStatus = "unchanged"
    note: str = ""
    differences: list[str] = field(default_factory=list)
    journal_at: str | None = None


def member_key(member: Member) -> str:
    """A listener's folder in the restore's records: its port, or its snapshot's listener id."""
    port = member.port
    return f"port-{port}" if port is not None else member.chosen.snapshot.source.listener_id


def execute_fleet(
    aws: Aws,
    fleet: FleetPlan,
    *,
    pre_restore_store: Store,
    restore_id: str,
    recheck: bool = True,
    locks: Mapping[str, RestoreLock] | None = None,
) -> FleetResult:
    """Apply a prepared whole-load-balancer plan as a saga.

    Before any change: every lock is checked (LockLost), every listener is captured again and
    must be as planned (``recheck``; ListenerChanged, naming it), and every pre-restore snapshot
    is stored (``<store>/<restore_id>/port-<port>/``). Then each listener is applied and
    verified in turn; at the first failure that listener and every one already changed are
    rolled back to their pre-restore snapshots, newest first."""
    done = unapplied_fleet(fleet, dry_run=False)
    if done is not None:
        return done
    locks = locks or {}
    work = [
        _Applied(m, RestoreRecords(pre_restore_store, f"{restore_id}/{member_key(m)}"))
        for m in fleet.members
        if m.changes
    ]
    for lock in locks.values():
        lock.check()
    for item in work:
        prepared = _prepared(item.member)
        target = item.member.recreate
        if target is not None:  # no listener yet: its port must still be free
            if recheck:
                check_port_free(
                    aws, target.load_balancer_arn, target.load_balancer_name, target.port
                )
            continue
        arn = _target(item.member)
        live = prepared.live
        if recheck:
            live = check_unchanged(aws, arn, prepared.fingerprint, "the plan was made")
        item.pre = take_pre_restore_snapshot(item.records, live)
    changed: list[_Applied] = []
    failure: tuple[_Applied, str] | None = None
    for item in work:
        prepared = _prepared(item.member)
        try:
            if item.member.recreate is not None:
                _recreate(aws, item)
            else:
                apply_with_journal(aws, prepared.plan, prepared.secret_values, item.journal)
                verify(aws, _target(item.member), prepared.plan.expected)
        except Exception as err:  # anything at all, a bug included: never leave it half-done
            failure = (item, str(as_albrules_error(err)))
            changed.append(item)
            break
        item.status = "restored"
        item.note = f"restored {item.member.changes} change(s) and verified"
        if item.member.recreate is not None:
            was = item.member.chosen.snapshot.source.listener_id
            item.note = f"recreated (was listener {was}); {item.note}"
        changed.append(item)
    if failure is not None:
        for item in reversed(changed):
            _roll_back(aws, item, locks.get(item.member.lock_key))
    warnings: list[str] = []
    for item in work:
        if item.journal:
            item.journal_at = item.records.try_write_journal(item.journal, warnings)
    return _saga_result(fleet, work, failure, warnings)


def _prepared(member: Member) -> Prepared:
    assert member.prepared is not None
    return member.prepared


def _target(member: Member) -> str:
    assert member.target_arn is not None
    return member.target_arn


def _recreate(aws: Aws, item: _Applied) -> None:
    """Create a missing listener (journaled first), then apply the rest of its plan to it and
    verify it (:mod:`albrules.recreate`)."""
    prepared = _prepared(item.member)
    target = item.member.recreate
    created = create_listener(
        aws,
        target,
        item.journal,
        oidc=default_oidc(target, prepared.oidc_secrets),
        secret_values=prepared.secret_values,
    )
    item.member.target_arn = created
    plan, done = plan_for_created(
        aws,
        prepared.plan,
        target.load_balancer_arn,
        created,
        oidc_secrets=prepared.oidc_secrets,
        max_listener_rules=prepared.max_listener_rules,
    )
    if not done:
        apply_with_journal(aws, plan, prepared.secret_values, item.journal)
    verify(aws, created, plan.expected)


def _undo(aws: Aws, item: _Applied) -> list[str]:
    """Back to before the restore: a listener this restore created is deleted, any other
    goes back to its pre-restore snapshot. What is left (empty: done)."""
    if item.member.recreate is not None:
        return delete_created(aws, item.journal)
    prepared = _prepared(item.member)
    assert item.pre is not None
    return roll_back(
        aws,
        _target(item.member),
        item.pre.snapshot,
        item.journal,
        oidc_secrets=prepared.oidc_secrets,
        secret_values=prepared.secret_values,
        max_listener_rules=prepared.max_listener_rules,
        secret_scope=prepared.secret_scope,
    )


def _roll_back(aws: Aws, item: _Applied, lock: RestoreLock | None) -> None:
    """Undo one listener; its status says how it went."""
    left = undo_under_lock(lock, lambda: _undo(aws, item))
    item.differences = left
    if not left:
        item.status = "rolled back"
        return
    item.status = "rollback failed"
    if item.member.recreate is not None:
        item.note = f"not rolled back ({left[0]}); delete the listener it created by hand"
    else:
        where = item.pre.location if item.pre else "(none)"
        item.note = (
            f"not rolled back ({left[0]}); put it back by hand from its pre-restore snapshot "
            f"{where}"
        )


def _saga_result(
    fleet: FleetPlan,
    work: list[_Applied],
    failure: tuple[_Applied, str] | None,
    warnings: list[str],
) -> FleetResult:
    by_member = {id(item.member): item for item in work}
    outcomes: list[ListenerOutcome] = []
    for member in fleet.members:
        item = by_member.get(id(member))
        if item is None:
            outcomes.append(_outcome(member, "unchanged", "already matches its snapshot"))
            continue
        note = item.note
        undone = "rolled back to its pre-restore snapshot"
        if member.recreate is not None:
            undone = "the listener it created was deleted again"
        if failure is not None and item is failure[0]:  # the reason: in the message
            note = "the restore failed here; " + (undone if item.status == "rolled back" else note)
        elif item.status == "rolled back":
            note = f"was restored, then {undone}"
        elif item.status == "unchanged":
            note = "not reached: nothing was changed"
        outcomes.append(
            _outcome(
                member,
                item.status,
                note,
                pre_restore=item.pre.location if item.pre else None,
                journal_location=item.journal_at,
                differences=item.differences,
            )
        )
    result = _result(fleet, "RESTORED", "", outcomes)
    result.warnings += warnings
    name = fleet.load_balancer_name
    if failure is None:
        result.message = (
            f"restored {len(work)} listener(s) of load balancer {name} ({fleet.changes} change(s)) "
            "and verified each"
        )
        return result
    failed, reason = failure
    stuck = [o for o in outcomes if o.status == "rollback failed"]
    if stuck:
        result.status = "ROLLBACK_FAILED"
        result.message = (
            f"the restore of load balancer {name} failed at {failed.member.name} ({reason}) and "
            f"{len(stuck)} listener(s) could not be rolled back; finish by hand from their "
            "pre-restore snapshots (below)"
        )
    else:
        back = sum(1 for o in outcomes if o.status == "rolled back")
        result.status = "ROLLED_BACK"
        result.message = (
            f"the restore of load balancer {name} failed at {failed.member.name} ({reason}); "
            f"the {back} listener(s) it had started to change were rolled back, load balancer "
            f"{name} is as it was before"
        )
    return result


def plan_fleet(
    aws: Aws,
    source: VersionSource,
    read: Reader,
    load_balancer: str,
    options: FleetOptions,
    *,
    at: str | None = None,
    at_name: str = "--at",
) -> FleetPlan:
    """Steps 1 to 3: find the live load balancer by name (or ARN), choose each listener's
    snapshot, match it to the live listeners, check and plan them all. Nothing is changed."""
    balancer = resolve_load_balancer(aws, load_balancer)
    choosing = choose_members(source, read, balancer, at=at, at_name=at_name)
    return prepare_fleet(aws, match_live(aws, balancer, choosing), options)
