"""Lambda function ApplyPlanFunction: the restore machine's "Apply the plan"."""

from __future__ import annotations

from typing import Any

from albrules.slices import Deadline
from albrules.state_documents import RestoreState, dump, parse
from albrules.tasks.restore import apply_plan
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    state = parse(RestoreState, event, "the restore state")
    return dump(apply_plan(state, deadline=Deadline.of_lambda(context)))
