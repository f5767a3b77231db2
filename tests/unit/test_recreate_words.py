"""Recreating a listener, without AWS: the machine input's rules, the lock's key and the
placeholders a plan names the listener by before it exists, and the history's words."""

from __future__ import annotations

import pytest

from albrules.arns import parse_listener_arn
from albrules.errors import InvalidInput
from albrules.history import Entry, provenance
from albrules.plan import Desired, Plan
from albrules.recreate import lock_key, placeholder_listener_arn, placeholder_rule_arn
from albrules.restore import substitute_listener
from albrules.state_documents import RestoreRequest, parse
from albrules.versions import Version

LB = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/shop/0123456789abcdef"
OLD = LB.replace(":loadbalancer/", ":listener/") + "/aaaaaaaaaaaaaaaa"
NEW = LB.replace(":loadbalancer/", ":listener/") + "/bbbbbbbbbbbbbbbb"


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ({"load_balancer": "shop"}, "need recreate_listener"),
        ({"certificate_map": {"arn:a": "arn:b"}}, "need recreate_listener"),
        ({"recreate_listener": True, "target_listener_arn": NEW}, "drop target_listener_arn"),
        ({"recreate_listener": True, "priorities": [10]}, "restores the whole listener"),
    ],
)
def test_the_machine_input_refuses_what_a_recreation_cannot_do(extra, said) -> None:
    with pytest.raises(InvalidInput, match=said):
        parse(RestoreRequest, {"snapshot": "snapshots/x.json", **extra}, "the restore input")


def test_the_machine_input_takes_a_recreation() -> None:
    request = parse(
        RestoreRequest,
        {"snapshot": "k", "recreate_listener": True, "load_balancer": "shop"},
        "the restore input",
    )
    assert request.recreate_listener and request.load_balancer == "shop"


def test_the_lock_and_the_placeholders() -> None:
    assert lock_key(LB, 443) == f"{LB}#port/443"
    assert lock_key(LB, 443) != lock_key(LB, 8443)
    placeholder = parse_listener_arn(placeholder_listener_arn(LB))  # a listener ARN as any
    assert placeholder.load_balancer_arn == LB
    assert placeholder_rule_arn(LB).startswith(LB.replace(":loadbalancer/", ":listener-rule/"))


def test_a_plan_made_before_the_listener_existed_names_the_new_one() -> None:
    from albrules.models import ListenerState, Source

    plan = Plan.model_validate(
        {
            "listener_arn": placeholder_listener_arn(LB),
            "mode": "full",
            "operations": [
                {
                    "op": "create-rule",
                    "listener_arn": placeholder_listener_arn(LB),
                    "priority": 10,
                    "conditions": [],
                    "actions": [],
                },
                {"op": "add-tags", "rule_arn": placeholder_rule_arn(LB), "priority": 0, "tags": {}},
            ],
            "changes": [],
            "expected": Desired(default_actions=[], rules=[]).model_dump(),
        }
    )
    default_rule = NEW.replace(":listener/", ":listener-rule/") + "/cccccccccccccccc"
    source = Source(
        account="111111111111",
        region="eu-west-1",
        load_balancer_arn=LB,
        load_balancer_name="shop",
        listener_arn=NEW,
    )
    live = ListenerState(source=source, default_actions=[], rules=[], default_rule_arn=default_rule)
    named = substitute_listener(plan, LB, live)
    assert named.listener_arn == NEW
    assert named.operations[0].listener_arn == NEW  # type: ignore[union-attr]
    assert named.operations[1].rule_arn == default_rule  # type: ignore[union-attr]


def test_the_history_says_recreated_as_and_from() -> None:
    old = Version(kind="recreation", listener_arn=OLD, taken_at="2026-12-04T01:00:00+00:00",
                  trigger="restore", recreated_as=NEW)  # fmt: skip
    new = Version(kind="recreation", listener_arn=NEW, taken_at="2026-12-04T01:00:00+00:00",
                  trigger="restore", recreated_from=OLD)  # fmt: skip
    assert provenance(old).startswith(f"recreated as {NEW}")
    assert provenance(new).startswith(f"recreated from {OLD}")
    assert Entry(old, True).summary() == f"the listener was recreated as {NEW}"
    assert Entry(old, True).changes is None


def test_the_approval_page_shows_a_change_of_the_listener_settings() -> None:
    from albrules import approval_page
    from albrules.plan import RuleChange

    change = RuleChange(
        kind="listener-settings",
        label="listener settings",
        fields=["certificates", "attributes"],
        before={"certificates": [], "attributes": {}},
        after={"certificates": ["arn:aws:acm:eu-west-1:111111111111:certificate/b"],
               "attributes": {"routing.http.response.server.enabled": "false"}},
    )  # fmt: skip
    card = approval_page.change_card(change)
    assert "Listener settings" in card and "certificates, attributes" in card
    assert "certificate/b" in card
