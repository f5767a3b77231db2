"""Lambda function ComputePlanFunction: the restore machine's "Compute the plan"."""

from __future__ import annotations

from typing import Any

from albrules.state_documents import RestoreState, dump, parse
from albrules.tasks.restore import compute_plan
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    return dump(compute_plan(parse(RestoreState, event, "the restore state")))
