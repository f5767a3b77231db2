"""Lambda function RecordLoadBalancerOutcomeFunction: the restore machine's "Release every
listener's lock and record the outcome" (a restore of a whole load balancer)."""

from __future__ import annotations

from typing import Any

from albrules.state_documents import LoadBalancerRestoreState, dump, parse
from albrules.tasks.fleet import record_load_balancer_outcome
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    state = parse(LoadBalancerRestoreState, event, "the restore state")
    return dump(record_load_balancer_outcome(state))
