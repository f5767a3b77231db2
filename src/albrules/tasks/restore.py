"""The restore state machine's tasks: each is one step of the restore lifecycle
(:mod:`albrules.restore`) over the restore state document (:class:`RestoreState`).

Each task takes the state and returns it with its own part filled in. Failures are typed
exceptions whose class names the state machine's Catch blocks match; a task never swallows one.
``functions/<task>/app.py`` is the Lambda door of each.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from .. import approval, history, notifications
from ..arns import parse_listener_arn
from ..aws import Aws
from ..capture import capture_listener
from ..errors import (
    AlbRulesError,
    ApplyFailed,
    IntegrityFailed,
    ListenerLocked,
    RestoreRefused,
    RollbackFailed,
)
from ..locks import APPLY_SECONDS, workflow_lock_seconds
from ..models import Snapshot, utc_stamp_iso
from ..operations import API_OPERATION
from ..pacing import for_mutations
from ..plan import INPUT_NAMES, Plan, choose_selection
from ..records import ROLLBACK_PLAN_NAME, audit_closed, audit_opened, plan_key
from ..requester import started_by
from ..resolve import choose_target, desired_from_snapshot, read_secret_values, secret_arns
from ..restore import (
    apply_with_journal,
    check_restorable,
    check_unchanged,
    plan_rollback,
    prepare_restore,
    resume_after_retry,
    rollback_secrets,
    take_pre_restore_snapshot,
    verify,
    with_in_flight,
)
from ..seal import digest, read_sealed
from ..slices import MAX_SLICES, Deadline
from ..snapshot import build_snapshot, format_for, loads
from ..state_documents import PlanSummary, RecreateNote, RestoreRequest, RestoreState, dump
from ..targets import check_restore_target
from . import recreate
from .runtime import MetricUnit, logger, metrics, store_journal
from .settings import Settings

CATALOG_ID = re.compile(r"^[0-9a-f]{12}$")
KEYS = ("pk", "sk")
SHOWN_OPERATIONS = 20


# --- helpers -----------------------------------------------------------------------------


def _snapshot_location(reference: str, settings: Settings) -> tuple[str, str | None]:
    """An s3:// URI from what the input names (a URI, a key in the stack's bucket, or a
    catalog id: the 12-hex-digit short checksum), and the checksum the catalog records for it
    (None when not named by catalog id)."""
    if reference.startswith("s3://"):
        return reference, None
    if CATALOG_ID.match(reference):
        row = settings.catalog().find_snapshot(reference)
        if row is None:
            raise RestoreRefused(
                f"no snapshot with catalog id {reference} is in the catalog; give its S3 key or "
                "an id from the catalog"
            )
        return str(row["location"]), str(row.get("checksum") or "")
    return f"s3://{settings.bucket}/{reference.lstrip('/')}", None


def _read_snapshot(
    settings: Settings, location: str, expect: str | None = None
) -> tuple[Snapshot, str]:
    """The snapshot at ``location`` once its seal verifies (and, given ``expect``, once it is
    the exact bytes read before), and the SHA-256 of its bytes."""
    body = read_sealed(location, settings.home(), settings.sealer(), "snapshot", expect)
    return loads(body, location, format_for(location)), digest(body)


def read_snapshot_at(settings: Settings, location: str) -> Snapshot:
    """The snapshot at ``location`` in the stack's bucket, once its seal verifies."""
    return _read_snapshot(settings, location)[0]


def _pre_restore(settings: Settings, state: RestoreState) -> Snapshot:
    location = _need(state.pre_restore_location, "pre-restore snapshot")
    return _read_snapshot(settings, location, _need(state.pre_restore_sha256, "pre-restore"))[0]


def _target_aws(settings: Settings, listener_arn: str, *, write: bool = False) -> Aws:
    """The listener's account: the member's read-only role, or its read-write one for the
    steps that read OIDC client secrets or change the listener (plan, apply, roll back)."""
    parsed = parse_listener_arn(listener_arn)
    return settings.aws_in(parsed.account, parsed.region, write=write)


def _need(value: str | None, what: str) -> str:
    if not value:
        raise AlbRulesError(f"the restore state has no {what}; the state machine is out of order")
    return value


