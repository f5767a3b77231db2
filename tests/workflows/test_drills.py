"""Scheduled restore drills in the deployed stack: RunDrillsFunction, invoked as its schedule
would, drills the latest snapshot of each catalogued listener on the scratch load balancer,
records the result in the catalog, notifies, and leaves the scratch load balancer as it was."""

from __future__ import annotations

import json

from albrules.aws import Aws
from albrules.catalog import Catalog
from albrules.drill import scratch_state
from stack import Stack, received, shop, subscribe


def test_a_scheduled_drill_reports_restorable_records_notifies_and_leaves_the_scratch_lb(
    stack: Stack,
) -> None:
    listener = shop(stack)
    assert stack.run("backup", stack.backup_targets(load_balancers=["shop"])).status == "SUCCEEDED"
    scratch = stack.world.load_balancer("scratch")
    before = scratch_state(stack.world.aws, scratch)
    queue = subscribe(stack)
    response = stack.session.client("lambda").invoke(
        FunctionName=stack.deployment.physical_id("RunDrillsFunction"), Payload=b"{}"
    )
    assert "FunctionError" not in response, response["Payload"].read()
    result = json.loads(response["Payload"].read())
    assert (result["drilled"], result["restorable"]) == (1, 1), result
    assert result["results"][0]["listener_arn"] == listener
    [drill] = Catalog(Aws(stack.session), stack.table).drills(listener)
    assert drill["status"] == "RESTORABLE" and drill["load_balancer"] == "scratch"
    assert drill["snapshot"].startswith(f"s3://{stack.bucket}/snapshots/")
    assert drill["reasons"] == [] and drill["scratch_unchanged"] is True
    [message] = received(stack, queue)
    assert "restorable" in message["Subject"] and listener in message["Message"]
    assert scratch_state(stack.world.aws, scratch) == before
