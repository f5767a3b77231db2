"""The restore machine's load-balancer path: every listener of a load balancer in one
execution (:mod:`albrules.fleet_restore`), over :class:`LoadBalancerRestoreState`.

- :func:`plan_load_balancer` ("Lock, check and plan every listener"): choose each listener's
  snapshot, lock every listener, check and plan them all, store each one's pre-restore
  snapshot and sealed plan, and the whole plan (what one approval approves). A refusal
  releases the locks it took and changes nothing.
  With ``"recreate_listener": true`` a listener that no longer exists is planned as
  :func:`albrules.fleet_restore.prepare_fleet` plans it for the CLI (CreateListener, then
  its rules), locked by load balancer and port, with no pre-restore snapshot.
- Each listener is then applied, verified and (on any failure) rolled back by the single
  restore's own tasks (:mod:`albrules.tasks.restore`), given a restore state per listener
  (``records_part``: its records' folder; ``whole_plan_*``: the plan approved; ``recreate``:
  a recreation's note, which those tasks hand to :mod:`albrules.tasks.recreate`).
- :func:`record_load_balancer_outcome` ("Release every listener's lock and record the
  outcome"): release every lock, close the audit record naming each listener and what
  happened to it (a recreated one: its old and new ARN, linked in the history), word the
  notification.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .. import notifications
from ..capture import resolve_load_balancer
from ..errors import AlbRulesError, InvalidInput
from ..fleet_restore import (
    FleetOptions,
    FleetPlan,
    Member,
    check_missing,
    choose_members,
    match_live,
    member_key,
)
from ..fleet_restore import prepare_fleet as check_and_plan
from ..history import CatalogVersions, StoreVersions, VersionSource
from ..locks import workflow_lock_seconds
from ..models import Snapshot, utc_stamp_iso
from ..records import PLANS_PREFIX, audit_closed, audit_opened, execution_name, plan_key
from ..recreate import created_entry, lock_key
from ..restore import take_pre_restore_snapshot
from ..snapshot import build_snapshot
from ..state_documents import (
    LoadBalancerListener,
    LoadBalancerRestoreState,
    Notification,
    PlanSummary,
    RestoreState,
    dump,
)
from ..store import Store
from ..targets import check_load_balancer_target, check_restore_target
from . import recreate
from .restore import _read_snapshot, plan_summary
from .runtime import MetricUnit, logger, metrics
from .settings import Settings


def _source(settings: Settings, from_location: str | None) -> VersionSource:
    """Where the snapshots are: an s3:// prefix of the stack's bucket, else the catalog."""
    if from_location is None:
        return CatalogVersions(settings.catalog())
    if not from_location.startswith(f"s3://{settings.bucket}/") and (
        from_location != f"s3://{settings.bucket}"
    ):
        raise InvalidInput(
            f"from {from_location} is not in the stack's bucket {settings.bucket}; the restore "
            "machine reads snapshots it can check the seal of: give a prefix there, or at"
        )
    return StoreVersions(Store(from_location, settings.home()))


def _whole_summary(fleet: FleetPlan) -> PlanSummary:
    """Every listener's plan in a few words: counts summed, each operation named by port."""
    total = PlanSummary(changes=0)
    lines: list[str] = []
    for member in fleet.members:
        if member.prepared is None:
            continue
        part = plan_summary(member.prepared.plan)
        if member.recreate is not None:  # CreateListener first, as a single restore shows it
            part = recreate.summary_with_create(part, member.recreate.summary())
        for name in ("changes", "creates", "modifies", "moves", "deletes", "default_actions"):
            setattr(total, name, getattr(total, name) + getattr(part, name))
        label = f"port {member.port}" if member.port is not None else member_key(member)
        lines += [f"{label}: {line}" for line in part.operations]
        total.unresolved += [f"{label}: {u}" for u in part.unresolved]
    total.operations = lines[:20]
    total.more = max(0, total.changes - len(total.operations))
    return total