def _plan_document(settings: Settings, state: RestoreState) -> dict[str, Any]:
    """The plan this restore wrote: sealed, and the exact bytes it wrote."""
    location = _need(state.plan_location, "plan")
    expect = _need(state.plan_sha256, "plan SHA-256")
    body = read_sealed(location, settings.home(), settings.sealer(), "plan", expect)
    document: dict[str, Any] = json.loads(body)
    return document


def _check_approved_plan(settings: Settings, state: RestoreState) -> None:
    """The plan applied is the plan approved: a restore that asked for approval applies only
    the plan whose SHA-256 its approval record holds."""
    record = settings.catalog().approval(state.execution_arn)
    if record is None and state.approval is None:
        return  # this restore did not wait for approval
    approved = (record or {}).get("plan_sha256")
    if approved and approved == state.whole_plan_sha256 and _in_whole_plan(settings, state):
        return  # one listener of a whole-load-balancer restore, whose whole plan was approved
    if not approved or approved != state.plan_sha256:
        raise IntegrityFailed(
            f"the plan {state.plan_location} is not the plan that was approved (the approval "
            f"record holds SHA-256 {str(approved or 'none')[:12]}); nothing was changed"
        )


def _in_whole_plan(settings: Settings, state: RestoreState) -> bool:
    """The listener's plan is one the whole (approved, sealed) plan lists."""
    location = _need(state.whole_plan_location, "whole plan")
    expect = _need(state.whole_plan_sha256, "whole plan SHA-256")
    body = read_sealed(location, settings.home(), settings.sealer(), "plan", expect)
    listed = [item.get("plan_sha256") for item in json.loads(body).get("listeners", [])]
    return state.plan_sha256 in listed


def _since_pre_restore(state: RestoreState) -> str:
    return f"its pre-restore snapshot {state.pre_restore_location} was taken"


def plan_summary(plan: Plan) -> PlanSummary:
    """A plan in a few words, for the state document and the messages."""
    kinds = [change.kind for change in plan.changes]
    lines = [f"{i}. {op.summary()}" for i, op in enumerate(plan.operations, start=1)]
    return PlanSummary(
        changes=len(plan.operations),
        creates=kinds.count("create"),
        modifies=kinds.count("modify"),
        moves=kinds.count("move"),
        deletes=kinds.count("delete"),
        default_actions=kinds.count("default-actions"),
        operations=lines[:SHOWN_OPERATIONS],
        more=max(0, len(lines) - SHOWN_OPERATIONS),
        unresolved=list(plan.unresolved),
        warnings=list(plan.warnings),
    )


# --- the tasks -----------------------------------------------------------------------------


def lock_listener(state: RestoreState) -> RestoreState:
    """Check the input, find the snapshot (named, or chosen from the listener's history by
    ``at``/``before_change``), choose the target listener, open the audit record, take the
    lock."""
    request = state.parsed_request()
    choose_selection(request.mode, request.priorities, request.match, INPUT_NAMES)
    settings = Settings.load()
    choice = None
    if request.snapshot is not None:
        location, catalogued = _snapshot_location(request.snapshot, settings)
        named = f"id {request.snapshot}"
    else:  # at / before_change: chosen from the listener's history, as the CLI chooses
        choice = history.choose(
            history.CatalogVersions(settings.catalog()),
            listener_arn=request.listener_arn,
            at=request.at,
            before_change=request.before_change,
            names=history.INPUT_NAMES,
        )
        location, catalogued = choice.location, choice.version.checksum
        named = f"version {choice.version.sort_key} of {choice.version.listener_arn}"
        logger.info("snapshot chosen", extra={"choice": choice.reason})
    snapshot, sha256 = _read_snapshot(settings, location)
    if catalogued and snapshot.checksum != catalogued:
        raise IntegrityFailed(
            f"{location} is not the snapshot the catalog records for {named} "
            f"(its checksum is {snapshot.checksum[:12]}..., the catalog's {catalogued[:12]}...); "
            "nothing was changed"
        )
    target = choose_target(
        snapshot.source.listener_arn,
        request.listener_arn,
        request.target_listener_arn,
        INPUT_NAMES,
    )  # canonical: the lock's key, the audit's and the S3 keys' listener
    note = (
        recreate.note_for(_target_aws(settings, target), snapshot, request)
        if request.recreate_listener
        else None
    )
    catalog = settings.catalog()
    catalog.write_audit(
        state.execution_arn,
        audit_opened(
            started_at=state.started_at or datetime.now(UTC).isoformat(timespec="seconds"),
            requested_by=request.requested_by,
            reason=request.reason,
            request=state.request,
            listener_arn=target,
            snapshot=location,
            chosen=choice.public() if choice else None,
        ),
    )
    seconds = workflow_lock_seconds(state.settings.approval_timeout_seconds)
    if note is not None:  # no listener ARN yet: the load balancer's port is locked
        catalog.write_audit(state.execution_arn, {"lock_key": note.lock_key})
    catalog.acquire_lock(note.lock_key if note else target, state.execution_arn, seconds)
    logger.append_keys(listener_arn=target)
    return state.model_copy(
        update={
            "listener_arn": None if note else target,
            "recreate": note,
            "snapshot_location": location,
            "snapshot_sha256": sha256,
            "snapshot_choice": choice.public() if choice else None,
        }
    )


