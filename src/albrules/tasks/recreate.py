"""The restore machine's steps for ``"recreate_listener": true`` (:mod:`albrules.recreate`):
the same tasks as every restore (:mod:`albrules.tasks.restore` calls these), with the lock on
the load balancer's port while no listener ARN exists, no pre-restore snapshot (there is no
listener), a plan that begins "create listener PROTOCOL:PORT on load balancer NAME", and a
rollback that deletes the listener created.

The journal is the source of truth for what was created: CreateListener is journaled before
it is sent (write-ahead), and a Catch hands the rollback the state from before the apply, so
the rollback finds the listener there (or, when the answer was lost, by load balancer and
port, which this restore holds the lock of).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from ..aws import Aws
from ..errors import (
    ApplyFailed,
    ListenerChanged,
    ListenerLocked,
    RestoreRefused,
    RollbackFailed,
    VerifyFailed,
)
from ..locks import APPLY_SECONDS
from ..models import Snapshot
from ..operations import API_OPERATION
from ..plan import Plan
from ..recreate import (
    V1_REFUSAL,
    RecreateTarget,
    check_recreatable,
    create_listener,
    created_entry,
    delete_created,
    find_created,
    find_load_balancer,
    lock_key,
    redacted_request,
    still_there,
)
from ..resolve import read_secret_values, secret_arns
from ..restore import (
    Prepared,
    apply_with_journal,
    default_oidc,
    plan_for_created,
    prepare_recreate,
)
from ..state_documents import PlanSummary, RecreateNote, RestoreRequest, RestoreState
from ..targets import check_load_balancer_target
from .runtime import MetricUnit, logger, metrics, store_journal
from .settings import Settings


def note_for(aws: Aws, snapshot: Snapshot, request: RestoreRequest) -> RecreateNote:
    """Where the listener will be recreated, and so the lock's key (load balancer + port)."""
    if snapshot.listener is None:
        raise RestoreRefused(V1_REFUSAL)
    arn, name = find_load_balancer(aws, snapshot, request.load_balancer)
    port = snapshot.listener.port
    return RecreateNote(
        old_listener_arn=snapshot.source.listener_arn,
        load_balancer_arn=arn,
        load_balancer_name=name,
        port=port,
        protocol=snapshot.listener.protocol,
        lock_key=lock_key(arn, port),
    )


def _target(
    aws: Aws,
    settings: Settings,
    snapshot: Snapshot,
    note: RecreateNote,
    certificate_map: dict[str, str] | None,
    map_by_name: bool,
) -> RecreateTarget:
    """The checks again (nothing changed if they fail), on the load balancer locked."""
    check_load_balancer_target(
        aws, note.load_balancer_arn, note.load_balancer_name, settings.restore_targets
    )
    target = check_recreatable(
        aws, snapshot, note.load_balancer_arn, certificate_map, map_by_name=map_by_name
    )
    if target.lock_key != note.lock_key:  # pragma: no cover - the port is the snapshot's
        raise RestoreRefused(f"{target.summary()} is not what the lock holds; nothing was changed")
    return target


def check(
    aws: Aws, settings: Settings, snapshot: Snapshot, request: RestoreRequest, note: RecreateNote
) -> None:
    options = (request.certificate_map, request.map_target_groups_by_name)
    target = _target(aws, settings, snapshot, note, *options)
    settings.secret_scope().check_all(request.oidc_secrets or {}, target.placeholder_arn)


def plan_document(plan: Plan, recreation: dict[str, Any], snapshot: str) -> dict[str, Any]:
    """A recreation's plan document (sealed, approved, applied): the plan from the listener
    as it will be created and its ``recreate`` part; no pre-restore snapshot."""
    return {
        "plan": plan.model_dump(mode="json"),
        "public": plan.public(),
        "recreate": recreation,
        "base_fingerprint": "",
        "snapshot": snapshot,
        "pre_restore": None,
        "oidc_secrets": recreation["oidc_secrets"],
        "max_listener_rules": recreation["max_listener_rules"],
        "warnings": recreation["warnings"],
    }