def plan_load_balancer(state: LoadBalancerRestoreState) -> LoadBalancerRestoreState:
    """Choose, lock, check and plan every listener; store each plan and the whole plan."""
    request = state.parsed_request()
    settings = Settings.load()
    home = settings.home()
    account = request.account_id or str(home.client("sts").get_caller_identity()["Account"])
    region = request.region or str(home.region)
    aws = settings.aws_in(account, region, write=True)  # plans read OIDC client secrets
    catalog = settings.catalog()
    balancer = resolve_load_balancer(aws, request.load_balancer)

    sha256s: dict[str, str] = {}

    def read(location: str) -> Snapshot:
        snapshot, sha256s[location] = _read_snapshot(settings, location)
        return snapshot

    source = _source(settings, request.from_location)
    choosing = choose_members(source, read, balancer, at=request.at, at_name="at")
    fleet = match_live(aws, balancer, choosing)
    # refused before any lock is taken: the machine's words for the option
    check_missing(
        fleet, request.recreate_listener, how='add "recreate_listener": true to the input'
    )
    catalog.write_audit(
        state.execution_arn,
        audit_opened(
            started_at=state.started_at or datetime.now(UTC).isoformat(timespec="seconds"),
            requested_by=request.requested_by,
            reason=request.reason,
            request=state.request,
            listener_arn=balancer,
            snapshot=request.from_location or f"each listener's version at {request.at}",
        ),
    )
    seconds = workflow_lock_seconds(state.settings.approval_timeout_seconds)
    taken: list[str] = []
    try:
        if fleet.missing:  # recreated on it: the load balancer must be one it may change
            name = fleet.load_balancer_name
            check_load_balancer_target(aws, balancer, name, settings.restore_targets)
        for member in fleet.members:
            key = _lock_key(fleet, member)
            if member.target_arn is not None:
                check_restore_target(aws, member.target_arn, settings.restore_targets)
            if key is not None:
                catalog.acquire_lock(key, state.execution_arn, seconds)
                taken.append(key)
        options = FleetOptions(
            recreate_listener=request.recreate_listener,
            map_by_name=request.map_target_groups_by_name,
            oidc_secrets=dict(request.oidc_secrets or {}),
            secret_scope=settings.secret_scope(),
            certificate_map=dict(request.certificate_map or {}),
        )
        check_and_plan(aws, fleet, options)
        items = [
            _store_member_plan(settings, state, member, sha256s[member.chosen.location])
            for member in _changing(fleet)
        ]
    except BaseException:
        for arn in taken:  # refused before any change: nobody is kept waiting
            catalog.release_lock(arn, state.execution_arn)
        raise
    whole_at, whole_sha256 = settings.put_sealed_json(
        plan_key(state.execution_arn),
        {
            "load_balancer": fleet.load_balancer_name,
            "public": fleet.public(),
            "listeners": [item.model_dump(mode="json") for item in items],
            "warnings": [w for m in fleet.members if m.prepared for w in m.prepared.warnings],
        },
        "plan",
    )
    summary = _whole_summary(fleet)
    metrics.add_metric(name="PlannedOperations", unit=MetricUnit.Count, value=summary.changes)
    logger.info("load balancer planned", extra={"listeners": len(items), "locked": len(taken)})
    changing = {item.lock_key for item in items}
    return state.model_copy(
        update={
            "load_balancer_arn": balancer,
            "listeners": items,
            "rollback_order": list(reversed(items)),
            "unchanged": [arn for arn in taken if arn not in changing],
            "left_alone": [{"listener_arn": a, "why": w} for a, w in fleet.left_alone],
            "locked": taken,
            "plan_location": whole_at,
            "plan_sha256": whole_sha256,
            "plan": summary,
            "changes": summary.changes,
        }
    )