def check_snapshot(state: RestoreState) -> RestoreState:
    """Read and validate the snapshot; check the OIDC secrets named (within the stack's
    prefix, in the listener's account and region), the target listener and its target groups."""
    request = state.parsed_request()
    settings = Settings.load()
    location = _need(state.snapshot_location, "snapshot")
    snapshot = _read_snapshot(settings, location, _need(state.snapshot_sha256, "snapshot"))[0]
    if state.recreate is not None:
        aws = _target_aws(settings, state.recreate.old_listener_arn)
        recreate.check(aws, settings, snapshot, request, state.recreate)
        metrics.add_metric(name="SnapshotRules", unit=MetricUnit.Count, value=len(snapshot.rules))
        return state
    target = _need(state.listener_arn, "listener")
    aws = _target_aws(settings, target)
    check_restore_target(aws, target, settings.restore_targets)
    check_restorable(
        aws,
        snapshot,
        target,
        map_by_name=request.map_target_groups_by_name,
        oidc_secrets=request.oidc_secrets,
        secret_scope=settings.secret_scope(),
    )
    metrics.add_metric(name="SnapshotRules", unit=MetricUnit.Count, value=len(snapshot.rules))
    return state


def store_pre_restore_snapshot(state: RestoreState) -> RestoreState:
    """Capture the listener as it is now and store it: the rollback's target. A recreation
    has no listener yet: its rollback deletes the one it creates."""
    if state.recreate is not None:
        return state
    settings = Settings.load()
    target = _need(state.listener_arn, "listener")
    live = capture_listener(_target_aws(settings, target), target)
    records = settings.restore_records(state.execution_arn, sealed=True)
    pre = take_pre_restore_snapshot(records, live)
    # A version of the listener's history too: how it was just before this restore.
    settings.catalog().record_snapshot(
        snapshot_id=pre.snapshot.checksum[:12],
        listener_arn=target,
        location=pre.location,
        checksum=pre.snapshot.checksum,
        rules=len(live.rules),
        created_at=utc_stamp_iso(pre.snapshot.created_at),
        trigger="pre-restore",
        execution_arn=state.execution_arn,
    )
    return state.model_copy(
        update={
            "pre_restore_location": pre.location,
            "pre_restore_sha256": pre.sha256,
            "base_fingerprint": pre.fingerprint,
        }
    )


