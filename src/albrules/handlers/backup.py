"""The backup state machine's tasks: discover the listeners, back up each one, summarise."""

from __future__ import annotations

import json
from typing import Any

from ..capture import capture_listener
from ..discovery import discover_listeners as find_listeners
from ..errors import AlbRulesError
from ..events import (
    BackupRequest,
    BackupState,
    BackupSummary,
    DiscoveryFailure,
    ListenerItem,
    ListenerResult,
    Notification,
    S3Object,
    dump,
    parse,
)
from ..snapshot import build_snapshot, dumps, loads
from ..store import Store, read_bytes
from .common import MetricUnit, Settings, logger, metrics, task

MAX_LISTED_FAILURES = 50


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
    and catalog it."""
    item = parse(ListenerItem, event, "the listener to back up")
    settings = Settings.load()
    aws = settings.aws_in(item.account_id, item.region, item.role_arn)
    state = capture_listener(aws, item.listener_arn)
    snapshot = build_snapshot(state)
    loads(dumps(snapshot), f"the snapshot of {item.listener_arn}")  # what we store must read back
    saved = Store(item.location, settings.home()).save(snapshot, kms_key_id=settings.kms_key_id)
    snapshot_id = snapshot.checksum[:12]
    if saved.written:
        settings.catalog().record_snapshot(
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
    )
    return dump(result)


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


def _notification(summary: BackupSummary) -> Notification | None:
    failed = summary.failed + len(summary.discovery_failures)
    if not failed:
        return None
    lines = [
        f"{summary.listeners} listener(s), {summary.rules} rule(s): {summary.stored} stored, "
        f"{summary.unchanged} unchanged, {summary.failed} failed.",
        "",
    ]
    for result in summary.failed_listeners:
        lines.append(f"- {result.listener_arn}: {result.error}: {result.cause}"[:500])
    for failure in summary.discovery_failures:
        lines.append(f"- account {failure.account_id} {failure.region}: {failure.error}"[:500])
    subject = (
        f"albrules backup: {summary.failed} of {summary.listeners} listener(s) failed"
        if summary.failed
        else f"albrules backup: {len(summary.discovery_failures)} target(s) not reachable"
    )
    return Notification(subject=subject[:100], message="\n".join(lines))


@task
def summarise_backup(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Count what the Map did, store the summary in S3, and drop the per-listener lists from
    the state (they can be long)."""
    state = parse(BackupState, event, "the backup state")
    settings = Settings.load()
    if state.map_run is not None:
        raw = _distributed_results(settings, state.map_run)
    else:
        raw = state.results or []
    results = [parse(ListenerResult, r, "a listener's backup result") for r in raw]
    failed = [r for r in results if r.status == "failed"]
    summary = BackupSummary(
        listeners=len(results),
        rules=sum(r.rules for r in results if r.status != "failed"),
        stored=sum(1 for r in results if r.status == "stored"),
        unchanged=sum(1 for r in results if r.status == "unchanged"),
        failed=len(failed),
        failed_listeners=failed[:MAX_LISTED_FAILURES],
        discovery_failures=state.discovery_failures,
        location=state.location,
    )
    name = state.execution_arn.rsplit(":", 1)[-1]
    settings.put_json(
        f"runs/{name}/summary.json",
        {"summary": dump(summary), "results": [dump(r) for r in results]},
    )
    metrics.add_metric(name="ListenersFailed", unit=MetricUnit.Count, value=len(failed))
    updated = state.model_copy(
        update={
            "listeners": None,
            "results": None,
            "summary": summary,
            "notification": _notification(summary),
        }
    )
    return dump(updated)
