"""The backup state machine's tasks: discover the listeners, back up a batch of them (one child
execution of the Distributed Map each), summarise. ``functions/<task>/app.py`` is the Lambda
door of each."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

from ..arns import parse_listener_arn
from ..aws import Aws
from ..capture import capture_listener, describe_listeners, read_listeners
from ..catalog import Catalog
from ..discovery import discover_listeners as find_listeners
from ..drift import ListenerDrift, compare
from ..errors import AlbRulesError, AwsThrottled, ListenerNotFound
from ..models import ListenerState, Snapshot, utc_stamp_iso
from ..notifications import SHOWN_LISTENERS, backup_notifications
from ..pacing import Pacer
from ..records import drift_key, run_listeners_key, run_summary_key
from ..requester import started_by
from ..runtime_env import getenv
from ..snapshot import build_snapshot, dumps, loads
from ..state_documents import (
    BackupRequest,
    BackupState,
    BackupSummary,
    BatchFailure,
    BatchResult,
    DiscoveryFailure,
    DriftNote,
    ListenerBatch,
    ListenerItem,
    ListenerResult,
    S3Object,
    dump,
    parse,
)
from ..store import Saved, Store, read_bytes, read_snapshot
from .runtime import MetricUnit, logger, metrics
from .settings import Settings

MAX_LISTED_FAILURES = 50
THROTTLE_RETRIES = 2  # a throttled listener is tried again this many times within its batch
THROTTLE_PAUSE = 5.0  # seconds before the first retry; doubled for the next
SPARE_SECONDS = 15.0  # a listener is not started with less time than this left
# A listener's description from discovery is reused by its batch when read at most this many
# seconds before the batch starts; older, the batch describes the listener again, so that a
# snapshot's parts are read close together (a sweep of many batches runs for minutes).
DESCRIPTION_MAX_AGE = 30.0
DESCRIPTION_FIELDS = (
    "ListenerArn",
    "LoadBalancerArn",
    "Port",
    "Protocol",
    "DefaultActions",
    # snapshot format 2: the listener's own settings that DescribeListeners carries
    "SslPolicy",
    "Certificates",
    "AlpnPolicy",
    "MutualAuthentication",
)
DRIFT_LINES = 5  # changes spelled out per drifted listener in a message
DRIFT_LINE_CHARS = 160


def discover_listeners(state: BackupState) -> BackupState:
    """Find the listeners of every target; write them to S3 (the Map's items) and count them.

    Each item carries the listener's description (one DescribeListeners per load balancer)
    and its batch's share of the Describe budget. Discovery's own calls are paced to the
    whole of DescribeCallsPerSecond (it runs alone), one bucket per account and region.
    A target that cannot be read (role not assumable, access denied) is recorded as a
    discovery failure and the other targets go on.
    """
    request = parse(BackupRequest, state.request, "the backup input")
    settings = Settings.load()
    rate = settings.describe_calls_per_second
    pacer = Pacer(rate)
    location = request.location or f"s3://{settings.bucket}/snapshots"
    trigger = run_trigger(settings, state.execution_arn)
    items: dict[str, ListenerItem] = {}
    failures = []
    for target in request.targets:
        try:
            aws = pacer.aws(
                target.account_id,
                target.region,
                target.role_arn,
                partial(settings.aws_in, target.account_id, target.region, target.role_arn),
            )
            found = find_listeners(
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
        described_at = utc_stamp_iso(datetime.now(UTC))
        for arn, listener in found.items():
            items.setdefault(
                arn,
                ListenerItem(
                    listener_arn=arn,
                    account_id=target.account_id,
                    region=target.region,
                    role_arn=target.role_arn,
                    location=location,
                    execution_arn=state.execution_arn,
                    description=_kept(listener),
                    described_at=described_at if listener is not None else None,
                    trigger=trigger,
                ),
            )
    share = batch_share(rate, len(items), state.settings.batch_size, state.settings.max_concurrency)
    listed = [
        dump(item.model_copy(update={"describe_calls_per_second": share}))
        for item in items.values()
    ]
    key = run_listeners_key(state.execution_arn)
    settings.put_json(key, listed)
    metrics.add_metric(name="ListenersDiscovered", unit=MetricUnit.Count, value=len(listed))
    return state.model_copy(
        update={
            "location": location,
            "listener_count": len(listed),
            "items": S3Object(bucket=settings.bucket, key=key),
            "discovery_failures": failures,
        }
    )


def batch_share(rate: float, listeners: int, batch_size: int, max_concurrency: int) -> float:
    """Each batch's Describe calls a second: ``rate`` divided among the batches that can run at
    once (the Map's MaxConcurrency, or fewer when there are fewer batches). Conservative when
    the batches span several accounts or regions (each has a budget of its own)."""
    batches = max(1, -(-listeners // max(1, batch_size)))
    return rate / max(1, min(max_concurrency, batches))


def _kept(listener: dict[str, Any] | None) -> dict[str, Any] | None:
    """The fields of a DescribeListeners item that a snapshot takes (the item stays small)."""
    if listener is None:
        return None
    return {k: listener[k] for k in DESCRIPTION_FIELDS if k in listener}


class BatchOutOfTime(AlbRulesError):
    """Too little of the invocation's time is left to start another listener."""


def run_trigger(settings: Settings, execution_arn: str) -> Literal["schedule", "manual"]:
    """``manual`` when the run's StartExecution (CloudTrail) was not made by the schedule's
    role; ``schedule`` when it was, and when CloudTrail cannot tell yet (it delivers within
    about 5 minutes, not guaranteed): the schedule starts most runs."""
    schedule_role = getenv("ALBRULES_SCHEDULE_ROLE_ARN")
    try:
        who = started_by(settings.home().client("cloudtrail"), execution_arn)
    except AlbRulesError as err:
        logger.warning("who started the backup is unknown", extra={"error": str(err)})
        return "schedule"
    if who is None:
        logger.info("the backup's StartExecution is not in CloudTrail yet; taken as the schedule's")
        return "schedule"
    if schedule_role and schedule_role in (who.issuer, who.arn):
        return "schedule"
    logger.info("a manual backup", extra={"started_by": who.arn})
    return "manual"


def store_snapshot(
    settings: Settings, location: str, state: ListenerState
) -> tuple[Snapshot, Saved]:
    """Build the listener's snapshot, check it reads back valid, and store it (sealed, under
    the stack's key and lock) unless the newest stored one is the same."""
    snapshot = build_snapshot(state)
    listener = state.source.listener_arn
    loads(dumps(snapshot), f"the snapshot of {listener}")  # what we store must read back
    sealer = settings.sealer()
    saved = Store(location, settings.home()).save(
        snapshot,
        kms_key_id=settings.kms_key_id,
        seal=lambda body: sealer.metadata("snapshot", body),
        lock=settings.snapshot_lock,
    )
    return snapshot, saved


def store_listener(settings: Settings, item: ListenerItem, state: ListenerState) -> ListenerResult:
    """Store a captured listener unless unchanged (:func:`store_snapshot`) and catalog it with
    the run's trigger; when stored, note what changed since its previous snapshot (drift)."""
    snapshot, saved = store_snapshot(settings, item.location, state)
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
            created_at=utc_stamp_iso(snapshot.created_at),
            trigger=item.trigger,
            execution_arn=item.execution_arn,
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
            "listener_arn": item.listener_arn,
            "execution_arn": item.execution_arn,
            "status": result.status,
            "rules": result.rules,
            "snapshot_id": snapshot_id,
            "location": saved.location,
            "drifted": drift is not None,
        },
    )
    return result


