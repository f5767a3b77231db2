"""The restore machine with ``"recreate_listener": true``: a deleted listener comes back from
its backup, and while it does not exist the lock is its load balancer's port."""

from __future__ import annotations

from typing import Any

from albrules import approval
from albrules.aws import Aws
from albrules.catalog import Catalog
from albrules.recreate import lock_key
from rule_builders import forward, path
from stack import Stack, received, subscribe

RULES = 5


def https_shop(stack: Stack) -> tuple[str, str]:
    """An HTTPS listener (one ACM certificate, a tag) with five rules: (LB ARN, listener ARN)."""
    world = stack.world
    lb = world.load_balancer("shop")
    group = world.target_group("shop-app")
    cert = stack.session.client("acm").request_certificate(DomainName="shop.example.com")
    listener = world.elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": cert["CertificateArn"]}],
        DefaultActions=[forward(group)],
        Tags=[{"Key": "team", "Value": "shop"}],
    )["Listeners"][0]["ListenerArn"]
    for i in range(1, RULES + 1):
        world.rule(listener, i * 10, [path(f"/{i}/*")], [forward(group)], tags={"n": str(i)})
    return lb, listener


def backed_up_and_deleted(stack: Stack) -> tuple[str, str, str, list[Any]]:
    """Back the listener up, then delete it: (LB, old listener, snapshot key, its rules)."""
    lb, listener = https_shop(stack)
    result = stack.run("backup", stack.backup_targets())
    assert result.status == "SUCCEEDED", result.cause
    listener_id = listener.rsplit("/", 1)[-1]
    (key,) = [k for k in stack.keys("snapshots/") if f"/{listener_id}/" in k]
    state = stack.world.state(listener)
    rules = [r.model_dump(exclude={"arn"}) for r in state.rules]
    assert state.listener is not None
    stack.world.elb.delete_listener(ListenerArn=listener)
    return lb, listener, key, [rules, state.listener]


def listeners_on(stack: Stack, lb: str) -> dict[int, str]:
    found = stack.world.elb.describe_listeners(LoadBalancerArn=lb)["Listeners"]
    return {int(item["Port"]): item["ListenerArn"] for item in found}


def test_one_execution_recreates_a_deleted_listener_and_links_its_history(stack: Stack) -> None:
    lb, old, key, rules = backed_up_and_deleted(stack)

    result = stack.run("restore", {"snapshot": key, "recreate_listener": True})

    assert result.status == "SUCCEEDED", result.cause
    new = listeners_on(stack, lb)[443]
    assert new != old
    state = stack.world.state(new)
    assert [r.model_dump(exclude={"arn"}) for r in state.rules] == rules[0]
    assert state.listener == rules[1]  # the settings too: certificate, policy, tags
    assert state.listener is not None and state.listener.tags == {"team": "shop"}
    catalog = Catalog(Aws(stack.session), stack.table)
    (link,) = [v for v in catalog.history(old) if v.kind == "recreation"]
    assert link.recreated_as == new and link.execution_arn == result.execution_arn
    assert [v.recreated_from for v in catalog.history(new) if v.kind == "recreation"] == [old]
    record = catalog.audit(result.execution_arn)
    assert record is not None and record["outcome"] == "RESTORED" and record["lock_released"]
    assert catalog.lock_holder(lock_key(lb, 443)) is None


def test_while_no_listener_exists_the_lock_is_the_load_balancers_port(stack: Stack) -> None:
    lb, _old, key, _rules = backed_up_and_deleted(stack)
    queue = subscribe(stack)
    request = {"snapshot": key, "recreate_listener": True, "require_approval": True}
    first = stack.start("restore", request)
    stack.pending_approval(first)
    catalog = Catalog(Aws(stack.session), stack.table)
    assert catalog.lock_holder(lock_key(lb, 443))["owner"] == first  # type: ignore[index]
    asked = received(stack, queue)[0]["Message"]
    assert "0. create listener HTTPS:443 on load balancer shop" in asked

    second = stack.run("restore", {"snapshot": key, "recreate_listener": True})

    assert second.status == "FAILED" and second.error == "ListenerLocked", second.cause
    assert first in str(second.cause)
    approval.decide(Aws(stack.session), catalog, first, "reject", by="test", reason="cleanup")
    assert stack.finish("restore", first).error == "ApprovalRejected"
    assert listeners_on(stack, lb) == {}  # nothing was created
    assert catalog.lock_holder(lock_key(lb, 443)) is None


def test_an_apply_cut_off_after_creating_the_listener_rolls_back_by_deleting_it(
    stack: Stack,
) -> None:
    """The apply's first invocation dies after CreateListener and two rules took effect. The
    retry finds the listener in the journal, sees it partly changed (never re-planned), and
    the rollback deletes it."""
    from albrules.local import faults

    lb, _old, key, _rules = backed_up_and_deleted(stack)
    fault = faults.inject_lambda("ApplyPlan", after_calls=3)

    result = stack.run("restore", {"snapshot": key, "recreate_listener": True}, timeout=90)

    assert fault.fired == 1
    assert result.status == "FAILED" and result.error == "RestoreRolledBack", result.cause
    assert listeners_on(stack, lb) == {}  # the load balancer as it was
    name = result.execution_arn.rsplit(":", 1)[-1]
    journal = stack.read_json(f"pre-restore/{name}/journal.json")
    (created,) = [e for e in journal if e["call"] == "CreateListener"]
    assert created["status"] == "done" and created["listener_arn"]
    (deleted,) = [e for e in journal if e["call"] == "DeleteListener"]
    assert deleted["phase"] == "rollback" and deleted["status"] == "done"
    catalog = Catalog(Aws(stack.session), stack.table)
    assert catalog.lock_holder(lock_key(lb, 443)) is None


def test_an_apply_cut_off_before_createlisteners_answer_finds_the_listener_by_its_port(
    stack: Stack,
) -> None:
    """The first invocation dies once CreateListener took effect, before its answer: the
    journal (written before the call) says "started" with no ARN. The retry finds the
    listener on the locked port, as created, and applies the rest once."""
    from albrules.local import faults

    lb, _old, key, rules = backed_up_and_deleted(stack)
    fault = faults.inject_lambda("ApplyPlan", after_calls=1)

    result = stack.run("restore", {"snapshot": key, "recreate_listener": True}, timeout=90)

    assert fault.fired == 1
    assert result.status == "SUCCEEDED", result.cause
    (new,) = listeners_on(stack, lb).values()
    state = stack.world.state(new)
    assert [r.model_dump(exclude={"arn"}) for r in state.rules] == rules[0]
    name = result.execution_arn.rsplit(":", 1)[-1]
    journal = stack.read_json(f"pre-restore/{name}/journal.json")
    assert [e["call"] for e in journal].count("CreateListener") == 1
