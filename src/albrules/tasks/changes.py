"""Change-triggered backups: note a CloudTrail change against the listeners it names, and back
a listener up once its changes have settled. ``functions/note_listener_change/app.py`` and
``functions/back_up_changed_listener/app.py`` are the Lambda doors.

- **Note** (EventBridge, asynchronously): per listener the event names, the event joins the
  listener's pending changes (``CHANGES#<arn>``/``PENDING``) and its quiet time moves to now +
  ``ChangeSettleSeconds``; if no execution is settling the listener, one is started.
- **Back up** (the change machine, after each wait): not quiet yet, wait again; quiet, read
  the listener fresh, store its snapshot and record a version (trigger ``change``, or
  ``restore`` when every event came from one restore's writers while it held the lock) with
  the events it covers, even when the content is unchanged; gone, record its deletion.

The event only says which listener to read: nothing it carries reaches the snapshot.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..arns import parse_listener_arn
from ..aws import as_albrules_error
from ..capture import capture_listener
from ..catalog import PENDING_EVENT, Catalog
from ..changes import Noted, by_restore, log_ignored, read_event
from ..drift import compare
from ..errors import AlbRulesError, InvalidInput, ListenerNotFound
from ..models import ListenerState, utc_stamp_iso
from ..notifications import change_noted
from ..runtime_env import getenv
from ..state_documents import ChangeState, Notification
from ..store import read_snapshot
from ..versions import ChangeEvent
from .backup import store_snapshot
from .runtime import MetricUnit, logger, metrics
from .settings import Settings

DEFAULT_SETTLE_SECONDS = 30
# A settling claim outlives its quiet time by this much: an execution that died (Lambda out of
# retries) no longer blocks the listener's next change from starting a new one.
CLAIM_SPARE_SECONDS = 900


@dataclass(frozen=True)
class ChangeSettings:
    """The change functions' own settings (template.yaml sets them)."""

    settle_seconds: int
    state_machine_arn: str | None
    writer_roles: list[str]
    notify: bool

    @classmethod
    def load(cls) -> ChangeSettings:
        text = getenv("ALBRULES_CHANGE_SETTLE_SECONDS") or str(DEFAULT_SETTLE_SECONDS)
        try:
            settle = int(text)
        except ValueError:
            raise InvalidInput(
                f"ALBRULES_CHANGE_SETTLE_SECONDS is {text!r}, not a number of seconds; deploy "
                "with template.yaml (ChangeSettleSeconds)"
            ) from None
        roles = [r.strip() for r in (getenv("ALBRULES_RESTORE_WRITER_ROLE_ARNS") or "").split(",")]
        return cls(
            settle_seconds=max(0, settle),
            state_machine_arn=getenv("ALBRULES_CHANGE_STATE_MACHINE_ARN") or None,
            writer_roles=[r for r in roles if r],
            notify=(getenv("ALBRULES_NOTIFY_ON_CHANGE") or "false").lower() == "true",
        )


# --- note ---------------------------------------------------------------------------------


def note_listener_change(event: Any, now: float | None = None) -> list[str]:
    """Note an EventBridge event from CloudTrail; returns the listeners it was noted against
    (an event that names none is logged and dropped)."""
    found = read_event(event)
    if not isinstance(found, Noted):
        log_ignored(found)
        logger.info("change ignored", extra={"event_id": found.event_id, "why": found.reason})
        metrics.add_metric(name="ChangesIgnored", unit=MetricUnit.Count, value=1)
        return []
    settings = Settings.load()
    config = ChangeSettings.load()
    catalog = settings.catalog()
    listeners = list(found.listener_arns)
    for balancer in found.load_balancer_arns:  # DeleteLoadBalancer: its catalogued listeners
        listeners += catalog.load_balancer_listeners(balancer)
    moment = time.time() if now is None else now
    for listener in dict.fromkeys(listeners):
        pending = found.event.model_dump(exclude_none=True)
        restore = _restore_holding(catalog, settings, config, found.event, listener)
        if restore:
            pending["restore_execution"] = restore
        item = catalog.note_change(listener, pending, int(moment) + config.settle_seconds)
        logger.info(
            "change noted",
            extra={
                "listener_arn": listener,
                "event_id": found.event.id,
                "event_name": found.event.name,
                "by": found.event.by,
                "restore_execution": restore,
            },
        )
        if not _settling(item, moment):
            _start_settling(settings, config, catalog, listener, moment)
    metrics.add_metric(name="ChangesNoted", unit=MetricUnit.Count, value=len(listeners))
    return list(dict.fromkeys(listeners))


def _restore_holding(
    catalog: Catalog,
    settings: Settings,
    config: ChangeSettings,
    event: ChangeEvent,
    listener: str,
) -> str | None:
    """The restore execution that made this change: the event's session issuer is one of the
    restore's writer roles and a restore execution holds the listener's lock now."""
    if not by_restore(event, listener, config.writer_roles, settings.member_role_name):
        return None
    holder = catalog.lock_holder(listener) or {}
    owner = str(holder.get("owner") or "")
    if (
        ":states:" in owner
        and ":execution:" in owner
        and int(holder.get("expires_at", 0)) >= (int(time.time()))
    ):
        return owner
    return None


def _settling(item: dict[str, Any], moment: float) -> bool:
    return bool(item.get("settling")) and int(item.get("settling_until", 0)) >= int(moment)