def back_up_listener(settings: Settings, item: ListenerItem) -> ListenerResult:
    """Capture one listener (read fresh, unpaced) and store it (:func:`store_listener`)."""
    aws = settings.aws_in(item.account_id, item.region, item.role_arn)
    return store_listener(settings, item, capture_listener(aws, item.listener_arn))


def back_up_batch(
    batch: ListenerBatch,
    remaining_seconds: Any = None,
    sleep: Any = time.sleep,
    now: Any = None,
) -> BatchResult:
    """Back up the listeners of a batch, reading them with the fewest calls: per account and
    region, the descriptions discovery handed over (when fresh: :data:`DESCRIPTION_MAX_AGE`)
    or one DescribeListeners for the others, one paginated DescribeRules per listener, and
    DescribeTags in batches of 20 rule ARNs across the listeners; every Describe call paced to
    the batch's share of the budget (:mod:`albrules.pacing`).

    One broken listener never loses the others: its failure is its result (``failed``, with
    the error's class and sentence). Throttled ones are tried again after a pause while time
    is left (``remaining_seconds()``: the invocation's time left, None to ignore); a listener
    is not started when too little time is left, and is recorded as failed for that reason
    (``BatchOutOfTime``), so a batch ends before Lambda stops it."""
    settings = Settings.load()
    rate = batch.items[0].describe_calls_per_second or settings.describe_calls_per_second
    pacer = Pacer(rate)
    moment = now() if now is not None else datetime.now(UTC)
    groups: dict[tuple[str, str, str | None], list[ListenerItem]] = {}
    for item in batch.items:
        groups.setdefault((item.account_id, item.region, item.role_arn), []).append(item)
    results: dict[str, ListenerResult] = {}
    for (account_id, region, role_arn), items in groups.items():
        try:
            aws = pacer.aws(
                account_id,
                region,
                role_arn,
                partial(settings.aws_in, account_id, region, role_arn),
            )
        except AlbRulesError as err:
            for item in items:
                results[item.listener_arn] = _failed(item, type(err).__name__, str(err))
            continue
        read = _read_group(aws, items, moment, remaining_seconds, sleep)
        for item in items:
            outcome = read[item.listener_arn]
            if isinstance(outcome, ListenerResult):
                results[item.listener_arn] = outcome
                continue
            try:
                results[item.listener_arn] = store_listener(settings, item, outcome)
            except AlbRulesError as err:
                results[item.listener_arn] = _failed_with(item, err)
    return BatchResult(results=[results[item.listener_arn] for item in batch.items])


