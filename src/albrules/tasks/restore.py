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

from .. import approval, notifications
from ..arns import parse_listener_arn
from ..aws import Aws
from ..capture import capture_listener
from ..errors import AlbRulesError, RestoreRefused, RollbackFailed
from ..operations import API_OPERATION
from ..plan import INPUT_NAMES, Plan, choose_selection
from ..records import audit_closed, audit_opened, plan_key
from ..resolve import choose_target, desired_from_snapshot, read_secret_values, secret_arns
from ..restore import (
    apply_with_journal,
    check_restorable,
    check_unchanged,
    prepare_restore,
    resume_after_retry,
    roll_back,
    take_pre_restore_snapshot,
    verify,
)
from ..snapshot import build_snapshot
from ..state_documents import PlanSummary, RestoreState, dump
from ..store import read_bytes, read_snapshot
from .runtime import MetricUnit, logger, metrics
from .settings import Settings

CATALOG_ID = re.compile(r"^[0-9a-f]{12}$")
SHOWN_OPERATIONS = 20


# --- helpers -----------------------------------------------------------------------------


def _snapshot_location(reference: str, settings: Settings) -> str:
    """An s3:// URI from what the input names: a URI, a key in the stack's bucket, or a
    catalog id (the 12-hex-digit short checksum)."""
    if reference.startswith("s3://"):
        return reference
    if CATALOG_ID.match(reference):
        row = settings.catalog().find_snapshot(reference)
        if row is None:
            raise RestoreRefused(
                f"no snapshot with catalog id {reference} is in the catalog; give its S3 key or "
                "an id from the catalog"
            )
        return str(row["location"])
    return f"s3://{settings.bucket}/{reference.lstrip('/')}"


def _target_aws(settings: Settings, listener_arn: str) -> Aws:
    parsed = parse_listener_arn(listener_arn)
    return settings.aws_in(parsed.account, parsed.region)


def _need(value: str | None, what: str) -> str:
    if not value:
        raise AlbRulesError(f"the restore state has no {what}; the state machine is out of order")
    return value


def _plan_document(settings: Settings, state: RestoreState) -> dict[str, Any]:
    location = _need(state.plan_location, "plan")
    document: dict[str, Any] = json.loads(read_bytes(location, settings.home()))
    return document


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
    )


# --- the tasks -----------------------------------------------------------------------------


def lock_listener(state: RestoreState) -> RestoreState:
    """Check the input, choose the target listener, open the audit record, take the lock."""
    request = state.parsed_request()
    choose_selection(request.mode, request.priorities, request.match, INPUT_NAMES)
    settings = Settings.load()
    location = _snapshot_location(request.snapshot, settings)
    snapshot = read_snapshot(location, settings.home())
    target = choose_target(
        snapshot.source.listener_arn,
        request.listener_arn,
        request.target_listener_arn,
        INPUT_NAMES,
    )
    parse_listener_arn(target)
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
        ),
    )
    catalog.acquire_lock(target, state.execution_arn)
    logger.append_keys(listener_arn=target)
    return state.model_copy(update={"listener_arn": target, "snapshot_location": location})


def check_snapshot(state: RestoreState) -> RestoreState:
    """Read and validate the snapshot; check the target listener and its target groups."""
    request = state.parsed_request()
    settings = Settings.load()
    snapshot = read_snapshot(_need(state.snapshot_location, "snapshot"), settings.home())
    target = _need(state.listener_arn, "listener")
    check_restorable(
        _target_aws(settings, target),
        snapshot,
        target,
        map_by_name=request.map_target_groups_by_name,
    )
    metrics.add_metric(name="SnapshotRules", unit=MetricUnit.Count, value=len(snapshot.rules))
    return state


def store_pre_restore_snapshot(state: RestoreState) -> RestoreState:
    """Capture the listener as it is now and store it: the rollback's target."""
    settings = Settings.load()
    target = _need(state.listener_arn, "listener")
    live = capture_listener(_target_aws(settings, target), target)
    pre = take_pre_restore_snapshot(settings.restore_records(state.execution_arn), live)
    return state.model_copy(
        update={"pre_restore_location": pre.location, "base_fingerprint": pre.fingerprint}
    )


def compute_plan(state: RestoreState) -> RestoreState:
    """Plan from the pre-restore state to the snapshot; store the plan in S3."""
    request = state.parsed_request()
    mode, selector = choose_selection(request.mode, request.priorities, request.match, INPUT_NAMES)
    settings = Settings.load()
    target = _need(state.listener_arn, "listener")
    aws = _target_aws(settings, target)
    snapshot = read_snapshot(_need(state.snapshot_location, "snapshot"), settings.home())
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
    )
    plan = prepared.plan
    location = settings.put_json(
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
    )
    summary = plan_summary(plan)
    metrics.add_metric(name="PlannedOperations", unit=MetricUnit.Count, value=summary.changes)
    return state.model_copy(
        update={"plan_location": location, "plan": summary, "changes": summary.changes}
    )