def _lock_key(fleet: FleetPlan, member: Member) -> str | None:
    """A listener's lock: its ARN, or (missing: to recreate) its load balancer and port (None
    for a snapshot that records no port: the checks refuse it, it cannot be recreated)."""
    if member.target_arn is not None:
        return member.target_arn
    return lock_key(fleet.load_balancer_arn, member.port) if member.port is not None else None


def _changing(fleet: FleetPlan) -> list[Member]:
    return [m for m in fleet.members if m.prepared is not None and m.changes]


def _store_member_plan(
    settings: Settings, state: LoadBalancerRestoreState, member: Member, snapshot_sha256: str
) -> LoadBalancerListener:
    """One listener's pre-restore snapshot (a version of its history too) and sealed plan;
    a recreation's plan (:func:`_store_recreation_plan`)."""
    if member.recreate is not None:
        return _store_recreation_plan(settings, state, member, snapshot_sha256)
    prepared = member.prepared
    assert prepared is not None
    target = str(member.target_arn)
    part = member_key(member)
    records = settings.restore_records(state.execution_arn, sealed=True, part=part)
    pre = take_pre_restore_snapshot(records, prepared.live)
    settings.catalog().record_snapshot(
        snapshot_id=pre.snapshot.checksum[:12],
        listener_arn=target,
        location=pre.location,
        checksum=pre.snapshot.checksum,
        rules=len(prepared.live.rules),
        created_at=utc_stamp_iso(pre.snapshot.created_at),
        trigger="pre-restore",
        execution_arn=state.execution_arn,
    )
    plan = prepared.plan
    key = f"{PLANS_PREFIX}/{execution_name(state.execution_arn)}/{part}.json"
    plan_at, plan_sha256 = settings.put_sealed_json(
        key,
        {
            "plan": plan.model_dump(mode="json"),
            "public": plan.public(),
            "base_fingerprint": pre.fingerprint,
            "base_checksum": build_snapshot(prepared.live).checksum,
            "snapshot": member.chosen.location,
            "pre_restore": pre.location,
            "oidc_secrets": prepared.oidc_secrets,
            "max_listener_rules": prepared.max_listener_rules,
            "warnings": prepared.warnings,
        },
        "plan",
    )
    return LoadBalancerListener(
        listener_arn=target,
        port=member.port,
        records_part=part,
        snapshot_location=member.chosen.location,
        snapshot_sha256=snapshot_sha256,
        pre_restore_location=pre.location,
        pre_restore_sha256=pre.sha256,
        base_fingerprint=pre.fingerprint,
        plan_location=plan_at,
        plan_sha256=plan_sha256,
        changes=len(plan.operations),
    )


def _store_recreation_plan(
    settings: Settings, state: LoadBalancerRestoreState, member: Member, snapshot_sha256: str
) -> LoadBalancerListener:
    """A missing listener's sealed plan: CreateListener, then its rules (as a single restore
    with ``recreate_listener`` plans it); nothing to take a pre-restore snapshot of."""
    prepared = member.prepared
    assert prepared is not None
    part = member_key(member)
    recreation = recreate.recreation_document(
        prepared, state.parsed_request().map_target_groups_by_name
    )
    key = f"{PLANS_PREFIX}/{execution_name(state.execution_arn)}/{part}.json"
    document = recreate.plan_document(prepared.plan, recreation, member.chosen.location)
    plan_at, plan_sha256 = settings.put_sealed_json(key, document, "plan")
    return LoadBalancerListener(
        listener_arn=None,
        port=member.port,
        records_part=part,
        snapshot_location=member.chosen.location,
        snapshot_sha256=snapshot_sha256,
        plan_location=plan_at,
        plan_sha256=plan_sha256,
        changes=member.changes,
        recreate=recreate.note_of(member.recreate),
    )


def _created(
    settings: Settings, state: LoadBalancerRestoreState, item: LoadBalancerListener
) -> str | None:
    """The listener this restore created for ``item`` (its journal says: the source of truth
    for what was created), or None if it sent no CreateListener."""
    records = settings.restore_records(state.execution_arn, part=item.records_part)
    entry = created_entry(records.read_journal())
    return str(entry["listener_arn"]) if entry and entry.get("listener_arn") else None