def compute_plan(state: RestoreState) -> RestoreState:
    """Plan from the pre-restore state to the snapshot; store the plan in S3."""
    request = state.parsed_request()
    mode, selector = choose_selection(request.mode, request.priorities, request.match, INPUT_NAMES)
    settings = Settings.load()
    if state.recreate is not None:
        return _compute_recreation(settings, state, request)
    target = _need(state.listener_arn, "listener")
    aws = _target_aws(settings, target, write=True)
    location = _need(state.snapshot_location, "snapshot")
    snapshot = _read_snapshot(settings, location, _need(state.snapshot_sha256, "snapshot"))[0]
    fingerprint = _need(state.base_fingerprint, "pre-restore fingerprint")
    live = check_unchanged(aws, target, fingerprint, _since_pre_restore(state))
    prepared = prepare_restore(
        aws,
        snapshot,
        target_listener_arn=target,
        mode=mode,
        selector=selector,
        map_by_name=request.map_target_groups_by_name,
        oidc_secrets=request.oidc_secrets,
        live=live,
        secret_scope=settings.secret_scope(),
        skip_managed=request.skip_managed,
        names=INPUT_NAMES,
    )
    plan = prepared.plan
    plan_at, plan_sha256 = settings.put_sealed_json(
        plan_key(state.execution_arn),
        {
            "plan": plan.model_dump(mode="json"),
            "public": plan.public(),
            "base_fingerprint": fingerprint,
            "base_checksum": build_snapshot(live).checksum,
            "snapshot": state.snapshot_location,
            "pre_restore": state.pre_restore_location,
            "oidc_secrets": prepared.oidc_secrets,
            "max_listener_rules": prepared.max_listener_rules,
            "warnings": prepared.warnings,
        },
        "plan",
    )
    summary = plan_summary(plan)
    metrics.add_metric(name="PlannedOperations", unit=MetricUnit.Count, value=summary.changes)
    return state.model_copy(
        update={
            "plan_location": plan_at,
            "plan_sha256": plan_sha256,
            "plan": summary,
            "changes": summary.changes,
        }
    )


def _compute_recreation(
    settings: Settings, state: RestoreState, request: RestoreRequest
) -> RestoreState:
    """compute_plan for a recreation: the plan from the listener as it will be created."""
    note = _need_note(state)
    aws = _target_aws(settings, note.old_listener_arn, write=True)
    location = _need(state.snapshot_location, "snapshot")
    snapshot = _read_snapshot(settings, location, _need(state.snapshot_sha256, "snapshot"))[0]
    plan, recreation = recreate.plan(aws, settings, snapshot, request, note)
    plan_at, plan_sha256 = settings.put_sealed_json(
        plan_key(state.execution_arn), recreate.plan_document(plan, recreation, location), "plan"
    )
    summary = recreate.summary_with_create(plan_summary(plan), recreation["summary"])
    metrics.add_metric(name="PlannedOperations", unit=MetricUnit.Count, value=summary.changes)
    return state.model_copy(
        update={
            "plan_location": plan_at,
            "plan_sha256": plan_sha256,
            "plan": summary,
            "changes": summary.changes,
        }
    )


def _need_note(state: RestoreState) -> RecreateNote:
    if state.recreate is None:  # pragma: no cover - the callers check
        raise AlbRulesError(
            "the restore state has no recreation; the state machine is out of order"
        )
    return state.recreate


def _requester(settings: Settings, state: RestoreState) -> dict[str, Any]:
    """``{"requester": ...}`` if CloudTrail already shows who started the restore (it often
    does not yet: the decision looks again), else nothing."""
    try:
        found = started_by(
            settings.home().client("cloudtrail"), state.execution_arn, state.started_at
        )
    except AlbRulesError as err:
        logger.warning("the requester could not be looked up", extra={"error": str(err)})
        return {}
    return {"requester": found.public()} if found else {}


def request_approval(state: RestoreState, task_token: str) -> dict[str, Any]:
    """Keep the task token, then send the approval request with signed, expiring links."""
    if not task_token:
        raise AlbRulesError("request_approval was called without a task token")
    settings = Settings.load()
    expires_at = int(time.time()) + state.settings.approval_timeout_seconds
    nonce = approval.new_nonce()
    catalog = settings.catalog()
    # The review page's copy of the audit record: the public approval function may read
    # approval items only (dynamodb:LeadingKeys), never the audit records.
    audit = {k: v for k, v in (catalog.audit(state.execution_arn) or {}).items() if k not in KEYS}
    catalog.put_approval(
        state.execution_arn,
        {
            "audit": audit,
            "task_token": task_token,
            "nonce": nonce,
            "status": "pending",
            "expires_at": expires_at,
            "listener_arn": state.listener_arn,
            "plan_location": state.plan_location,
            # The plan approved: "Apply the plan" applies only the plan of this SHA-256.
            "plan_sha256": state.plan_sha256,
            "requested_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **_requester(settings, state),
        },
    )
    links = None
    if settings.approval_url:
        links = approval.links(
            settings.approval_url,
            settings.signing_key(refresh=True),  # links carry the current key
            state.execution_arn,
            nonce,
            expires_at,
        )
    if settings.topic_arn:
        request = notifications.approval_request(state, links, expires_at)
        settings.home().client("sns").publish(
            TopicArn=settings.topic_arn, Subject=request.subject, Message=request.message
        )
    metrics.add_metric(name="ApprovalsRequested", unit=MetricUnit.Count, value=1)
    return {"requested": True, "expires_at": expires_at}


