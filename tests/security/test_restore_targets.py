"""RestoreTargets holds: a restore of a listener outside the stack's allow-list is refused before
any change, whoever starts it and whatever its input says.

The suite's stack is given ``RestoreTargets=web-,tag:team=shop`` the way a stack update gives it
to the functions (their environment, which the template sets from the parameter: checked
first); the stack's reset puts the deployed environment back after each test.
"""

from __future__ import annotations

from typing import Any

import pytest

from local_world import Calls
from security.people import approve_as_other
from stack import ACCOUNT, Stack, break_listener, checksum, shop

TARGETS = "web-,tag:team=shop"


@pytest.fixture
def narrow(stack: Stack) -> Stack:
    """The suite's stack with RestoreTargets set, as a stack update would set it."""
    lam = stack.session.client("lambda")
    for name, environment in stack.functions.items():
        variables = environment["Variables"]
        assert variables["ALBRULES_RESTORE_TARGETS"] == ""  # the template's default: any
        lam.update_function_configuration(
            FunctionName=name,
            Environment={"Variables": {**variables, "ALBRULES_RESTORE_TARGETS": TARGETS}},
        )
    return stack


def backed_up(stack: Stack, listener: str) -> str:
    """Back the listener up with the stack's backup machine; the snapshot's key."""
    result = stack.run("backup", {"targets": [{"account_id": ACCOUNT, "region": "us-east-1"}]})
    assert result.status == "SUCCEEDED", result.cause
    listener_id = listener.rsplit("/", 1)[-1]
    return sorted(k for k in stack.keys("snapshots/") if f"/{listener_id}/" in k)[-1]


def state_names(stack: Stack, execution_arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in stack.history(execution_arn)
        if "stateEnteredEventDetails" in e
    ]


def restore(stack: Stack, snapshot: str, **extra: Any) -> str:
    return stack.start(
        "restore", {"snapshot": snapshot, "require_approval": True, "reason": "test", **extra}
    )


def test_a_listener_outside_the_targets_is_refused_before_any_change(
    narrow: Stack, calls: Calls
) -> None:
    listener = shop(narrow, "shop")
    snapshot = backed_up(narrow, listener)
    break_listener(narrow, listener)
    broken = checksum(narrow, listener)
    calls.clear()

    result = narrow.finish("restore", restore(narrow, snapshot))

    assert result.status == "FAILED" and result.error == "RestoreRefused", result.cause
    assert result.cause.startswith("The restore of shop listener")
    assert (
        f"What went wrong: RestoreRefused: listener {listener} (load balancer shop) is not among "
        f"the stack's restore targets ({TARGETS}); nothing was changed, restore to a listener "
        "they allow or change the stack's RestoreTargets parameter\n"
    ) in result.cause
    names = state_names(narrow, result.execution_arn)
    assert "Refused before any change" in names
    assert "Take the pre-restore snapshot" not in names and "Apply the plan" not in names
    assert calls.mutating == []
    assert checksum(narrow, listener) == broken


def test_the_allow_list_is_not_a_name_the_input_can_change(narrow: Stack, calls: Calls) -> None:
    """Restoring a web- listener's snapshot onto a listener outside the list: refused too."""
    allowed = shop(narrow, "web-shop")
    outside = shop(narrow, "pay")
    snapshot = backed_up(narrow, allowed)
    before = checksum(narrow, outside)
    calls.clear()

    execution = restore(narrow, snapshot, target_listener_arn=outside)
    result = narrow.finish("restore", execution)

    assert result.error == "RestoreRefused", result.cause
    assert "(load balancer pay) is not among" in result.cause
    assert calls.mutating == [] and checksum(narrow, outside) == before


def test_a_tagged_load_balancer_outside_the_prefixes_is_restored(narrow: Stack) -> None:
    """The other side: the list is not a blanket refusal (a load balancer tagged team=shop)."""
    listener = shop(narrow, "pay")
    balancer = narrow.world.elb.describe_listeners(ListenerArns=[listener])["Listeners"][0][
        "LoadBalancerArn"
    ]
    narrow.world.elb.add_tags(ResourceArns=[balancer], Tags=[{"Key": "team", "Value": "shop"}])
    snapshot = backed_up(narrow, listener)
    good = checksum(narrow, listener)
    break_listener(narrow, listener)

    execution = restore(narrow, snapshot)
    approve_as_other(narrow, execution)
    result = narrow.finish("restore", execution)

    assert result.status == "SUCCEEDED", result.cause
    assert checksum(narrow, listener) == good
