"""The planner on literal listeners: what it plans, in which order, and what it refuses.

plan.py documents the order: creates go in as soon as their priority is free (and the quota
allows), the single reorder goes in when every target priority is free or held by another
moving rule, a delete goes early only when it frees a priority (or quota) something needs,
and every other delete comes last, those of OIDC rules very last.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from albrules.canonical import canonical_actions, canonical_rule
from albrules.errors import InvalidInput, RestoreRefused
from albrules.models import ListenerState
from albrules.operations import (
    AddTags,
    CreateRule,
    DeleteRule,
    ModifyListener,
    ModifyRule,
    RemoveTags,
    SetRulePriorities,
    request_for,
)
from albrules.plan import Desired, Plan, Selector, choose_selection, match_rules, plan_restore
from rule_builders import fixed, forward, header, host, path

from .elbv2_model import Elbv2Model, apply_operations, capture_state, routing
from .strategies import GROUPS, OIDC_SECRETS, SECRET_ARN, SECRET_VALUE, SECRET_VALUES, oidc

LISTENER = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/unit/50dc6c495c0c9188/"
    "f2f7dc8efc522ab2"
)
SOURCE = {
    "account": "123456789012",
    "region": "us-east-1",
    "load_balancer_arn": (
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/unit/50dc6c495c0c9188"
    ),
    "load_balancer_name": "unit",
    "listener_arn": LISTENER,
    "port": 80,
    "protocol": "HTTP",
}
A, B, C = [path("/a/*")], [path("/b/*")], [host("c.example.com")]
REGEX_R = {"Field": "path-pattern", "PathPatternConfig": {"RegexValues": ["^/r$"]}}
QUERY_V2 = {"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}]}}
OIDC_ACTIONS = [oidc(), {**forward(GROUPS[0]), "Order": 2}]


def rule(priority: int, conditions: list[dict], actions: list[dict] | None = None, **extra: Any):
    return canonical_rule(
        {"priority": priority, "conditions": conditions, "actions": actions or [fixed()], **extra}
    )


def live(*rules: dict[str, Any], defaults: list[dict] | None = None) -> ListenerState:
    """A literal live listener: each rule's ARN ends in its priority."""
    return ListenerState.model_validate(
        {
            "source": SOURCE,
            "default_actions": canonical_actions(defaults or [fixed("404")]),
            "rules": [
                {**without_write_form(r), "arn": f"{LISTENER}/r{r['priority']}"} for r in rules
            ],
        }
    )


def without_write_form(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if k != "write_actions"}


