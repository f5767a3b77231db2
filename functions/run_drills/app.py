"""Lambda function RunDrillsFunction: the scheduled restore drills (DrillSchedule)."""

from __future__ import annotations

from typing import Any

from albrules.tasks.drills import run_drills
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return run_drills(event if isinstance(event, dict) else {}, remaining)