def note_of(target: RecreateTarget) -> RecreateNote:
    """The restore state's note of a recreation checked and planned."""
    return RecreateNote(
        old_listener_arn=target.old_listener_arn,
        load_balancer_arn=target.load_balancer_arn,
        load_balancer_name=target.load_balancer_name,
        port=target.port,
        protocol=target.protocol,
        lock_key=target.lock_key,
    )


def summary_with_create(summary: PlanSummary, target_summary: str) -> PlanSummary:
    """The plan in a few words, CreateListener first (what an approver reads)."""
    return summary.model_copy(
        update={
            "changes": summary.changes + 1,
            "operations": [f"0. {target_summary}", *summary.operations],
        }
    )


def plan(
    aws: Aws, settings: Settings, snapshot: Snapshot, request: RestoreRequest, note: RecreateNote
) -> tuple[Plan, dict[str, Any]]:
    """Check again and plan from the listener as it will be created; the plan document's
    recreation part (the CreateListener request, without secrets)."""
    check_load_balancer_target(
        aws, note.load_balancer_arn, note.load_balancer_name, settings.restore_targets
    )
    prepared = prepare_recreate(
        aws,
        snapshot,
        load_balancer=note.load_balancer_arn,
        certificate_map=request.certificate_map,
        map_by_name=request.map_target_groups_by_name,
        oidc_secrets=request.oidc_secrets,
        secret_scope=settings.secret_scope(),
    )
    return prepared.plan, recreation_document(prepared, request.map_target_groups_by_name)


def recreation_document(prepared: Prepared, map_by_name: bool) -> dict[str, Any]:
    """A plan document's ``recreate`` part: the CreateListener request planned (without
    secrets) and the options the apply checks it again with (its ``certificate_map`` too)."""
    target = prepared.recreate
    assert target is not None
    return {
        **target.public(),
        "request": redacted_request(target.request(default_oidc(target, prepared.oidc_secrets))),
        "oidc_secrets": prepared.oidc_secrets,
        "max_listener_rules": prepared.max_listener_rules,
        "warnings": prepared.warnings,
        "map_target_groups_by_name": map_by_name,
    }


def apply(
    settings: Settings,
    state: RestoreState,
    aws: Aws,
    snapshot: Snapshot,
    document: dict[str, Any],
) -> RestoreState:
    """Create the listener (unless an earlier attempt did), then apply the approved plan to
    it. A listener not as the plan expected (an earlier attempt part-way) is ApplyFailed: it
    is deleted again, never re-planned. The options checked again are the plan's (one
    listener of a whole-load-balancer restore has no single restore's input)."""
    note = state.recreate
    assert note is not None
    recreation = document["recreate"]
    planned = Plan.model_validate(document["plan"])
    records = settings.restore_records(state.execution_arn, part=state.records_part)
    journal: list[dict[str, Any]] = records.read_journal()
    oidc = dict(recreation.get("oidc_secrets") or {})
    scope = settings.secret_scope()
    if created_entry(journal) is None:
        options = (recreation["certificate_map"], recreation["map_target_groups_by_name"])
        target = _target(aws, settings, snapshot, note, *options)  # port free, certs there
        wanted = default_oidc(target, oidc)
        if redacted_request(target.request(wanted)) != recreation["request"]:
            raise ListenerChanged(
                f"{target.summary()} would no longer send the request planned (a certificate, "
                "target group or the load balancer changed); nothing was changed, start the "
                "restore again"
            )
        values = read_secret_values(aws, list(wanted.values()), target.placeholder_arn, scope)
        try:
            created = create_listener(
                aws,
                target,
                journal,
                oidc=wanted,
                secret_values=values,
                before_call=records.write_journal,
            )
        finally:
            records.try_write_journal(journal, [])
    else:
        found = find_created(aws, journal)
        if found is None:
            raise ApplyFailed(
                "an earlier attempt of this apply sent CreateListener and no listener is on "
                f"port {note.port} of load balancer {note.load_balancer_name}; nothing to undo",
                index=0,
                journal=journal,
            )
        created = found
    logger.append_keys(listener_arn=created)
    plan_now, done = plan_for_created(
        aws,
        planned,
        note.load_balancer_arn,
        created,
        oidc_secrets=oidc,
        max_listener_rules=recreation.get("max_listener_rules"),
    )
    if not done:
        values = read_secret_values(aws, secret_arns(plan_now), created, scope)
        try:
            apply_with_journal(aws, plan_now, values, journal, before_call=records.write_journal)
        finally:
            records.try_write_journal(journal, [])
    for api, count in Counter(API_OPERATION[op.op] for op in plan_now.operations).items():
        metrics.add_metric(name=f"Operations.{api}", unit=MetricUnit.Count, value=count)
    metrics.add_metric(name="Operations.CreateListener", unit=MetricUnit.Count, value=1)
    return state.model_copy(
        update={
            "listener_arn": created,
            "recreate": note.model_copy(update={"listener_arn": created}),
            "applied": len(plan_now.operations) + 1,
            "journal_location": records.journal_location,
        }
    )