def _steps_done(journal: list[dict[str, Any]], phase: str = "restore") -> int:
    return sum(
        1
        for e in journal
        if e.get("phase") == phase and e.get("status") == "done" and e.get("step")
    )


def apply_plan(state: RestoreState, deadline: Deadline | None = None) -> RestoreState:
    """Apply the stored plan, if the listener is still as the plan was made from, in slices:
    at most what fits before ``deadline`` (the invocation's, :mod:`albrules.slices`), then
    ``more_to_do`` and the machine runs it again.

    Before each call a write-ahead mark of it is stored (``RestoreRecords.write_in_flight``),
    and the whole journal when the slice ends. The first slice checks the listener
    is still the plan's base; each later slice, or an attempt retried after a Lambda service
    error or timeout, goes on from the journal (:func:`albrules.restore.resume_after_retry`):
    a call in doubt is read back from the live listener, never sent again blindly."""
    settings = Settings.load()
    document = _plan_document(settings, state)
    _check_approved_plan(settings, state)
    if state.recreate is not None:
        note = state.recreate
        settings.catalog().hold_lock(note.lock_key, state.execution_arn, APPLY_SECONDS)
        location = _need(state.snapshot_location, "snapshot")
        snapshot = _read_snapshot(settings, location, _need(state.snapshot_sha256, "snapshot"))[0]
        aws = _target_aws(settings, note.old_listener_arn, write=True)
        return recreate.apply(settings, state, aws, snapshot, document)
    plan = Plan.model_validate(document["plan"])
    total = len(plan.operations)
    target = _need(state.listener_arn, "listener")
    # Still this restore's lock, unexpired (and extended for the apply), or LockLost.
    settings.catalog().hold_lock(target, state.execution_arn, APPLY_SECONDS)
    aws = for_mutations(_target_aws(settings, target, write=True))
    check_restore_target(aws, target, settings.restore_targets)  # again, at the one that writes
    records = settings.restore_records(state.execution_arn, part=state.records_part)
    # Earlier slices' calls, if any, and the call the last one was making when it ended.
    journal = with_in_flight(plan, records.read_journal(), records.read_in_flight())
    slices = state.apply_slices + 1
    if slices > MAX_SLICES:
        raise ApplyFailed(
            f"the apply of {total} call(s) did not finish in {MAX_SLICES} invocations "
            f"({_steps_done(journal)} done); listener {target} is rolled back to its "
            "pre-restore snapshot",
            index=_steps_done(journal) + 1,
            journal=journal,
        )
    since = _since_pre_restore(state)
    start = 1
    if journal:
        noted = len(journal)
        try:
            start = resume_after_retry(aws, plan, journal)
        finally:
            if len(journal) != noted:  # with the note of what the retry found
                records.try_write_journal(journal, [])
    else:
        check_unchanged(aws, target, str(document["base_fingerprint"]), since)
    finished = start > total
    journal_at = records.journal_location if journal else None
    if not finished:
        values = read_secret_values(aws, secret_arns(plan), target, settings.secret_scope())
        try:
            finished = apply_with_journal(
                aws,
                plan,
                values,
                journal,
                before_call=records.write_in_flight,
                deadline=deadline,
                start=start,
            )
        finally:
            journal_at = store_journal(records, journal) if journal else None
    done = _steps_done(journal)
    logger.info("apply slice ended", extra={"slice": slices, "done": done, "of": total})
    if finished:
        for api, count in Counter(API_OPERATION[op.op] for op in plan.operations).items():
            metrics.add_metric(name=f"Operations.{api}", unit=MetricUnit.Count, value=count)
    return state.model_copy(
        update={
            "applied": total if finished else done,
            "journal_location": journal_at,
            "more_to_do": not finished,
            "apply_slices": slices,
        }
    )


