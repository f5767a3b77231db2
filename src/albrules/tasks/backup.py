"""The backup state machine's tasks: discover the listeners, back up each one, summarise."""

from __future__ import annotations

import json
from typing import Any

from ..arns import parse_listener_arn
from ..capture import capture_listener
from ..catalog import Catalog
from ..discovery import discover_listeners as find_listeners
from ..drift import ListenerDrift, compare
from ..errors import AlbRulesError
from ..events import (
    BackupRequest,
    BackupState,
    BackupSummary,
    DiscoveryFailure,
    DriftNote,
    ListenerItem,
    ListenerResult,
    ListenerTask,
    S3Object,
    dump,
    parse,
)
from ..models import ListenerState, Snapshot
from ..notifications import SHOWN_LISTENERS, backup_notifications
from ..snapshot import build_snapshot, dumps, loads
from ..store import Store, read_bytes, read_snapshot
from .common import MetricUnit, Settings, logger, metrics, task

MAX_LISTED_FAILURES = 50
DRIFT_LINES = 5  # changes spelled out per drifted listener in a message
DRIFT_LINE_CHARS = 160


@task
def discover_listeners(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Find the listeners of every target; write them to S3 and count them.

    A target that cannot be read (role not assumable, access denied) is recorded as a
    discovery failure and the other targets go on.
    """
    state = parse(BackupState, event, "the backup state")
    request = parse(BackupRequest, state.request, "the backup input")
    settings = Settings.load()
    location = request.location or f"s3://{settings.bucket}/snapshots"
    items: dict[str, ListenerItem] = {}
    failures = []
    for target in request.targets:
        try:
            aws = settings.aws_in(target.account_id, target.region, target.role_arn)
            arns = find_listeners(
                aws,
                account_id=target.account_id,
                region=target.region,
                load_balancers=target.load_balancers,
                listener_arns=target.listener_arns,
                tags=target.tags,
            )
        except AlbRulesError as err:
            logger.warning(
                "target not discovered", extra={"target": dump(target), "error": str(err)}
            )
            failures.append(
                DiscoveryFailure(account_id=target.account_id, region=target.region, error=str(err))
            )
            continue
        for arn in arns:
            items.setdefault(
                arn,
                ListenerItem(
                    listener_arn=arn,
                    account_id=target.account_id,
                    region=target.region,
                    role_arn=target.role_arn,
                    location=location,
                ),
            )
    listed = [dump(item) for item in items.values()]
    name = state.execution_arn.rsplit(":", 1)[-1]
    key = f"runs/{name}/listeners.json"
    settings.put_json(key, listed)
    metrics.add_metric(name="ListenersDiscovered", unit=MetricUnit.Count, value=len(listed))
    inline = len(listed) <= state.settings.inline_limit
    updated = state.model_copy(
        update={
            "location": location,
            "listener_count": len(listed),
            "items": S3Object(bucket=settings.bucket, key=key),
            "listeners": list(items.values()) if inline else None,
            "discovery_failures": failures,
        }
    )
    return dump(updated)


@task
def snapshot_listener(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Capture one listener, check the document reads back valid, store it unless unchanged,
    and catalog it; when stored, note what changed since its previous snapshot (drift)."""
    item = parse(ListenerTask, event, "the listener to back up").listener
    settings = Settings.load()
    aws = settings.aws_in(item.account_id, item.region, item.role_arn)
    state = capture_listener(aws, item.listener_arn)
    snapshot = build_snapshot(state)
    loads(dumps(snapshot), f"the snapshot of {item.listener_arn}")  # what we store must read back
    saved = Store(item.location, settings.home()).save(snapshot, kms_key_id=settings.kms_key_id)
    snapshot_id = snapshot.checksum[:12]
    drift = None
    if saved.written:
        catalog = settings.catalog()
        drift = _drift_since_previous(catalog, settings, state, snapshot)
        catalog.record_snapshot(
            snapshot_id=snapshot_id,
            listener_arn=item.listener_arn,
            location=saved.location,
            checksum=snapshot.checksum,
            rules=len(state.rules),
            created_at=snapshot.created_at.isoformat(timespec="seconds"),
        )
        metrics.add_metric(name="SnapshotsStored", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="SnapshotsUnchanged", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="RulesBackedUp", unit=MetricUnit.Count, value=len(state.rules))
    result = ListenerResult(
        listener_arn=item.listener_arn,
        status="stored" if saved.written else "unchanged",
        location=saved.location,
        snapshot_id=snapshot_id,
        rules=len(state.rules),
        port=state.source.port,
        drift=drift,
    )
    logger.info(
        "listener backed up",
        extra={
            "status": result.status,
            "rules": result.rules,
            "snapshot_id": snapshot_id,
            "location": saved.location,
            "drifted": drift is not None,
        },
    )
    return dump(result)


def drift_key(listener_arn: str, snapshot_id: str) -> str:
    """Where the whole drift report of a new snapshot is kept, in the stack's bucket."""
    parsed = parse_listener_arn(listener_arn)
    return (
        f"runs/drift/{parsed.account}/{parsed.region}/{parsed.load_balancer_name}/"
        f"{parsed.listener_id}/{snapshot_id}.json"
    )


def _drift_since_previous(
    catalog: Catalog, settings: Settings, live: ListenerState, snapshot: Snapshot
) -> DriftNote | None:
    """What changed since the listener's previous catalogued snapshot (None: nothing, or this
    is its first snapshot). The whole report goes to S3 (:func:`drift_key`); the counts go in
    the result. Drift is a report on a backup that already worked: if the previous snapshot
    cannot be read, or the report not stored, that is logged and the backup stands."""
    listener_arn = live.source.listener_arn
    try:
        rows = catalog.snapshots(listener_arn, limit=1)
        if not rows or rows[0].get("checksum") == snapshot.checksum:
            return None
        location = str(rows[0]["location"])
        report = compare(live, read_snapshot(location, settings.home()), location)
    except AlbRulesError as err:
        logger.warning("drift not computed", extra={"error": str(err)})
        return None
    if not report.drifted:
        return None
    try:
        settings.put_json(
            drift_key(listener_arn, snapshot.checksum[:12]), report.model_dump(mode="json")
        )
    except AlbRulesError as err:
        logger.warning("drift report not stored", extra={"error": str(err)})
    counts = report.counts()
    return DriftNote(
        added=counts["added"],
        removed=counts["removed"],
        changed=counts["changed"],
        moved=counts["moved"],
        default_actions=bool(counts["default_actions"]),
    )


def _with_details(settings: Settings, result: ListenerResult) -> ListenerResult:
    """The result with its drift note filled in from the stored report, for a message."""
    if result.drift is None or result.snapshot_id is None:
        return result
    try:
        key = drift_key(result.listener_arn, result.snapshot_id)
        report = ListenerDrift.model_validate_json(
            read_bytes(f"s3://{settings.bucket}/{key}", settings.home())
        )
    except (AlbRulesError, ValueError) as err:
        logger.warning("drift report not read", extra={"error": str(err)})
        return result
    lines = [change.line()[:DRIFT_LINE_CHARS] for change in report.changes]
    note = result.drift.model_copy(
        update={
            "previous": report.snapshot,
            "lines": lines[:DRIFT_LINES],
            "more": max(0, len(lines) - DRIFT_LINES),
        }
    )
    return result.model_copy(update={"drift": note})


def _distributed_results(settings: Settings, map_run: dict[str, Any]) -> list[dict[str, Any]]:
    """The iteration results a Distributed Map's ResultWriter left in S3 (via its manifest)."""
    details = map_run.get("ResultWriterDetails") or {}
    bucket, key = details.get("Bucket"), details.get("Key")
    if not bucket or not key:
        raise AlbRulesError("the Distributed Map left no ResultWriterDetails; no results to read")
    aws = settings.home()
    manifest = json.loads(read_bytes(f"s3://{bucket}/{key}", aws))
    results: list[dict[str, Any]] = []
    files = manifest.get("ResultFiles", {})
    for status, entries in files.items():
        for entry in entries:
            rows = json.loads(read_bytes(f"s3://{bucket}/{entry['Key']}", aws))
            for row in rows:
                if status == "SUCCEEDED" and row.get("Output"):
                    results.append(json.loads(row["Output"]))
                else:
                    listener = json.loads(row.get("Input") or "{}").get("listener_arn", "?")
                    results.append(
                        {
                            "listener_arn": listener,
                            "status": "failed",
                            "error": row.get("Error", status),
                            "cause": row.get("Cause", ""),
                        }
                    )
    return results


@task
def summarise_backup(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Count what the Map did, store the summary in S3, write the message for failures (which
    tells the drift too) or else for drift, and drop the per-listener lists from the state
    (they can be long)."""
    state = parse(BackupState, event, "the backup state")
    settings = Settings.load()
    if state.map_run is not None:
        raw = _distributed_results(settings, state.map_run)
    else:
        raw = state.results or []
    results = [parse(ListenerResult, r, "a listener's backup result") for r in raw]
    failed = [r for r in results if r.status == "failed"]
    drifted = [r for r in results if r.status == "stored" and r.drift is not None]
    summary = BackupSummary(
        listeners=len(results),
        rules=sum(r.rules for r in results if r.status != "failed"),
        stored=sum(1 for r in results if r.status == "stored"),
        unchanged=sum(1 for r in results if r.status == "unchanged"),
        failed=len(failed),
        drifted=len(drifted),
        failed_listeners=failed[:MAX_LISTED_FAILURES],
        discovery_failures=state.discovery_failures,
        location=state.location,
    )
    name = state.execution_arn.rsplit(":", 1)[-1]
    results_location = settings.put_json(
        f"runs/{name}/summary.json",
        {"summary": dump(summary), "results": [dump(r) for r in results]},
    )
    metrics.add_metric(name="ListenersFailed", unit=MetricUnit.Count, value=len(failed))
    metrics.add_metric(
        name="ListenersBackedUp", unit=MetricUnit.Count, value=summary.stored + summary.unchanged
    )
    metrics.add_metric(name="DriftFound", unit=MetricUnit.Count, value=len(drifted))
    # The listeners a message names get their drift spelled out, from the reports in S3.
    named = [_with_details(settings, r) for r in drifted[:SHOWN_LISTENERS]]
    failure, drift = backup_notifications(
        summary, named + drifted[SHOWN_LISTENERS:], state.execution_arn, results_location
    )
    updated = state.model_copy(
        update={
            "listeners": None,
            "results": None,
            "summary": summary,
            "notification": failure,
            "drift_notification": drift,
        }
    )
    return dump(updated)