def _start_settling(
    settings: Settings, config: ChangeSettings, catalog: Catalog, listener: str, moment: float
) -> None:
    if not config.state_machine_arn:
        raise InvalidInput(
            "ALBRULES_CHANGE_STATE_MACHINE_ARN is not set; deploy with template.yaml"
        )
    name = f"{parse_listener_arn(listener).listener_id[:16]}-{uuid.uuid4().hex[:20]}"
    until = int(moment) + config.settle_seconds + CLAIM_SPARE_SECONDS
    if not catalog.claim_settling(listener, name, until):
        return  # another note started one meanwhile
    try:
        settings.home().client("stepfunctions").start_execution(
            stateMachineArn=config.state_machine_arn,
            name=name,
            input=json.dumps({"listener_arn": listener, "wait_seconds": config.settle_seconds}),
        )
    except (ClientError, BotoCoreError) as err:
        catalog.release_settling(listener, name)  # the next event (or the retry) starts one
        raise as_albrules_error(
            err, service="stepfunctions", where=config.state_machine_arn
        ) from err
    logger.info("settling started", extra={"listener_arn": listener, "execution": name})


# --- back up ------------------------------------------------------------------------------


def _pending_events(item: dict[str, Any]) -> list[dict[str, Any]]:
    found = [v for k, v in item.items() if k.startswith(PENDING_EVENT) and isinstance(v, dict)]
    return sorted(found, key=lambda e: (str(e.get("time", "")), str(e.get("id", ""))))


def _trigger(events: list[dict[str, Any]]) -> tuple[str, str | None]:
    """``restore`` and the execution when one restore made every change; else ``change``."""
    restores = {e.get("restore_execution") for e in events}
    if len(restores) == 1 and None not in restores:
        return "restore", str(restores.pop())
    return "change", None


def back_up_changed_listener(state: ChangeState, now: float | None = None) -> ChangeState:
    """One turn of the change machine: wait more, or back the listener up (or record that it
    is gone) and clear the changes it covers."""
    settings = Settings.load()
    config = ChangeSettings.load()
    catalog = settings.catalog()
    listener = parse_listener_arn(state.listener_arn).arn
    moment = time.time() if now is None else now
    item = catalog.pending_changes(listener)
    if item is None or item.get("settling") != state.owner:
        logger.info("nothing left to settle", extra={"listener_arn": listener})
        return state.model_copy(update={"status": "done", "wait_seconds": 0})
    quiet_at = int(item.get("quiet_at", 0))
    if quiet_at > moment:
        catalog.claim_settling(listener, state.owner, quiet_at + CLAIM_SPARE_SECONDS)
        return state.model_copy(
            update={"status": "waiting", "wait_seconds": max(1, quiet_at - int(moment))}
        )
    catalog.claim_settling(listener, state.owner, int(moment) + CLAIM_SPARE_SECONDS)
    pending = _pending_events(item)
    events = [ChangeEvent.model_validate(e) for e in pending]
    trigger, execution = _trigger(pending)
    parsed = parse_listener_arn(listener)
    aws = settings.aws_in(parsed.account, parsed.region)
    notification: Notification | None = None
    try:
        live = capture_listener(aws, listener)
    except ListenerNotFound:
        # When the deletion was seen (the events keep their own times): after every version
        # taken before it, even within the same second as the event.
        version = catalog.record_deletion(
            listener_arn=listener, deleted_at=utc_stamp_iso(_utc(time.time())), events=events
        )
        status = "deleted"
        metrics.add_metric(name="ListenersDeleted", unit=MetricUnit.Count, value=1)
    else:
        previous = catalog.snapshots(listener, limit=1)
        snapshot, saved = store_snapshot(settings, f"s3://{settings.bucket}/snapshots", live)
        version = catalog.record_snapshot(
            snapshot_id=snapshot.checksum[:12],
            listener_arn=listener,
            location=saved.location,
            checksum=snapshot.checksum,
            rules=len(live.rules),
            created_at=utc_stamp_iso(snapshot.created_at),
            trigger=trigger,
            execution_arn=execution,
            events=events,
        )
        status = "stored"
        metrics.add_metric(name="ChangeSnapshots", unit=MetricUnit.Count, value=1)
        if config.notify:
            notification = _message(settings, live, previous, events, saved.location)
    finished = catalog.finish_changes(
        listener, state.owner, int(item.get("seen", 0)), [e.id for e in events]
    )
    logger.info(
        "changed listener backed up",
        extra={
            "listener_arn": listener,
            "status": status,
            "trigger": trigger,
            "events": len(events),
            "version": version,
            "more_to_settle": not finished,
        },
    )
    wait = 0
    if not finished:
        after = catalog.pending_changes(listener) or {}
        wait = max(1, int(after.get("quiet_at", 0)) - int(time.time()))
    return state.model_copy(
        update={
            "status": status if finished else "waiting",
            "wait_seconds": wait,
            "version": version,
            "events": len(events),
            "notification": notification,
        }
    )


def _utc(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


def _message(
    settings: Settings,
    live: ListenerState,
    previous: list[dict[str, Any]],
    events: list[ChangeEvent],
    location: str,
) -> Notification:
    """The NotifyOnChange message: the listener, who changed it, the rules changed."""
    lines: list[str] = []
    before = str(previous[0]["location"]) if previous else None
    if before:
        try:
            report = compare(live, read_snapshot(before, settings.home()), before)
            lines = [change.line() for change in report.changes]
        except AlbRulesError as err:
            logger.warning("change not compared", extra={"error": str(err)})
    return change_noted(live.source.listener_arn, live.source.port, events, lines, before, location)
