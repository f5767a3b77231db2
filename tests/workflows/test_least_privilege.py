"""What least privilege asks of the engine, handler by handler: the public approval function
needs only approval items, the apply refuses a listener outside RestoreTargets on its own, and
every function that reaches another account assumes the member role its step needs.

(The local AWS does not evaluate IAM, so what the roles may do is asserted on the templates;
here, that the code needs no more than the roles give.)
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from albrules import accounts, approval
from albrules.errors import RestoreRefused
from albrules.tasks import settings as settings_module
from lambda_apps import approval as approval_handler
from lambda_apps import backup, restore
from local_world import Calls
from stack import Stack, checksum
from workflows.test_handlers import (
    Functions,
    Restore,
    catalog,
    execution,
    item,
    signing_key,
    url_event,
)


@pytest.fixture
def call(stack: Stack) -> Functions:
    return Functions(stack)


def test_the_review_page_needs_no_audit_record(stack: Stack, call: Functions) -> None:
    """RequestApproval copies the audit record into the approval item; the page reads that copy
    (the approval function's role may read APPROVAL# items only)."""
    case = Restore(stack, call, "p1", require_approval=True, requested_by="alice", reason="bad TG")
    case.planned()
    call(restore.request_approval, {"state": case.state, "task_token": "TOKEN-P1"})
    record = catalog(stack).approval(execution("p1"))
    assert record is not None
    assert record["audit"]["requested_by"] == "alice" and record["audit"]["reason"] == "bad TG"
    assert "pk" not in record["audit"] and "task_token" not in record["audit"]
    # Gone from the table: the page must not need it.
    stack.ddb.delete_item(
        TableName=stack.table,
        Key={"pk": {"S": f"RESTORE#{execution('p1')}"}, "sk": {"S": "AUDIT"}},
    )
    claim = approval.LinkClaim(execution("p1"), "approve", record["nonce"], int(time.time()) + 600)

    page = call(approval_handler.handle, url_event("GET", approval.sign(signing_key(stack), claim)))

    assert page["statusCode"] == 200, page["body"]
    assert "alice" in page["body"] and "bad TG" in page["body"]


def test_apply_refuses_a_listener_outside_the_targets_with_no_call_that_changes(
    stack: Stack, call: Functions, calls: Calls
) -> None:
    """The plan was made before RestoreTargets narrowed (a stack update mid-restore): the
    apply, the one step that writes, checks again and changes nothing."""
    case = Restore(stack, call, "t1")
    case.planned()
    config = call.config("ApplyPlanFunction")
    config["Environment"]["Variables"]["ALBRULES_RESTORE_TARGETS"] = "web-,tag:team=pay"
    calls.clear()

    with pytest.raises(RestoreRefused, match=r"\(load balancer shop\) is not among"):
        call(restore.apply_plan, case.state)

    assert calls.mutating == []
    assert checksum(stack, case.listener) == case.broken


def test_each_step_assumes_the_member_role_it_needs(
    stack: Stack, call: Functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listener of another account: backups and the restore's checks assume the read-only
    role; plan, apply and roll back the read-write one, each with the external id."""
    assumed: list[tuple[str, str | None]] = []

    def aws_for(account_id: str, region: str, **kwargs: Any) -> Any:
        assumed.append((str(kwargs["member_role_name"]), kwargs["external_id"]))
        return accounts.home(region)  # the listener is this account's, reached as if not

    monkeypatch.setattr(settings_module, "aws_for", aws_for)
    case = Restore(stack, call, "m1")
    case.planned()
    call(backup.snapshot_listeners, {"Items": [item(case.listener, stack)]})
    call(restore.apply_plan, case.state)
    call(restore.verify_listener, case.state)
    call(restore.roll_back, case.state)

    read, write = "albrules-member-read", "albrules-member"
    # Restore(): a backup, then lock (no session), load, pre-restore, plan; then the calls above.
    assert assumed == [
        (read, "test-external-id"),  # the backup Restore() makes
        (read, "test-external-id"),  # load and validate the snapshot
        (read, "test-external-id"),  # take the pre-restore snapshot
        (write, "test-external-id"),  # compute the plan (it reads OIDC client secrets)
        (read, "test-external-id"),  # a backup batch
        (write, "test-external-id"),  # apply
        (read, "test-external-id"),  # verify
        (write, "test-external-id"),  # roll back
    ]
