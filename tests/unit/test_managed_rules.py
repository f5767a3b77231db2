"""Rules someone else owns (albrules.managed): who owns a rule by its tags, the warning a plan
gives for each owner whose rules it changes, and ``skip_managed``, which never touches one.

The property runs on the in-memory ELBv2 model: random live listeners A (some of whose rules
carry a controller's or a stack's tags) and targets B. With ``skip_managed`` no call of the
plan names a managed rule, applying it meets no API error, the managed rules end exactly as
they were (same ARN, same content) and every other rule ends as B has it.
"""

from __future__ import annotations

from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

from albrules.errors import RestoreRefused
from albrules.managed import Owner, owner_of, plan_owned, warnings_for
from albrules.models import ListenerSettings
from albrules.plan import INPUT_NAMES, Desired, plan_restore
from albrules.restore import differences

from .elbv2_model import Elbv2Model, capture_state, default_actions, routing
from .profiles import PROFILE
from .strategies import DEFAULT_POOL, OIDC_SECRETS, Case, cases
from .test_planner_properties import apply, touched

CONTROLLER = {
    "elbv2.k8s.aws/cluster": "prod",
    "ingress.k8s.aws/stack": "shop/web",
    "ingress.k8s.aws/resource": "shop/web-web:80",
}
STACK = {
    "aws:cloudformation:stack-name": "shop-web",
    "aws:cloudformation:logical-id": "ApiRule",
    "aws:cloudformation:stack-id": "arn:aws:cloudformation:eu-west-1:123456789012:stack/shop-web/1",
}


def test_the_owner_is_named_by_its_tags() -> None:
    assert owner_of(CONTROLLER) == Owner("aws-load-balancer-controller", "prod", "shop/web")
    assert owner_of({"ingress.k8s.aws/stack": "shop/web"}) == Owner(
        "aws-load-balancer-controller", "(unnamed)", "shop/web"
    )
    assert owner_of(STACK) == Owner("cloudformation", "shop-web")
    assert owner_of({"aws:cloudformation:stack-id": STACK["aws:cloudformation:stack-id"]}) == (
        Owner("cloudformation", "shop-web")
    )
    assert owner_of({"AWS:CloudFormation:Stack-Name": "x"}) == Owner("cloudformation", "x")
    assert owner_of({"team": "payments", "env": "prod"}) is None
    assert owner_of({}) is None


def _tagged(model: Elbv2Model, priority: int, tags: dict[str, str]) -> str:
    """Tag the rule at ``priority`` as its owner would (CloudFormation's aws: tags cannot be set
    through the API: the owner sets them)."""
    rule = model.rule_at(priority)
    assert rule is not None
    model.tags[rule.arn].update(tags)
    return rule.arn


def _two_rule_listener() -> tuple[Elbv2Model, Desired]:
    model = Elbv2Model(DEFAULT_POOL[0])
    for priority, path in ((10, "/api/*"), (20, "/shop/*"), (30, "/free/*")):
        model.create_rule(
            ListenerArn=model.listener_arn,
            Priority=priority,
            Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": [path]}}],
            Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
        )
    _tagged(model, 10, CONTROLLER)
    _tagged(model, 20, STACK)
    live = capture_state(model, model.listener_arn)
    wanted = []
    for rule in routing(live):  # the snapshot: every rule answers 503 instead
        rule["actions"] = [
            {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}, "Order": 1}
        ]
        wanted.append(rule)
    return model, Desired(default_actions=default_actions(live), rules=wanted)


def test_a_plan_warns_once_per_owner_naming_it_and_still_changes_the_rules() -> None:
    model, desired = _two_rule_listener()
    live = capture_state(model, model.listener_arn)
    plan = plan_owned(live, desired)
    assert len(plan.operations) == 3  # the managed rules are changed too
    assert len(plan.warnings) == 2
    controller, stack = sorted(plan.warnings, key=lambda w: "CloudFormation" in w)
    assert "priority 10" in controller and "priority 20" not in controller
    assert "AWS Load Balancer Controller (cluster prod, ingress stack shop/web)" in controller
    assert "revert the change at its next reconcile" in controller
    assert "unless it is fixed at the source" in controller
    assert "priority 20" in stack and "CloudFormation stack shop-web" in stack
    assert "revert the change at its next reconcile" in stack and "template" in stack
    assert all("--skip-managed" in w for w in plan.warnings)
    # The machine's input spells the option as its field.
    machine = plan_owned(live, desired, names=INPUT_NAMES)
    assert all("skip_managed leaves" in w for w in machine.warnings)


