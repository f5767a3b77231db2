"""The abandoned-lock task: run on a restore execution's "Step Functions Execution Status
Change" event (template.yaml, ReleaseAbandonedLockFunction's EventBridge rule), it releases the
lock the ended execution still holds and closes its audit record (:mod:`albrules.locks`).

The event, as AWS documents it (Step Functions developer guide, "EventBridge (CloudWatch
Events) for Step Functions execution status changes"): ``source`` ``aws.states``,
``detail-type`` ``Step Functions Execution Status Change``, ``resources`` the execution ARN,
and ``detail`` with ``executionArn``, ``stateMachineArn``, ``name``, ``status`` (RUNNING,
SUCCEEDED, FAILED, TIMED_OUT, ABORTED, and PENDING_REDRIVE for redriven executions),
``startDate`` and ``stopDate`` (epoch milliseconds), ``input``/``output`` (strings, left out
past 248 KB) with ``inputDetails``/``outputDetails``, and ``error``/``cause``. Only
``detail.executionArn`` is read here; the status is read again from DescribeExecution.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from ..errors import InvalidInput
from ..locks import release_abandoned_lock
from ..runtime_env import getenv
from ..state_documents import parse
from .runtime import MetricUnit, logger, metrics
from .settings import Settings


class _Detail(BaseModel):
    model_config = ConfigDict(extra="allow")
    executionArn: str  # the event's own field name


class StatusChangeEvent(BaseModel):
    """The parts of the event read here; AWS may add fields."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    source: str
    detail: _Detail


def release_abandoned(event: Any) -> dict[str, Any]:
    """Release the ended execution's lock (if it still owns it) and close its audit record."""
    parsed = parse(StatusChangeEvent, event, "the execution status change event")
    if parsed.source != "aws.states":
        raise InvalidInput(f"the event comes from {parsed.source}, not aws.states; nothing done")
    machine = getenv("ALBRULES_RESTORE_STATE_MACHINE_ARN")
    if not machine:
        raise InvalidInput(
            "ALBRULES_RESTORE_STATE_MACHINE_ARN is not set; deploy with template.yaml"
        )
    settings = Settings.load()
    home = settings.home()
    result = release_abandoned_lock(
        settings.catalog(), home.client("stepfunctions"), parsed.detail.executionArn, machine
    )
    if result.get("lock_released") or result.get("audit_closed"):
        logger.warning("released an abandoned restore lock", extra=result)
        metrics.add_metric(name="AbandonedLocksReleased", unit=MetricUnit.Count, value=1)
    return result