def _left(remaining_seconds: Any) -> float:
    return float(remaining_seconds()) if remaining_seconds is not None else float("inf")


def _fresh(item: ListenerItem, moment: datetime) -> bool:
    if item.description is None or item.described_at is None:
        return False
    try:
        described = datetime.fromisoformat(item.described_at.replace("Z", "+00:00"))
    except ValueError:
        return False
    return 0 <= (moment - described).total_seconds() <= DESCRIPTION_MAX_AGE


def _describe(aws: Aws, arns: list[str], errors: dict[str, AlbRulesError]) -> dict[str, Any]:
    """The listeners' descriptions in one DescribeListeners; if one of them is gone (the call
    then fails as a whole), one call each, so that only that one fails."""
    try:
        return describe_listeners(aws, arns)
    except ListenerNotFound:
        if len(arns) == 1:
            errors[arns[0]] = ListenerNotFound(
                f"listener {arns[0]} does not exist; check the ARN, --region and --profile"
            )
            return {}
    except AlbRulesError as err:
        errors.update({arn: err for arn in arns})
        return {}
    found: dict[str, Any] = {}
    for arn in arns:
        found.update(_describe(aws, [arn], errors))
    return found


def _read_group(
    aws: Aws,
    items: list[ListenerItem],
    moment: datetime,
    remaining_seconds: Any,
    sleep: Any,
) -> dict[str, ListenerState | ListenerResult]:
    """Each listener's captured state, or its failed result (one account and region)."""
    described: dict[str, Any] = {i.listener_arn: i.description for i in items if _fresh(i, moment)}
    out: dict[str, ListenerState | ListenerResult] = {}

    def check_time(_arn: str) -> None:
        if _left(remaining_seconds) < SPARE_SECONDS:
            raise BatchOutOfTime("the batch ran out of time before this listener")

    todo = list(items)
    pause = THROTTLE_PAUSE
    for attempt in range(THROTTLE_RETRIES + 1):
        errors: dict[str, AlbRulesError] = {}
        need = [i.listener_arn for i in todo if i.listener_arn not in described]
        if need:
            try:
                check_time(need[0])
                described.update(_describe(aws, need, errors))
            except BatchOutOfTime as err:
                errors.update({arn: err for arn in need})
        ready = [
            (parse_listener_arn(i.listener_arn), described[i.listener_arn])
            for i in todo
            if i.listener_arn in described and i.listener_arn not in errors
        ]
        for arn, result in read_listeners(aws, ready, before=check_time).items():
            if isinstance(result, AlbRulesError):
                errors[arn] = result
            else:
                out[arn] = result
        again = attempt < THROTTLE_RETRIES and _left(remaining_seconds) >= SPARE_SECONDS + pause
        throttled = [i for i in todo if isinstance(errors.get(i.listener_arn), AwsThrottled)]
        for item in todo:
            problem = errors.get(item.listener_arn)
            if problem is not None and not (again and isinstance(problem, AwsThrottled)):
                out[item.listener_arn] = _failed_with(item, problem)
        if not again or not throttled:
            break
        logger.warning("listeners throttled; trying again", extra={"pause": pause})
        sleep(pause)
        pause *= 2
        todo = throttled
    return out