def test_no_warning_when_the_plan_leaves_managed_rules_alone() -> None:
    model, desired = _two_rule_listener()
    live = capture_state(model, model.listener_arn)
    same = [r if r["priority"] != 30 else desired.rules[2] for r in routing(live)]
    plan = plan_owned(live, desired.model_copy(update={"rules": same}))
    assert len(plan.operations) == 1 and plan.warnings == []


def test_skip_managed_leaves_them_out_and_says_so() -> None:
    model, desired = _two_rule_listener()
    live = capture_state(model, model.listener_arn)
    managed = {r.arn: r for r in live.rules if r.priority in (10, 20)}
    plan = plan_owned(live, desired, skip_managed=True)
    assert not touched(plan) & managed.keys()
    assert [op.summary().split(":")[0] for op in plan.operations] == ["modify rule at priority 30"]
    assert len(plan.warnings) == 2 and all(w.startswith("left out: ") for w in plan.warnings)
    assert "managed by CloudFormation stack shop-web" in " ".join(plan.warnings)
    apply(model, plan.operations)
    after = capture_state(model, model.listener_arn)
    assert differences(plan.expected, after) == []
    for rule in after.rules:
        if rule.arn in managed:
            assert rule == managed[rule.arn]


def test_a_managed_listener_keeps_its_default_actions_with_skip_managed() -> None:
    model, desired = _two_rule_listener()
    live = capture_state(model, model.listener_arn)
    live = live.model_copy(
        update={"listener": ListenerSettings(protocol="HTTP", port=80, tags=dict(CONTROLLER))}
    )
    wanted = desired.model_copy(update={"default_actions": [dict(DEFAULT_POOL[1][0], Order=1)]})
    warned = plan_owned(live, wanted)
    assert any(w.startswith("the default actions") for w in warned.warnings)
    skipped = plan_owned(live, wanted, skip_managed=True)
    assert not any(op.op == "modify-listener" for op in skipped.operations)
    assert any("the default actions" in w for w in skipped.warnings)
    assert skipped.expected.default_actions == default_actions(live)


def test_a_plan_without_owners_is_the_plain_plan() -> None:
    model = Elbv2Model(DEFAULT_POOL[0])
    live = capture_state(model, model.listener_arn)
    desired = Desired(default_actions=default_actions(live), rules=[])
    assert warnings_for(plan_restore(live, desired), live) == []
    assert plan_owned(live, desired, skip_managed=True) == plan_restore(live, desired)


@st.composite
def managed_cases(draw: st.DrawFn) -> tuple[Case, dict[int, dict[str, str]]]:
    case = draw(cases())
    owners = {}
    for spec in case.a:
        if draw(st.integers(0, 2)) == 0:
            owners[spec.priority] = draw(st.sampled_from([CONTROLLER, STACK]))
    return case, owners


@PROFILE
@given(drawn=managed_cases())
def test_with_skip_managed_a_plan_never_touches_a_managed_rule(
    drawn: tuple[Case, dict[int, dict[str, str]]],
) -> None:
    case, owners = drawn
    model = case.model()
    managed = {_tagged(model, priority, tags) for priority, tags in owners.items()}
    live = case.live(model)
    before = {r.arn: r for r in live.rules if r.arn in managed}
    try:
        plan = plan_owned(
            live,
            case.desired(),
            skip_managed=True,
            oidc_secrets=OIDC_SECRETS,
            max_listener_rules=case.room,
        )
    except RestoreRefused as refused:
        assert "quota" in str(refused)
        event("refused: over the quota")
        return
    assert not touched(plan) & managed
    apply(model, plan.operations)
    after = capture_state(model, model.listener_arn)
    assert differences(plan.expected, after) == []
    assert {r.arn: r for r in after.rules if r.arn in managed} == before
    # Every rule of B is restored but those at a managed rule's priority and the snapshot's
    # counterparts of managed rules (at most one each).
    held = {r.priority for r in before.values()}
    final: dict[int, Any] = {r["priority"]: r for r in routing(after)}
    missing = [r for r in case.desired().rules if final.get(r["priority"]) != r]
    assert len([r for r in missing if r["priority"] not in held]) <= len(managed)
    event(f"managed rules: {min(len(managed), 3)}")


def test_the_machine_takes_skip_managed_and_its_messages_carry_the_warnings() -> None:
    from albrules.notifications import plan_lines
    from albrules.state_documents import RestoreRequest
    from albrules.tasks.restore import plan_summary

    request = RestoreRequest.model_validate({"snapshot": "a/b.json", "skip_managed": True})
    assert request.skip_managed
    model, desired = _two_rule_listener()
    plan = plan_owned(capture_state(model, model.listener_arn), desired, names=INPUT_NAMES)
    summary = plan_summary(plan)
    assert summary.warnings == plan.warnings
    lines = plan_lines(summary, "s3://bucket/plan.json")
    assert sum(line.startswith("  warning: ") for line in lines) == 2