def write_form(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Canonical actions as a write takes them: target group names are not an API field."""
    out = copy.deepcopy(actions)
    for action in out:
        for group in action.get("ForwardConfig", {}).get("TargetGroups", []):
            group.pop("TargetGroupName", None)
    return out


def want(*rules: dict[str, Any], defaults: list[dict] | None = None) -> Desired:
    return Desired(
        default_actions=canonical_actions(defaults or [fixed("404")]),
        rules=sorted(rules, key=lambda r: r["priority"]),
    )


def steps(plan: Plan) -> list[str]:
    return [op.summary() for op in plan.operations]


def kinds(plan: Plan) -> list[str]:
    return [op.op for op in plan.operations]


def on_model(*rules: dict[str, Any], room: int = 100) -> tuple[Elbv2Model, ListenerState]:
    """The same rules created in a fresh ELBv2 model, and its live state."""
    model = Elbv2Model(rules_per_load_balancer=room, target_groups=GROUPS)
    for r in rules:
        kwargs: dict[str, Any] = {
            "ListenerArn": model.listener_arn,
            "Priority": r["priority"],
            "Conditions": r["conditions"],
            "Actions": r.get("write_actions") or write_form(r["actions"]),
        }
        if r.get("tags"):
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in r["tags"].items()]
        if r.get("transforms"):
            kwargs["Transforms"] = r["transforms"]
        model.create_rule(**kwargs)
    return model, capture_state(model, model.listener_arn)


def restored(model: Elbv2Model, plan: Plan) -> list[dict[str, Any]]:
    apply_operations(model, plan.operations, SECRET_VALUES)
    return routing(capture_state(model, model.listener_arn))


# --- what is planned ----------------------------------------------------------------------------


def test_a_listener_that_matches_needs_nothing():
    rules = (rule(10, A), rule(20, B, [forward(GROUPS[0])]))
    plan = plan_restore(live(*rules), want(*rules))
    assert plan.empty and plan.changes == [] and plan.public()["changes"] == 0


def test_a_new_rule_is_created_before_the_old_one_is_deleted():
    plan = plan_restore(live(rule(10, A)), want(rule(20, B)))
    assert steps(plan) == [
        "create rule at priority 20: path-pattern=/b/* => fixed-response 200",
        "delete rule at priority 10: path-pattern=/a/*",
    ]


def test_another_rule_at_the_same_priority_is_changed_in_place():
    plan = plan_restore(live(rule(10, A)), want(rule(10, B, [forward(GROUPS[0])])))
    assert kinds(plan) == ["modify-rule"]
    op = plan.operations[0]
    assert isinstance(op, ModifyRule) and op.rule_arn == f"{LISTENER}/r10"
    assert op.conditions == B and op.actions == canonical_actions([forward(GROUPS[0])])
    assert [c.kind for c in plan.changes] == ["modify"]
    assert plan.changes[0].fields == ["conditions", "actions"]


def test_a_swap_is_one_set_rule_priorities_call():
    model, state = on_model(rule(1, A), rule(2, B))
    plan = plan_restore(state, want(rule(1, B), rule(2, A)))
    assert kinds(plan) == ["set-rule-priorities"]
    assert sorted((m.from_priority, m.to_priority) for m in plan.operations[0].moves) == [
        (1, 2),
        (2, 1),
    ]
    assert [c.kind for c in plan.changes] == ["move", "move"]
    assert restored(model, plan) == [rule(1, B), rule(2, A)]


def test_a_move_onto_a_rule_to_delete_deletes_that_rule_first():
    model, state = on_model(rule(1, A), rule(2, B))
    plan = plan_restore(state, want(rule(2, A)))
    assert steps(plan) == [
        "delete rule at priority 2: path-pattern=/b/*",
        "reorder 1 rule(s) in one call: 1->2",
    ]
    assert restored(model, plan) == [rule(2, A)]


def test_a_chain_of_moves_is_listed_so_that_it_also_works_one_move_at_a_time():
    plan = plan_restore(live(rule(1, A), rule(2, B)), want(rule(2, A), rule(3, B)))
    assert steps(plan) == ["reorder 2 rule(s) in one call: 2->3, 1->2"]
    model, state = on_model(rule(1, A), rule(2, B))
    model.atomic_priorities = False
    assert restored(model, plan_restore(state, want(rule(2, A), rule(3, B)))) == [
        rule(2, A),
        rule(3, B),
    ]


def test_a_create_waits_for_a_move_off_its_priority():
    plan = plan_restore(live(rule(1, A)), want(rule(1, B, [fixed("503")]), rule(2, A)))
    # B is a new rule at 1, where A sits; A moves to 2. A at 1 pairs with A at 2 (same
    # conditions), so B waits for the reorder.
    assert kinds(plan) == ["set-rule-priorities", "create-rule"]


def test_with_the_quota_full_one_delete_makes_room_then_the_rest_come_last():
    model, state = on_model(rule(10, A), rule(20, B), room=2)
    plan = plan_restore(state, want(rule(30, C)), max_listener_rules=2)
    assert steps(plan) == [
        "delete rule at priority 10: path-pattern=/a/*",
        "create rule at priority 30: host-header=c.example.com => fixed-response 200",
        "delete rule at priority 20: path-pattern=/b/*",
    ]
    assert restored(model, plan) == [rule(30, C)]


def test_a_target_over_the_quota_is_refused_with_what_to_do():
    with pytest.raises(RestoreRefused, match="quota leaves room for 2") as excinfo:
        plan_restore(
            live(rule(1, A)), want(rule(1, A), rule(2, B), rule(3, C)), max_listener_rules=2
        )
    assert "rules per Application Load Balancer" in str(excinfo.value)


def test_changed_default_actions_are_one_modify_listener_call_first():
    plan = plan_restore(
        live(rule(10, A)),
        want(rule(20, B), defaults=[forward(GROUPS[1])]),
    )
    assert kinds(plan) == ["modify-listener", "create-rule", "delete-rule"]
    op = plan.operations[0]
    assert isinstance(op, ModifyListener)
    assert request_for(op, {}) == (
        "modify_listener",
        {
            "ListenerArn": LISTENER,
            "DefaultActions": [
                {
                    "Type": "forward",
                    "Order": 1,
                    "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": GROUPS[1], "Weight": 1}]},
                }
            ],
        },
    )
    assert plan.changes[0].kind == "default-actions"


def test_a_tag_change_is_tag_calls_only():
    model, state = on_model(rule(10, A, tags={"team": "a", "old": "x"}))
    plan = plan_restore(state, want(rule(10, A, tags={"team": "b", "new": "y"})))
    assert [type(op) for op in plan.operations] == [AddTags, RemoveTags]
    assert plan.operations[0].tags == {"team": "b", "new": "y"}
    assert plan.operations[1].keys == ["old"]
    assert restored(model, plan)[0]["tags"] == {"new": "y", "team": "b"}


def test_removing_the_transforms_resets_them():
    rewrite = [
        {
            "Type": "url-rewrite",
            "UrlRewriteConfig": {"Rewrites": [{"Regex": "^/a", "Replace": "/"}]},
        }
    ]
    model, state = on_model(rule(10, A, transforms=rewrite))
    plan = plan_restore(state, want(rule(10, A)))
    assert steps(plan) == ["modify rule at priority 10: remove transforms"]
    assert request_for(plan.operations[0], {})[1] == {
        "RuleArn": state.rules[0].arn,
        "ResetTransforms": True,
    }
    assert restored(model, plan)[0]["transforms"] == []


def test_matching_pairs_same_conditions_first_then_the_same_priority():
    live_rules = [{**r, "arn": f"r{r['priority']}"} for r in (rule(1, A), rule(2, B), rule(3, C))]
    target = [rule(5, A), rule(2, C), rule(9, [path("/new")])]
    pairs, gone, new = match_rules(live_rules, target)
    # A and C keep their rules (moved); B at 2 is not paired with C's target at 2, because C
    # itself is there to move; the new rule at 9 has nothing to pair with.
    assert [(old["arn"], new_["priority"]) for old, new_ in pairs] == [("r3", 2), ("r1", 5)]
    assert [r["arn"] for r in gone] == ["r2"]
    assert [r["priority"] for r in new] == [9]


def test_a_leftover_live_rule_and_target_at_one_priority_pair_in_place():
    live_rules = [{**rule(4, A), "arn": "r4"}, {**rule(6, B), "arn": "r6"}]
    pairs, gone, new = match_rules(live_rules, [rule(4, C), rule(8, [path("/x")])])
    assert [(old["arn"], new_["conditions"]) for old, new_ in pairs] == [("r4", C)]
    assert [r["arn"] for r in gone] == ["r6"]
    assert [r["priority"] for r in new] == [8]


# --- OIDC client secrets ------------------------------------------------------------------------


def test_a_new_oidc_rule_without_its_secret_is_refused_with_the_option_to_pass():
    with pytest.raises(RestoreRefused) as excinfo:
        plan_restore(live(), want(rule(10, A, OIDC_ACTIONS)))
    message = str(excinfo.value)
    assert "uses OIDC client 'web'" in message
    assert "--oidc-secret web=SECRET_ARN" in message


def test_a_new_oidc_rule_gets_the_secret_from_secrets_manager():
    model, state = on_model()
    plan = plan_restore(state, want(rule(10, A, OIDC_ACTIONS)), oidc_secrets=OIDC_SECRETS)
    op = plan.operations[0]
    assert isinstance(op, CreateRule) and op.oidc == {"web": SECRET_ARN}
    config = request_for(op, SECRET_VALUES)[1]["Actions"][0]["AuthenticateOidcConfig"]
    assert config["ClientSecret"] == SECRET_VALUE and "UseExistingClientSecret" not in config
    restored(model, plan)
    assert model.rule_at(10).secrets == {"web": SECRET_VALUE}


def test_a_rule_that_already_has_the_client_keeps_its_secret():
    seeded = {**rule(10, A, OIDC_ACTIONS), "write_actions": OIDC_ACTIONS}
    model, state = on_model(seeded)
    changed = [oidc(), {**forward(GROUPS[1]), "Order": 2}]
    plan = plan_restore(state, want(rule(10, A, changed)))  # no secret given: none needed
    op = plan.operations[0]
    assert isinstance(op, ModifyRule) and op.oidc == {"web": "existing"}
    config = request_for(op, {})[1]["Actions"][0]["AuthenticateOidcConfig"]
    assert config["UseExistingClientSecret"] is True and "ClientSecret" not in config
    restored(model, plan)
    assert model.rule_at(10).secrets == {"web": "the-secret-already-on-the-load-balancer"}


def test_a_rollback_skips_what_needs_a_missing_secret_and_says_so():
    plan = plan_restore(
        live(rule(10, B)), want(rule(20, A, OIDC_ACTIONS), rule(30, C)), on_missing_secret="skip"
    )
    assert plan.unresolved == [
        "create priority 20 (path-pattern=/a/*): needs an OIDC client secret"
    ]
    assert [op.priority for op in plan.operations if isinstance(op, CreateRule)] == [30]


def test_deleting_oidc_rules_comes_last():
    oidc_rule = {**rule(5, C, OIDC_ACTIONS), "write_actions": OIDC_ACTIONS}
    plan = plan_restore(live(oidc_rule, rule(10, A), rule(20, B)), want())
    assert [(op.priority, op.oidc_clients) for op in plan.operations] == [
        (10, []),
        (20, []),
        (5, ["web"]),
    ]


# --- selective restore --------------------------------------------------------------------------


def test_a_selective_restore_leaves_the_other_rules_alone():
    model, state = on_model(rule(10, A), rule(20, B), rule(30, C, [fixed("503")]))
    target = want(rule(10, A, [fixed("503")]), rule(40, [path("/d")]), rule(30, C))
    plan = plan_restore(state, target, mode="selective", selector=Selector.parse([10], None))
    assert steps(plan) == ["modify rule at priority 10: actions fixed-response 503"]
    assert restored(model, plan) == [
        rule(10, A, [fixed("503")]),
        rule(20, B),
        rule(30, C, [fixed("503")]),
    ]
    assert plan.expected.rules == [
        rule(10, A, [fixed("503")]),
        rule(20, B),
        rule(30, C, [fixed("503")]),
    ]


@pytest.mark.parametrize(
    "snapshot_has_20", [True, False], ids=["snapshot-has-it", "snapshot-lacks-it"]
)
def test_a_selective_restore_leaves_an_unselected_rule_with_the_same_conditions(
    snapshot_has_20: bool,
) -> None:
    """README: a selective restore takes "the live rule with the same conditions as a selected
    snapshot rule"; only a selected live rule with no counterpart is deleted, and a restore
    that would replace an unselected rule is refused."""
    target = [rule(10, A, [fixed("503")])] + ([rule(20, A)] if snapshot_has_20 else [])
    model, state = on_model(rule(10, A), rule(20, A))
    try:
        plan = plan_restore(
            state, want(*target), mode="selective", selector=Selector.parse([10], None)
        )
    except RestoreRefused:
        return  # refusing is also what the README allows
    assert kinds(plan) == ["modify-rule"]
    assert restored(model, plan) == [rule(10, A, [fixed("503")]), rule(20, A)]


def test_a_selective_restore_onto_a_priority_held_by_an_unselected_rule_is_refused():
    with pytest.raises(
        RestoreRefused, match=r"held by the live rule at priority 20 .*--priority 20"
    ):
        plan_restore(
            live(rule(20, B)),
            want(rule(20, A)),
            mode="selective",
            selector=Selector.parse(None, ["path-pattern=/a/*"]),
        )


def test_a_selected_live_rule_that_is_an_unselected_snapshot_rule_is_refused():
    with pytest.raises(RestoreRefused, match="add --priority 30 so it is restored"):
        plan_restore(
            live(rule(10, A)),
            want(rule(30, A)),
            mode="selective",
            selector=Selector.parse([10], None),
        )


def test_a_selector_that_selects_nothing_is_invalid_input():
    with pytest.raises(InvalidInput, match="selects no rule"):
        plan_restore(
            live(rule(10, A)),
            want(rule(10, A)),
            mode="selective",
            selector=Selector.parse([99], None),
        )


@pytest.mark.parametrize(
    ("match", "conditions", "selected"),
    [
        ("host-header=C.EXAMPLE.com", C, True),
        ("path-pattern=/A/*", A, False),  # paths compare exactly
        ("http-header=X-Env:prod", [header("X-Env", "prod")], True),
        ("http-header=x-env", [header("X-Env", "prod")], True),
        ("http-header=X-Env:dev", [header("X-Env", "prod")], False),
        ("path-pattern=^/r$", [REGEX_R], True),
        ("query-string=v=2", [QUERY_V2], True),
    ],
)  # fmt: skip
def test_selectors_match_condition_values(match: str, conditions: list[dict], selected: bool):
    assert Selector.parse(None, [match]).selects(rule(7, conditions)) is selected


@pytest.mark.parametrize(
    ("mode", "priorities", "matches", "words"),
    [
        ("full", [3], None, "drop them for a full restore"),
        ("selective", None, None, "needs at least one --priority N"),
        ("partial", None, None, "--mode must be full or selective"),
        (None, None, ["cookie=a"], "is not FIELD=VALUE"),
        (None, [0], None, "--priority 0 is outside 1..50000"),
        (None, [50001], None, "--priority 50001 is outside 1..50000"),
    ],
)
def test_bad_selections_are_refused(mode, priorities, matches, words):
    with pytest.raises(InvalidInput, match=words):
        choose_selection(mode, priorities, matches)


def test_the_mode_defaults_to_selective_with_selectors():
    assert choose_selection(None, None, None) == ("full", Selector())
    mode, selector = choose_selection(None, [3], ["path-pattern=/a"])
    assert mode == "selective"
    assert selector.describe() == "--priority 3 --match path-pattern=/a"


# --- the plan as a document -----------------------------------------------------------------------


def test_the_public_form_numbers_the_steps_and_holds_no_secret():
    plan = plan_restore(
        live(rule(10, B)),
        want(rule(20, A, OIDC_ACTIONS), defaults=[fixed("503")]),
        oidc_secrets=OIDC_SECRETS,
    )
    public = plan.public()
    assert public["changes"] == len(plan.operations) == 3
    assert [s["step"] for s in public["operations"]] == [1, 2, 3]
    assert [s["op"] for s in public["operations"]] == [
        "modify-listener",
        "create-rule",
        "delete-rule",
    ]
    assert [r["kind"] for r in public["rules"]] == ["default-actions", "delete", "create"]
    text = json.dumps(public)
    assert SECRET_VALUE not in text and "the-secret-already" not in text


def test_a_plan_reads_back_from_json():
    plan = plan_restore(
        live(rule(1, A), rule(2, B, tags={"t": "1"})),
        want(rule(2, A), rule(3, C), rule(1, B, [fixed("503")])),
    )
    assert {type(op) for op in plan.operations} >= {SetRulePriorities, CreateRule, RemoveTags}
    assert Plan.model_validate_json(plan.model_dump_json()) == plan


def test_a_delete_names_the_rule_it_removes():
    plan = plan_restore(live(rule(10, A)), want())
    op = plan.operations[0]
    assert isinstance(op, DeleteRule)
    assert op.conditions == A and op.rule_arn == f"{LISTENER}/r10"
