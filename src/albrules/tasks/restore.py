"""The restore state machine's tasks, one function each, over the engine's library.

Every task takes the restore state document (:class:`RestoreState`) and returns it with its
own part filled in. Failures are typed exceptions whose class names the state machine's Catch
blocks match; a handler never swallows one.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import approval, notifications
from ..arns import parse_listener_arn
from ..aws import Aws
from ..capture import capture_listener
from ..errors import (
    AlbRulesError,
    ListenerChanged,
    RestoreRefused,
    RollbackFailed,
)
from ..events import (
    PlanSummary,
    RestoreState,
    dump,
    parse,
)
from ..operations import API_OPERATION
from ..plan import INPUT_NAMES, Plan, choose_selection
from ..restore import (
    apply_plan as apply_operations,
)
from ..restore import (
    check_target,
    desired_from_snapshot,
    prepare_restore,
    read_secret_values,
    resolve_target_groups,
    restore_target,
    rollback_to,
    secret_arns,
    verify,
)
from ..snapshot import build_snapshot
from ..store import read_bytes, read_snapshot
from .common import MetricUnit, Settings, logger, metrics, task

CATALOG_ID = re.compile(r"^[0-9a-f]{12}$")
SHOWN_OPERATIONS = 20


# --- helpers -----------------------------------------------------------------------------


def _state(event: Any) -> RestoreState:
    return parse(RestoreState, event, "the restore state")


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
    return json.loads(read_bytes(location, settings.home()))


def _check_unchanged(aws: Aws, listener_arn: str, base_checksum: str, pre_location: str) -> Any:
    live = capture_listener(aws, listener_arn)
    if build_snapshot(live).checksum != base_checksum:
        raise ListenerChanged(
            f"listener {listener_arn} changed after its pre-restore snapshot {pre_location} was "
            "taken; nothing was changed, start the restore again to plan from its current state"
        )
    return live


def _summary(plan: Plan) -> PlanSummary:
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


def _write_journal(settings: Settings, state: RestoreState, journal: list[dict]) -> str | None:
    """Store the journal; a failure here is logged, never allowed to hide the real outcome."""
    key = f"pre-restore/{state.execution_name}/journal.json"
    try:
        return settings.put_json(key, journal)
    except (AlbRulesError, ClientError, BotoCoreError) as err:
        logger.error("could not store the journal", extra={"error": str(err)})
        return None


# --- the tasks -----------------------------------------------------------------------------


@task
def acquire_lock(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Check the input, find the target listener, write the audit record, take the lock."""
    state = _state(event)
    request = state.parsed_request()
    choose_selection(request.mode, request.priorities, request.match, INPUT_NAMES)
    settings = Settings.load()
    location = _snapshot_location(request.snapshot, settings)
    snapshot = read_snapshot(location, settings.home())
    target = restore_target(
        snapshot.source.listener_arn,
        request.listener_arn,
        request.target_listener_arn,
        INPUT_NAMES,
    )
    parse_listener_arn(target)
    catalog = settings.catalog()
    catalog.write_audit(
        state.execution_arn,
        {
            "started_at": state.started_at or datetime.now(UTC).isoformat(timespec="seconds"),
            "requested_by": request.requested_by or "not given in the input",
            "reason": request.reason or "",
            "request": state.request,
            "listener_arn": target,
            "snapshot": location,
            "outcome": "RUNNING",
        },
    )
    catalog.acquire_lock(target, state.execution_arn)
    logger.append_keys(listener_arn=target)
    return dump(state.model_copy(update={"listener_arn": target, "snapshot_location": location}))