def roll_back(settings: Settings, state: RestoreState, aws: Aws) -> RestoreState:
    """Delete the listener this restore created (the journal says which); RollbackFailed if
    it is still there."""
    note = state.recreate
    assert note is not None
    records = settings.restore_records(state.execution_arn, part=state.records_part)
    journal = records.read_journal()
    if not journal and state.records_part:
        # one listener of a whole-load-balancer restore that its apply never reached: no
        # CreateListener was sent (it is journaled before it is), nothing to delete
        return state.model_copy(update={"phase": "rollback"})
    metrics.add_metric(name="Rollbacks", unit=MetricUnit.Count, value=1)
    try:
        settings.catalog().acquire_lock(note.lock_key, state.execution_arn, APPLY_SECONDS)
    except ListenerLocked as err:
        metrics.add_metric(name="RollbackFailures", unit=MetricUnit.Count, value=1)
        raise RollbackFailed(
            f"the rollback (deleting the listener created on port {note.port} of load balancer "
            f"{note.load_balancer_name}) was not started: another restore holds the lock ({err})",
            [str(err)],
        ) from None
    created = find_created(aws, journal)
    left = delete_created(aws, journal)
    journal_at = store_journal(records, journal)
    if left:
        metrics.add_metric(name="RollbackFailures", unit=MetricUnit.Count, value=1)
        raise RollbackFailed(
            f"the rollback did not finish ({left[0]}); delete the listener on port {note.port} "
            f"of load balancer {note.load_balancer_name} by hand (journal: {journal_at})",
            left,
        )
    update: dict[str, Any] = {"phase": "rollback", "journal_location": journal_at}
    if created is not None:  # the listener deleted: the outcome names it
        update["recreate"] = note.model_copy(update={"listener_arn": created})
    return state.model_copy(update=update)


def verify_rolled_back(settings: Settings, state: RestoreState, aws: Aws) -> None:
    """After the rollback: the listener created is gone (the load balancer is as it was)."""
    records = settings.restore_records(state.execution_arn, part=state.records_part)
    left = still_there(aws, records.read_journal())
    if left:
        raise VerifyFailed(f"listener {left}, created by this restore, still exists", [left])


def record_link(settings: Settings, state: RestoreState) -> None:
    """A restore that recreated its listener links the two in the history."""
    note = state.recreate
    if note is None or not note.listener_arn:
        return
    settings.catalog().record_recreation(
        old_listener_arn=note.old_listener_arn,
        new_listener_arn=note.listener_arn,
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        execution_arn=state.execution_arn,
    )