def verify_listener(state: RestoreState) -> RestoreState:
    """Compare the listener with what it should now be: the plan's target after a restore,
    the pre-restore snapshot after a rollback. Raises VerifyFailed on any difference."""
    settings = Settings.load()
    if state.recreate is not None and state.phase == "rollback":
        aws = _target_aws(settings, state.recreate.old_listener_arn)
        recreate.verify_rolled_back(settings, state, aws)
        return state
    target = _need(state.listener_arn, "listener")
    aws = _target_aws(settings, target)
    if state.phase == "rollback":
        expected = desired_from_snapshot(_pre_restore(settings, state))
    else:
        expected = Plan.model_validate(_plan_document(settings, state)["plan"]).expected
    verify(aws, target, expected)
    return state


def roll_back_listener(state: RestoreState, deadline: Deadline | None = None) -> RestoreState:
    """Put the listener back as its pre-restore snapshot, in slices (as :func:`apply_plan`):
    the first plans from the live listener and stores the plan; each applies what fits
    before ``deadline`` from where the journal says the last stopped (a call in doubt read
    back from the listener), then ``more_to_do``. A recreation: delete the listener it
    created. Raises RollbackFailed when it cannot finish; "Verify the rollback" checks the
    listener afterwards."""
    settings = Settings.load()
    if state.recreate is not None:
        aws = _target_aws(settings, state.recreate.old_listener_arn, write=True)
        return recreate.roll_back(settings, state, aws)
    target = _need(state.listener_arn, "listener")
    pre_location = _need(state.pre_restore_location, "pre-restore snapshot")
    document = _plan_document(settings, state)
    pre = _pre_restore(settings, state)
    records = settings.restore_records(state.execution_arn, part=state.records_part)
    # What the failed apply did (its last call too, if it was killed), so it tells the story.
    plan = Plan.model_validate(document["plan"])
    journal = with_in_flight(plan, records.read_journal(), records.read_in_flight())
    if not journal and state.records_part:
        # a listener of a whole-load-balancer restore that its apply never reached: this
        # restore made no call to it (a write-ahead mark precedes each call), so nothing of
        # it is to undo, and a change someone else made is not this restore's to revert
        return state.model_copy(update={"phase": "rollback", "more_to_do": False})
    slices = state.rollback_slices + 1
    if slices == 1:
        metrics.add_metric(name="Rollbacks", unit=MetricUnit.Count, value=1)
    if slices > MAX_SLICES:
        metrics.add_metric(name="RollbackFailures", unit=MetricUnit.Count, value=1)
        raise RollbackFailed(
            f"the rollback of listener {target} did not finish in {MAX_SLICES} invocations; put "
            f"it back by hand from the pre-restore snapshot {pre_location} (journal: "
            f"{records.journal_location})",
            [f"not finished in {MAX_SLICES} invocations"],
        )
    try:  # the lock again (free, expired or still ours); never fight another restore
        settings.catalog().acquire_lock(target, state.execution_arn, APPLY_SECONDS)
    except ListenerLocked as err:
        metrics.add_metric(name="RollbackFailures", unit=MetricUnit.Count, value=1)
        raise RollbackFailed(
            f"the rollback of listener {target} was not started: another restore holds its "
            f"lock ({err}); once that restore ends, put the listener back by hand from the "
            f"pre-restore snapshot {pre_location}",
            [str(err)],
        ) from None
    aws = for_mutations(_target_aws(settings, target, write=True))
    outcome: list[str] | None
    fields: dict[str, Any] = {}
    try:
        outcome, fields = _roll_back_slice(
            state, settings, aws, pre, document, journal, deadline, slices
        )
    except AlbRulesError as err:
        outcome = [str(err)]
    left = outcome or []
    journal_at = store_journal(records, journal)
    if left:
        metrics.add_metric(name="RollbackFailures", unit=MetricUnit.Count, value=1)
        raise RollbackFailed(
            f"the rollback of listener {target} did not finish ({left[0]}); put it back "
            f"by hand from the pre-restore snapshot {pre_location} (journal: {journal_at})",
            left,
        )
    done = outcome is not None
    logger.info("rollback slice ended", extra={"slice": slices, "done": done})
    update: dict[str, Any] = {
        "journal_location": journal_at,
        "more_to_do": not done,
        "rollback_slices": slices,
        **fields,
    }
    if done:
        update["phase"] = "rollback"
    return state.model_copy(update=update)