def request_approval(state: RestoreState, task_token: str) -> dict[str, Any]:
    """Keep the task token, then send the approval request with signed, expiring links."""
    if not task_token:
        raise AlbRulesError("request_approval was called without a task token")
    settings = Settings.load()
    expires_at = int(time.time()) + state.settings.approval_timeout_seconds
    nonce = approval.new_nonce()
    settings.catalog().put_approval(
        state.execution_arn,
        {
            "task_token": task_token,
            "nonce": nonce,
            "status": "pending",
            "expires_at": expires_at,
            "listener_arn": state.listener_arn,
            "plan_location": state.plan_location,
            "requested_at": datetime.now(UTC).isoformat(timespec="seconds"),
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


def apply_plan(state: RestoreState) -> RestoreState:
    """Apply the stored plan, if the listener is still as the plan was made from.

    The journal is stored before each call (write-ahead), so an attempt retried after a
    Lambda service error finds its predecessor's calls and goes by the live listener
    (:func:`albrules.restore.resume_after_retry`): finished, nothing to do; untouched, apply;
    partly changed, roll back (never "the listener changed; nothing was changed")."""
    settings = Settings.load()
    document = _plan_document(settings, state)
    plan = Plan.model_validate(document["plan"])
    target = _need(state.listener_arn, "listener")
    aws = _target_aws(settings, target)
    records = settings.restore_records(state.execution_arn)
    journal: list[dict[str, Any]] = records.read_journal()  # an earlier attempt's calls, if any
    since = _since_pre_restore(state)
    if journal:
        try:
            finished = resume_after_retry(
                aws, plan, str(document["base_fingerprint"]), since, journal
            )
        finally:
            records.try_write_journal(journal, [])  # with the note of what the retry found
        if finished:
            return state.model_copy(
                update={
                    "applied": len(plan.operations),
                    "journal_location": records.journal_location,
                }
            )
    if not journal:
        check_unchanged(aws, target, str(document["base_fingerprint"]), since)
    values = read_secret_values(aws, secret_arns(plan))
    warnings: list[str] = []
    try:
        apply_with_journal(aws, plan, values, journal, before_call=records.write_journal)
    finally:
        journal_at = records.try_write_journal(journal, warnings) if journal else None
        for warning in warnings:
            logger.error("could not store the journal", extra={"error": warning})
    for api, count in Counter(API_OPERATION[op.op] for op in plan.operations).items():
        metrics.add_metric(name=f"Operations.{api}", unit=MetricUnit.Count, value=count)
    return state.model_copy(
        update={"applied": len(plan.operations), "journal_location": journal_at}
    )


def verify_listener(state: RestoreState) -> RestoreState:
    """Compare the listener with what it should now be: the plan's target after a restore,
    the pre-restore snapshot after a rollback. Raises VerifyFailed on any difference."""
    settings = Settings.load()
    target = _need(state.listener_arn, "listener")
    aws = _target_aws(settings, target)
    if state.phase == "rollback":
        pre = read_snapshot(_need(state.pre_restore_location, "pre-restore"), settings.home())
        expected = desired_from_snapshot(pre)
    else:
        expected = Plan.model_validate(_plan_document(settings, state)["plan"]).expected
    verify(aws, target, expected)
    return state


def roll_back_listener(state: RestoreState) -> RestoreState:
    """Put the listener back as its pre-restore snapshot. Raises RollbackFailed otherwise."""
    settings = Settings.load()
    target = _need(state.listener_arn, "listener")
    pre_location = _need(state.pre_restore_location, "pre-restore snapshot")
    document = _plan_document(settings, state)
    pre = read_snapshot(pre_location, settings.home())
    records = settings.restore_records(state.execution_arn)
    journal = records.read_journal()  # what the failed apply did, so it tells the whole story
    metrics.add_metric(name="Rollbacks", unit=MetricUnit.Count, value=1)
    try:
        left = roll_back(
            _target_aws(settings, target),
            target,
            pre,
            journal,
            oidc_secrets=document.get("oidc_secrets") or {},
            max_listener_rules=document.get("max_listener_rules"),
        )
    except AlbRulesError as err:
        left = [str(err)]
    warnings: list[str] = []
    journal_at = records.try_write_journal(journal, warnings)
    for warning in warnings:
        logger.error("could not store the journal", extra={"error": warning})
    if left:
        metrics.add_metric(name="RollbackFailures", unit=MetricUnit.Count, value=1)
        raise RollbackFailed(
            f"the rollback of listener {target} did not finish ({left[0]}); put it back by hand "
            f"from the pre-restore snapshot {pre_location} (journal: {journal_at})",
            left,
        )
    return state.model_copy(update={"phase": "rollback", "journal_location": journal_at})


def release_lock(state: RestoreState) -> RestoreState:
    """Release the lock if this restore holds it, record the outcome, word the notification.

    Every path of the state machine passes here, the failed ones included."""
    outcome = state.outcome or "RESTORED"
    settings = Settings.load()
    catalog = settings.catalog()
    released = False
    if state.listener_arn:
        released = catalog.release_lock(state.listener_arn, state.execution_arn)
    catalog.write_audit(
        state.execution_arn,
        audit_closed(
            outcome=outcome,
            ended_at=datetime.now(UTC).isoformat(timespec="seconds"),
            listener_arn=state.listener_arn,
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