def _failed_with(item: ListenerItem, err: AlbRulesError) -> ListenerResult:
    logger.warning(
        "listener not backed up",
        extra={"listener_arn": item.listener_arn, "error_type": type(err).__name__},
    )
    return _failed(item, type(err).__name__, str(err))


def _failed(item: ListenerItem, error: str, cause: str) -> ListenerResult:
    return ListenerResult(listener_arn=item.listener_arn, status="failed", error=error, cause=cause)


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


def _batch_results(settings: Settings, map_run: dict[str, Any]) -> list[BatchResult]:
    """What each child execution of the backup Map returned, from the files its ResultWriter
    left in S3 (via their manifest). A child that failed as a whole (``FAILED_n.json``: timed
    out, or its batch function crashed past its Catch) becomes a failed batch of the listeners
    in its input."""
    details = map_run.get("ResultWriterDetails") or {}
    bucket, key = details.get("Bucket"), details.get("Key")
    if not bucket or not key:
        raise AlbRulesError("the Distributed Map left no ResultWriterDetails; no results to read")
    aws = settings.home()
    manifest = json.loads(read_bytes(f"s3://{bucket}/{key}", aws))
    batches: list[BatchResult] = []
    for status, entries in (manifest.get("ResultFiles") or {}).items():
        for entry in entries:
            rows = json.loads(read_bytes(f"s3://{bucket}/{entry['Key']}", aws))
            for row in rows:
                if status == "SUCCEEDED" and row.get("Output"):
                    batches.append(
                        parse(BatchResult, json.loads(row["Output"]), "a backup batch's result")
                    )
                    continue
                items = json.loads(row.get("Input") or "{}").get("Items") or []
                batches.append(
                    BatchResult(
                        failed_batch=BatchFailure(
                            listener_arns=[str(i.get("listener_arn", "?")) for i in items],
                            error=row.get("Error", status),
                            cause=row.get("Cause", ""),
                        )
                    )
                )
    return batches


def listener_results(batches: list[BatchResult]) -> list[ListenerResult]:
    """Every listener's result, a failed batch counting as each of its listeners failed."""
    results: list[ListenerResult] = []
    for batch in batches:
        results += batch.results
        if batch.failed_batch is not None:
            failure = batch.failed_batch
            results += [
                ListenerResult(
                    listener_arn=arn, status="failed", error=failure.error, cause=failure.cause
                )
                for arn in failure.listener_arns
            ]
    return results


def summarise_backup(state: BackupState) -> BackupState:
    """Count what the Map did, store the summary in S3, write the message for failures (which
    tells the drift too) or else for drift."""
    settings = Settings.load()
    if state.map_run is None:
        raise AlbRulesError("the backup state has no map_run; the state machine is out of order")
    results = listener_results(_batch_results(settings, state.map_run))
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
    results_location = settings.put_json(
        run_summary_key(state.execution_arn),
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
    return state.model_copy(
        update={"summary": summary, "notification": failure, "drift_notification": drift}
    )
