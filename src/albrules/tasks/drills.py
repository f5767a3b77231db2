"""Scheduled restore drills (``DrillSchedule``): the latest snapshot of each listener in the
catalog, drilled on the scratch load balancer ``DrillLoadBalancer`` (:mod:`albrules.drill`),
each result recorded in the catalog (``DRILL#<listener arn>`` items) and all of them in one
message on the notification topic. ``functions/run_drills/app.py`` is its Lambda door.

A drill runs in the stack's own account and region, where the scratch load balancer is; a
snapshot of a listener elsewhere is reported not restorable there (say so, not skipped).
The function stops starting drills when less than :data:`DRILL_SECONDS` of its time is
left, and says how many listeners it did not reach.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..drill import DrillReport, run_drill
from ..errors import InvalidInput
from ..notifications import drill_results
from ..runtime_env import getenv
from .restore import read_snapshot_at
from .runtime import MetricUnit, logger, metrics
from .settings import Settings

#: The time one drill may take, at most (a large listener under the mutating throttle).
DRILL_SECONDS = 120


def _scratch() -> str:
    name = (getenv("ALBRULES_DRILL_LOAD_BALANCER") or "").strip()
    if not name:
        raise InvalidInput(
            "the function has no ALBRULES_DRILL_LOAD_BALANCER; set the stack's "
            "DrillLoadBalancer parameter to the scratch load balancer's name"
        )
    return name


def run_drills(
    event: dict[str, Any], remaining_ms: Callable[[], int] | None = None
) -> dict[str, Any]:
    """Drill the latest snapshot of each catalogued listener (or of ``listener_arns`` in the
    event); record and notify. ``remaining_ms``: the invocation's time left (the Lambda
    context's ``get_remaining_time_in_millis``). Returns the counts and each headline."""
    settings = Settings.load()
    scratch = str(event.get("load_balancer") or _scratch())
    catalog = settings.catalog()
    listeners = list(event.get("listener_arns") or catalog.catalogued_listeners())
    reports: list[DrillReport] = []
    missed: list[str] = []
    for arn in listeners:
        if remaining_ms is not None and remaining_ms() < DRILL_SECONDS * 1000:
            missed.append(arn)
            continue
        latest = catalog.snapshots(arn, limit=1)
        if not latest:
            continue  # deleted versions only, or nothing yet
        location = str(latest[0]["location"])
        snapshot = read_snapshot_at(settings, location)
        report = run_drill(
            settings.home(),
            snapshot,
            location,
            scratch,
            secret_scope=settings.secret_scope(),
        )
        reports.append(report)
        catalog.record_drill(
            arn,
            report.ended_at,
            {
                "status": report.status,
                "snapshot": report.snapshot,
                "checksum": report.checksum,
                "load_balancer": report.load_balancer_name,
                "port": report.port,
                "rules": report.rules,
                "reasons": report.reasons,
                "scratch_unchanged": report.scratch_unchanged,
                "started_at": report.started_at,
            },
        )
        logger.info("drilled", extra={"listener_arn": arn, "status": report.status})
        metrics.add_metric(name=f"Drills.{report.status}", unit=MetricUnit.Count, value=1)
    if reports and settings.topic_arn:
        message = drill_results(reports, scratch)
        if missed:
            message = message.model_copy(
                update={
                    "message": message.message
                    + f"\n\nNot drilled this time (out of time): {len(missed)} listener(s)."
                }
            )
        settings.home().client("sns").publish(
            TopicArn=settings.topic_arn, Subject=message.subject, Message=message.message
        )
    return {
        "drilled": len(reports),
        "restorable": sum(r.restorable for r in reports),
        "not_restorable": sum(not r.restorable for r in reports),
        "missed": missed,
        "results": [
            {"listener_arn": r.listener_arn, "status": r.status, "headline": r.headline()}
            for r in reports
        ],
    }