@task
def load_snapshot(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Read and validate the snapshot; check the target listener and its target groups."""
    state = _state(event)
    request = state.parsed_request()
    settings = Settings.load()
    snapshot = read_snapshot(_need(state.snapshot_location, "snapshot"), settings.home())
    target = _need(state.listener_arn, "listener")
    aws = _target_aws(settings, target)
    check_target(snapshot, aws, target)
    live = capture_listener(aws, target)
    resolve_target_groups(aws, snapshot, live, map_by_name=request.map_target_groups_by_name)
    metrics.add_metric(name="SnapshotRules", unit=MetricUnit.Count, value=len(snapshot.rules))
    return dump(state)


@task
def take_pre_restore_snapshot(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Capture the listener as it is now and store it: the rollback's target."""
    state = _state(event)
    settings = Settings.load()
    target = _need(state.listener_arn, "listener")
    live = capture_listener(_target_aws(settings, target), target)
    saved = settings.store(f"pre-restore/{state.execution_name}").save(
        build_snapshot(live), force=True, kms_key_id=settings.kms_key_id
    )
    return dump(state.model_copy(update={"pre_restore_location": saved.location}))


@task
def compute_plan(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Plan from the pre-restore state to the snapshot; store the plan in S3."""
    state = _state(event)
    request = state.parsed_request()
    mode, selector = choose_selection(request.mode, request.priorities, request.match, INPUT_NAMES)
    settings = Settings.load()
    target = _need(state.listener_arn, "listener")
    pre_location = _need(state.pre_restore_location, "pre-restore snapshot")
    aws = _target_aws(settings, target)
    snapshot = read_snapshot(_need(state.snapshot_location, "snapshot"), settings.home())
    pre = read_snapshot(pre_location, settings.home())
    live = _check_unchanged(aws, target, pre.checksum, pre_location)
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
        f"plans/{state.execution_name}.json",
        {
            "plan": plan.model_dump(mode="json"),
            "public": plan.public(),
            "base_checksum": pre.checksum,
            "snapshot": state.snapshot_location,
            "pre_restore": pre_location,
            "oidc_secrets": prepared.oidc_secrets,
            "max_listener_rules": prepared.max_listener_rules,
            "warnings": prepared.warnings,
        },
    )
    summary = _summary(plan)
    metrics.add_metric(name="PlannedOperations", unit=MetricUnit.Count, value=summary.changes)
    return dump(
        state.model_copy(
            update={"plan_location": location, "plan": summary, "changes": summary.changes}
        )
    )


@task
def request_approval(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Keep the task token, then send the approval request with signed, expiring links."""
    state = _state(event.get("state"))
    task_token = str(event.get("task_token") or "")
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
            settings.approval_url, settings.signing_key(), state.execution_arn, nonce, expires_at
        )
    if settings.topic_arn:
        request = notifications.approval_request(state, links, expires_at)
        settings.home().client("sns").publish(
            TopicArn=settings.topic_arn, Subject=request.subject, Message=request.message
        )
    metrics.add_metric(name="ApprovalsRequested", unit=MetricUnit.Count, value=1)
    return {"requested": True, "expires_at": expires_at}


@task
def apply_plan(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Apply the stored plan, if the listener is still as its pre-restore snapshot."""
    state = _state(event)
    settings = Settings.load()
    document = _plan_document(settings, state)
    plan = Plan.model_validate(document["plan"])
    target = _need(state.listener_arn, "listener")
    aws = _target_aws(settings, target)
    _check_unchanged(aws, target, document["base_checksum"], document["pre_restore"])
    values = read_secret_values(aws, secret_arns(plan))
    journal: list[dict[str, Any]] = []
    try:
        apply_operations(aws, plan, values, journal)
    finally:
        journal_at = _write_journal(settings, state, journal)
    for api, count in Counter(API_OPERATION[op.op] for op in plan.operations).items():
        metrics.add_metric(name=f"Operations.{api}", unit=MetricUnit.Count, value=count)
    return dump(
        state.model_copy(update={"applied": len(plan.operations), "journal_location": journal_at})
    )


@task
def verify_listener(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Compare the listener with what it should now be: the plan's target after a restore,
    the pre-restore snapshot after a rollback. Raises VerifyFailed on any difference."""
    state = _state(event)
    settings = Settings.load()
    target = _need(state.listener_arn, "listener")
    aws = _target_aws(settings, target)
    if state.phase == "rollback":
        pre = read_snapshot(_need(state.pre_restore_location, "pre-restore"), settings.home())
        expected = desired_from_snapshot(pre)
    else:
        expected = Plan.model_validate(_plan_document(settings, state)["plan"]).expected
    verify(aws, target, expected)
    return dump(state)


@task
def roll_back(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Put the listener back as its pre-restore snapshot. Raises RollbackFailed otherwise."""
    state = _state(event)
    settings = Settings.load()
    target = _need(state.listener_arn, "listener")
    pre_location = _need(state.pre_restore_location, "pre-restore snapshot")
    document = _plan_document(settings, state)
    pre = read_snapshot(pre_location, settings.home())
    journal: list[dict[str, Any]] = []
    journal_key = f"s3://{settings.bucket}/pre-restore/{state.execution_name}/journal.json"
    try:  # what the failed apply did, so the journal tells the whole story
        journal = json.loads(read_bytes(journal_key, settings.home()))
    except AlbRulesError as err:
        logger.warning("no journal of the apply to extend", extra={"error": str(err)})
    metrics.add_metric(name="Rollbacks", unit=MetricUnit.Count, value=1)
    try:
        left = rollback_to(
            _target_aws(settings, target),
            target,
            pre,
            journal,
            oidc_secrets=document.get("oidc_secrets") or {},
            max_listener_rules=document.get("max_listener_rules"),
        )
    except AlbRulesError as err:
        left = [str(err)]
    journal_at = _write_journal(settings, state, journal)
    if left:
        metrics.add_metric(name="RollbackFailures", unit=MetricUnit.Count, value=1)
        raise RollbackFailed(
            f"the rollback of listener {target} did not finish ({left[0]}); put it back by hand "
            f"from the pre-restore snapshot {pre_location} (journal: {journal_at})",
            left,
        )
    return dump(state.model_copy(update={"phase": "rollback", "journal_location": journal_at}))


@task
def release_lock(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Release the lock if this restore holds it, record the outcome, write the notification.

    Every path of the state machine passes here, the failed ones included."""
    state = _state(event)
    outcome = state.outcome or "RESTORED"
    settings = Settings.load()
    catalog = settings.catalog()
    released = False
    if state.listener_arn:
        released = catalog.release_lock(state.listener_arn, state.execution_arn)
    catalog.write_audit(
        state.execution_arn,
        {
            "outcome": outcome,
            "ended_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "listener_arn": state.listener_arn or "",
            "plan_location": state.plan_location or "",
            "pre_restore_location": state.pre_restore_location or "",
            "journal_location": state.journal_location or "",
            "changes": state.changes or 0,
            "plan": dump(state.plan) if state.plan else {},
            "error": dump(state.error) if state.error else {},
            "rollback_error": dump(state.rollback_error) if state.rollback_error else {},
            "approval": state.approval or {},
            "lock_released": released,
        },
    )
    metrics.add_metric(name=f"Restores.{outcome}", unit=MetricUnit.Count, value=1)
    notification = notifications.restore_outcome(state, outcome)
    return dump(state.model_copy(update={"outcome": outcome, "notification": notification}))