def _roll_back_slice(
    state: RestoreState,
    settings: Settings,
    aws: Aws,
    pre: Snapshot,
    document: dict[str, Any],
    journal: list[dict[str, Any]],
    deadline: Deadline | None,
    slices: int,
) -> tuple[list[str] | None, dict[str, Any]]:
    """One slice of the rollback: the first plans from the live listener and stores the
    plan, sealed (its location and SHA-256 go in the state); each later one reads exactly
    that plan and goes on from the journal. Returns (None: more to do; else what cannot be
    rolled back, the plan's unresolved: "Verify the rollback" then compares the whole
    listener) and the state's new rollback plan fields."""
    target = _need(state.listener_arn, "listener")
    records = settings.restore_records(state.execution_arn, part=state.records_part)
    fields: dict[str, Any] = {}
    if state.rollback_plan_location and state.rollback_plan_sha256:
        body = read_sealed(
            state.rollback_plan_location,
            settings.home(),
            settings.sealer(),
            "plan",
            state.rollback_plan_sha256,
        )
        back = Plan.model_validate(json.loads(body))
        tag = state.rollback_plan_sha256[:12]
        journal[:] = with_in_flight(
            back, journal, records.read_in_flight(), phase="rollback", tag=tag
        )
        start = resume_after_retry(aws, back, journal, phase="rollback", tag=tag)
    else:  # the first slice (or its retry: a plan stored by an attempt that died is replaced)
        back = plan_rollback(
            aws,
            target,
            pre,
            oidc_secrets=document.get("oidc_secrets") or {},
            max_listener_rules=document.get("max_listener_rules"),
        )
        key = records.folder.split("/", 3)[3] + "/" + ROLLBACK_PLAN_NAME
        location, sha256 = settings.put_sealed_json(key, back.model_dump(mode="json"), "plan")
        fields = {"rollback_plan_location": location, "rollback_plan_sha256": sha256}
        tag, start = sha256[:12], 1
    unresolved = [f"not rolled back: {u}" for u in back.unresolved]
    if start > len(back.operations):
        return unresolved, fields
    values = rollback_secrets(aws, back, target, secret_scope=settings.secret_scope())
    finished = apply_with_journal(
        aws,
        back,
        values,
        journal,
        phase="rollback",
        before_call=records.write_in_flight,
        deadline=deadline,
        start=start,
        extra={"slice": slices, "plan": tag},
    )
    return (unresolved if finished else None), fields


def release_lock(state: RestoreState) -> RestoreState:
    """Release the lock if this restore holds it, record the outcome, word the notification.

    Every path of the state machine passes here, the failed ones included."""
    outcome = state.outcome or "RESTORED"
    settings = Settings.load()
    catalog = settings.catalog()
    released = False
    if state.lock_key:
        released = catalog.release_lock(state.lock_key, state.execution_arn)
    if outcome == "RESTORED" and state.recreate is not None:
        try:
            recreate.record_link(settings, state)
        except AlbRulesError as err:
            logger.error("the history could not link the new listener", extra={"error": str(err)})
    # Refused before its state named the target (locked out): the record keeps the one opened.
    listener = (
        state.listener_arn
        or (state.recreate.old_listener_arn if state.recreate else None)
        or (catalog.audit(state.execution_arn) or {}).get("listener_arn")
    )
    catalog.write_audit(
        state.execution_arn,
        audit_closed(
            outcome=outcome,
            ended_at=datetime.now(UTC).isoformat(timespec="seconds"),
            listener_arn=listener,
            plan_location=state.plan_location,
            pre_restore_location=state.pre_restore_location,
            journal_location=state.journal_location,
            changes=state.changes,
            plan=dump(state.plan) if state.plan else {},
            error=dump(state.error) if state.error else {},
            rollback_error=dump(state.rollback_error) if state.rollback_error else {},
            approval=state.approval,
            lock_released=released,
        ),
    )
    metrics.add_metric(name=f"Restores.{outcome}", unit=MetricUnit.Count, value=1)
    notification = notifications.restore_outcome(state, outcome)
    return state.model_copy(update={"outcome": outcome, "notification": notification})
