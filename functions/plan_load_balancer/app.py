"""Lambda function PlanLoadBalancerFunction: the restore machine's "Lock, check and plan
every listener" (a restore of a whole load balancer)."""

from __future__ import annotations

from typing import Any

from albrules.state_documents import LoadBalancerRestoreState, dump_load_balancer, parse
from albrules.tasks.fleet import plan_load_balancer
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    state = parse(LoadBalancerRestoreState, event, "the restore state")
    return dump_load_balancer(plan_load_balancer(state))
