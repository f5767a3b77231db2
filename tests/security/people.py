"""Acting as someone in the attack suite: waiting for a restore's approval and approving it as a
person other than the one who started it.

Every test that needs a restore to get past its approval goes through :func:`approve_as_other`,
so how an approval is authenticated (a signed request from another IAM user) lives here only.
"""

from __future__ import annotations

import time
from typing import Any

from albrules import approval
from albrules.aws import Aws
from albrules.catalog import Catalog
from stack import Stack


def catalog(stack: Stack) -> Catalog:
    return Catalog(Aws(stack.session), stack.table)


def wait_for_approval(stack: Stack, execution_arn: str, timeout: float = 30) -> dict[str, Any]:
    """The restore's pending approval record, once it waits for one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = catalog(stack).approval(execution_arn)
        if record and record.get("status") == "pending":
            return record
        status = stack.sfn.describe_execution(executionArn=execution_arn)["status"]
        assert status == "RUNNING", f"the restore ended ({status}) before asking for approval"
        time.sleep(0.05)
    raise AssertionError("the restore never asked for approval")


def approve_as_other(stack: Stack, execution_arn: str) -> None:
    """Approve a waiting restore as someone who did not start it."""
    wait_for_approval(stack, execution_arn)
    approval.decide(
        Aws(stack.session), catalog(stack), execution_arn, "approve", by="another operator"
    )