def listener_outcomes(
    state: LoadBalancerRestoreState, outcome: str, created: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """What happened to each listener, for the audit record and the notification;
    ``created``: the listener created for each recreated one (by records part)."""
    rolled = {r.records_part: r for r in state.rollbacks or []}
    created = created or {}
    found: list[dict[str, Any]] = []
    for item in state.listeners:
        status = "unchanged"
        if outcome == "RESTORED":
            status = "recreated" if item.recreate is not None else "restored"
        elif item.records_part in rolled:
            back = rolled[item.records_part]
            status = (
                back.status
                if back.journal_location or back.status != "rolled back"
                else ("unchanged")
            )
        new = created.get(item.records_part)
        entry: dict[str, Any] = {
            "listener_arn": new if item.recreate is not None else item.listener_arn,
            "port": item.port,
            "status": status,
            "changes": item.changes,
            "pre_restore": item.pre_restore_location,
        }
        if item.recreate is not None:
            entry["old_listener_arn"] = item.recreate.old_listener_arn
            if status == "rolled back":
                entry["status"] = "deleted"  # the listener it created, deleted again
        found.append(entry)
    found += [
        {"listener_arn": arn, "port": None, "status": "unchanged", "changes": 0}
        for arn in state.unchanged
    ]
    return found


def record_load_balancer_outcome(state: LoadBalancerRestoreState) -> LoadBalancerRestoreState:
    """Release every listener's lock this restore holds, record the outcome naming each
    listener, word the notification. Every path of the load-balancer path passes here."""
    outcome = state.outcome or "RESTORED"
    if state.rollback_map_error or any(
        r.status == "rollback failed" for r in state.rollbacks or []
    ):
        outcome = "ROLLBACK_FAILED"
    settings = Settings.load()
    catalog = settings.catalog()
    released = [arn for arn in state.locked if catalog.release_lock(arn, state.execution_arn)]
    created = {
        item.records_part: arn
        for item in state.listeners
        if item.recreate is not None and (arn := _created(settings, state, item))
    }
    if outcome == "RESTORED":
        _link_recreated(settings, state, created)
    outcomes = listener_outcomes(state, outcome, created)
    catalog.write_audit(
        state.execution_arn,
        {
            **audit_closed(
                outcome=outcome,
                ended_at=datetime.now(UTC).isoformat(timespec="seconds"),
                listener_arn=state.load_balancer_arn,
                plan_location=state.plan_location,
                pre_restore_location=None,
                journal_location=None,
                changes=state.changes,
                plan=dump(state.plan) if state.plan else {},
                error=dump(state.error) if state.error else {},
                rollback_error={},
                approval=state.approval,
                lock_released=len(released) == len(state.locked),
            ),
            "listeners": outcomes,
        },
    )
    metrics.add_metric(name=f"Restores.{outcome}", unit=MetricUnit.Count, value=1)
    note: Notification = notifications.load_balancer_outcome(state, outcome, outcomes)
    return state.model_copy(update={"outcome": outcome, "notification": note})


def _link_recreated(
    settings: Settings, state: LoadBalancerRestoreState, created: dict[str, str]
) -> None:
    """Each listener recreated is linked to the one it replaces in the history, as a single
    restore links it (:func:`albrules.tasks.recreate.record_link`); a failure is logged."""
    for item in state.listeners:
        new = created.get(item.records_part)
        if item.recreate is None or new is None:
            continue
        single = RestoreState(
            request={},
            execution_arn=state.execution_arn,
            recreate=item.recreate.model_copy(update={"listener_arn": new}),
        )
        try:
            recreate.record_link(settings, single)
        except AlbRulesError as err:
            logger.error("the history could not link the new listener", extra={"error": str(err)})
