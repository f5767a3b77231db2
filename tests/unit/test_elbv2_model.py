"""The in-memory ELBv2 model does what the API documents: each documented rule of the
listener-rule API is checked here, so the planner's properties rest on a faithful model."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from albrules.canonical import canonical_rule
from rule_builders import fixed, forward, header, host, path, redirect

from .elbv2_model import (
    MUTATING,
    SERVICE,
    Elbv2Model,
    capture_state,
    declared_errors,
    error_code,
    routing,
)
from .strategies import GROUPS, TG_PREFIX, oidc

SIX_GROUPS = [f"{TG_PREFIX}/g{i}/{i:016x}" for i in range(6)]
TERMINAL_FIRST = [{**fixed(), "Order": 1}, {**oidc(), "Order": 2}]
TWO_TARGETS = {"Type": "forward", "TargetGroupArn": GROUPS[0], **forward(GROUPS[1])}


def create(model: Elbv2Model, priority: int, conditions: list[dict] | None = None, **extra: Any):
    kwargs: dict[str, Any] = {
        "ListenerArn": model.listener_arn,
        "Priority": priority,
        "Conditions": conditions or [path(f"/p{priority}")],
        "Actions": [fixed()],
        **extra,
    }
    return model.create_rule(**kwargs)["Rules"][0]["RuleArn"]


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return error_code(excinfo.value)


@pytest.fixture
def model() -> Elbv2Model:
    return Elbv2Model(target_groups=GROUPS)


# --- DescribeRules ------------------------------------------------------------------------------


def test_describe_rules_gives_string_priorities_and_the_default_rule_last(model):
    create(model, 20)
    create(model, 5)
    rules = model.describe_rules(ListenerArn=model.listener_arn)["Rules"]
    assert [r["Priority"] for r in rules] == ["5", "20", "default"]
    assert [r["IsDefault"] for r in rules] == [False, False, True]
    assert all("ListenerArn" not in r for r in rules)
    assert rules[-1]["Actions"] == [
        {"Type": "fixed-response", "Order": 1, "FixedResponseConfig": {"StatusCode": "404"}}
    ]


def test_describe_rules_pages_with_marker_and_page_size(model):
    for priority in range(1, 8):
        create(model, priority)
    seen, marker, pages = [], None, 0
    while True:
        kwargs: dict[str, Any] = {"ListenerArn": model.listener_arn, "PageSize": 3}
        if marker:
            kwargs["Marker"] = marker
        page = model.describe_rules(**kwargs)
        pages += 1
        assert len(page["Rules"]) <= 3
        seen += [r["Priority"] for r in page["Rules"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert pages == 3
    assert seen == [str(p) for p in range(1, 8)] + ["default"]


@pytest.mark.parametrize("size", [0, 401])
def test_page_size_is_1_to_400(model, size):
    error = ParamValidationError if size < 1 else ClientError
    with pytest.raises(error):
        model.describe_rules(ListenerArn=model.listener_arn, PageSize=size)


def test_describe_rules_of_another_listener_is_listener_not_found(model):
    with pytest.raises(ClientError) as excinfo:
        model.describe_rules(ListenerArn=model.listener_arn[:-1] + "0")
    assert code_of(excinfo) == "ListenerNotFound"


def test_reads_return_the_legacy_values_and_the_filled_in_defaults(model):
    create(
        model,
        1,
        [path("/a", "/b"), host("x.example.com"), header("X-A", "1")],
        Actions=[redirect(Host="y.example.com")],
    )
    create(model, 2, Actions=[forward(GROUPS[0])])
    first, second, _ = model.describe_rules(ListenerArn=model.listener_arn)["Rules"]
    by_field = {c["Field"]: c for c in first["Conditions"]}
    assert by_field["path-pattern"]["Values"] == ["/a", "/b"]
    assert by_field["path-pattern"]["PathPatternConfig"] == {"Values": ["/a", "/b"]}
    assert by_field["host-header"]["Values"] == ["x.example.com"]
    assert "Values" not in by_field["http-header"]
    assert first["Actions"][0]["RedirectConfig"] == {
        "StatusCode": "HTTP_301",
        "Host": "y.example.com",
        "Protocol": "#{protocol}",
        "Port": "#{port}",
        "Path": "/#{path}",
        "Query": "#{query}",
    }
    assert second["Actions"][0]["ForwardConfig"] == {
        "TargetGroups": [{"TargetGroupArn": GROUPS[0], "Weight": 1}],
        "TargetGroupStickinessConfig": {"Enabled": False},
    }


def test_responses_use_only_the_service_models_members(model):
    create(model, 1, Actions=[oidc(), {**forward(GROUPS[0]), "Order": 2}])
    rules = model.describe_rules(ListenerArn=model.listener_arn)
    output = SERVICE.operation_model("DescribeRules").output_shape
    assert_fits(rules, output)
    assert_fits(
        model.describe_tags(ResourceArns=[r["RuleArn"] for r in rules["Rules"]]),
        SERVICE.operation_model("DescribeTags").output_shape,
    )
    assert_fits(
        model.describe_listeners(ListenerArns=[model.listener_arn]),
        SERVICE.operation_model("DescribeListeners").output_shape,
    )


def assert_fits(value: Any, shape: Any, where: str = "") -> None:
    if shape.type_name == "structure":
        assert isinstance(value, dict), where
        for key, item in value.items():
            if key == "ResponseMetadata" and not where:
                continue
            assert key in shape.members, f"{where}.{key} is not in {shape.name}"
            assert_fits(item, shape.members[key], f"{where}.{key}")
    elif shape.type_name == "list":
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            assert_fits(item, shape.member, f"{where}[{i}]")
    elif shape.type_name == "map":
        assert isinstance(value, dict), where
    elif shape.type_name == "string":
        assert isinstance(value, str), where
    elif shape.type_name == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif shape.type_name == "boolean":
        assert isinstance(value, bool), where


def test_an_oidc_secret_is_never_returned(model):
    create(model, 1, Actions=[oidc(), {**forward(GROUPS[0]), "Order": 2}])
    text = repr(model.describe_rules(ListenerArn=model.listener_arn))
    assert "ClientSecret" not in text and "the-secret-already" not in text
    assert model.listener_rules()[0].secrets == {"web": "the-secret-already-on-the-load-balancer"}


# --- CreateRule ---------------------------------------------------------------------------------


@pytest.mark.parametrize("priority", [1, 50000])
def test_priorities_at_both_ends_of_the_range_are_accepted(model, priority):
    create(model, priority)
    assert model.rule_at(priority) is not None


def test_priority_outside_the_range_is_refused(model):
    with pytest.raises(ParamValidationError):
        create(model, 0)
    with pytest.raises(ClientError) as excinfo:
        create(model, 50001)
    assert code_of(excinfo) == "ValidationError"
    assert model.listener_rules() == []


def test_a_held_priority_is_priority_in_use(model):
    create(model, 10)
    with pytest.raises(ClientError) as excinfo:
        create(model, 10, [path("/other")])
    assert code_of(excinfo) == "PriorityInUse"
    assert len(model.listener_rules()) == 1


def test_the_quota_counts_every_listener_of_the_load_balancer():
    model = Elbv2Model(rules_per_load_balancer=3, other_rules=1)
    create(model, 1)
    create(model, 2)
    with pytest.raises(ClientError) as excinfo:
        create(model, 3)
    assert code_of(excinfo) == "TooManyRules"
    model.delete_rule(RuleArn=model.rule_at(1).arn)
    create(model, 3)
    assert [r.priority for r in model.listener_rules()] == [2, 3]


def test_a_target_group_name_in_a_write_is_refused_before_sending(model):
    action = forward(GROUPS[0])
    action["ForwardConfig"]["TargetGroups"][0]["TargetGroupName"] = "tg0"
    with pytest.raises(ParamValidationError, match="TargetGroupName"):
        create(model, 1, Actions=[action])
    assert model.calls == []  # never sent


def test_legacy_values_with_the_config_form_are_refused(model):
    condition = {**path("/a"), "Values": ["/a"]}
    with pytest.raises(ClientError) as excinfo:
        create(model, 1, [condition])
    assert code_of(excinfo) == "ValidationError"
    create(model, 1, [{"Field": "path-pattern", "Values": ["/a"]}])
    assert model.listener_rules()[0].conditions == [path("/a")]


@pytest.mark.parametrize(
    ("conditions", "actions", "code"),
    [
        ([path("/a"), path("/b")], [fixed()], "ValidationError"),
        ([path("/a", "/b", "/c", "/d", "/e", "/f")], [fixed()], "ValidationError"),
        ([path("x" * 129)], [fixed()], "ValidationError"),
        ([header("X" * 41, "v")], [fixed()], "ValidationError"),
        ([{"Field": "http-request-method", "Values": ["GET"]}], [fixed()], "ValidationError"),
        ([path("/a")], [fixed(), {**fixed(), "Order": 2}], "InvalidLoadBalancerAction"),
        ([path("/a")], TERMINAL_FIRST, "InvalidLoadBalancerAction"),
        ([path("/a")], [fixed(), oidc()], "InvalidLoadBalancerAction"),
        ([path("/a")], [forward(*SIX_GROUPS)], "ValidationError"),
        ([path("/a")], [forward((GROUPS[0], 1000))], "ValidationError"),
        ([path("/a")], [forward(GROUPS[0] + "-gone")], "TargetGroupNotFound"),
        ([path("/a")], [TWO_TARGETS], "InvalidLoadBalancerAction"),
        ([path("/a")], [fixed("302")], "ValidationError"),
    ],
)  # fmt: skip
def test_invalid_rules_are_refused_with_the_documented_code(model, conditions, actions, code):
    with pytest.raises(ClientError) as excinfo:
        create(model, 1, conditions, Actions=actions)
    assert code_of(excinfo) == code
    assert code == "ValidationError" or code in declared_errors("CreateRule")
    assert model.listener_rules() == []


def test_create_needs_the_oidc_client_secret(model):
    action = oidc()
    del action["AuthenticateOidcConfig"]["ClientSecret"]
    with pytest.raises(ClientError):
        create(model, 1, Actions=[action, {**fixed(), "Order": 2}])
    action["AuthenticateOidcConfig"]["UseExistingClientSecret"] = True
    with pytest.raises(ClientError):
        create(model, 1, Actions=[action, {**fixed(), "Order": 2}])
    assert model.listener_rules() == []


# --- ModifyRule ---------------------------------------------------------------------------------


def test_modify_rule_cannot_change_the_priority(model):
    arn = create(model, 1)
    with pytest.raises(ParamValidationError, match="Priority"):
        model.modify_rule(RuleArn=arn, Priority=2)


def test_modify_rule_replaces_each_list_whole(model):
    transforms = [
        {"Type": "url-rewrite", "UrlRewriteConfig": {"Rewrites": [{"Regex": "a", "Replace": "b"}]}}
    ]
    arn = create(model, 1, [path("/a"), host("a.example.com")], Transforms=transforms)
    model.modify_rule(RuleArn=arn, Conditions=[path("/b")])
    rule = model.rules[arn]
    assert rule.conditions == [path("/b")]
    assert rule.transforms == transforms  # not given: kept
    model.modify_rule(RuleArn=arn, ResetTransforms=True)
    assert model.rules[arn].transforms == []
    with pytest.raises(ClientError) as excinfo:
        model.modify_rule(RuleArn=arn, Transforms=transforms, ResetTransforms=True)
    assert code_of(excinfo) == "ValidationError"


def test_modify_rule_may_keep_the_existing_oidc_secret_of_its_own_client(model):
    arn = create(model, 1, Actions=[oidc(), {**fixed(), "Order": 2}])
    keep = oidc()
    del keep["AuthenticateOidcConfig"]["ClientSecret"]
    keep["AuthenticateOidcConfig"]["UseExistingClientSecret"] = True
    model.modify_rule(RuleArn=arn, Actions=[keep, {**forward(GROUPS[0]), "Order": 2}])
    assert model.rules[arn].secrets == {"web": "the-secret-already-on-the-load-balancer"}
    other = create(model, 2)
    with pytest.raises(ClientError):  # rule 2 has no secret for client "web" to keep
        model.modify_rule(RuleArn=other, Actions=[keep, {**fixed(), "Order": 2}])


def test_modify_and_delete_of_the_default_rule_are_not_permitted(model):
    default = model.default_rule.arn
    for call in (
        lambda: model.modify_rule(RuleArn=default, Actions=[fixed()]),
        lambda: model.delete_rule(RuleArn=default),
        lambda: model.set_rule_priorities(RulePriorities=[{"RuleArn": default, "Priority": 3}]),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert code_of(excinfo) == "OperationNotPermitted"
    model.modify_listener(ListenerArn=model.listener_arn, DefaultActions=[fixed("503")])
    assert model.default_rule.actions == [fixed("503")]


def test_a_missing_rule_is_rule_not_found(model):
    arn = create(model, 1)
    model.delete_rule(RuleArn=arn)
    for call in (
        lambda: model.delete_rule(RuleArn=arn),
        lambda: model.modify_rule(RuleArn=arn, Actions=[fixed()]),
        lambda: model.add_tags(ResourceArns=[arn], Tags=[{"Key": "a", "Value": "b"}]),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert code_of(excinfo) == "RuleNotFound"


# --- SetRulePriorities --------------------------------------------------------------------------


def test_a_swap_inside_one_call_is_allowed(model):
    a, b = create(model, 1), create(model, 2)
    model.set_rule_priorities(
        RulePriorities=[{"RuleArn": a, "Priority": 2}, {"RuleArn": b, "Priority": 1}]
    )
    assert (model.rules[a].priority, model.rules[b].priority) == (2, 1)


def test_a_priority_held_by_a_rule_not_moved_is_priority_in_use(model):
    a, _ = create(model, 1), create(model, 2)
    with pytest.raises(ClientError) as excinfo:
        model.set_rule_priorities(RulePriorities=[{"RuleArn": a, "Priority": 2}])
    assert code_of(excinfo) == "PriorityInUse"
    assert model.rules[a].priority == 1  # nothing changed


def test_two_rules_to_one_priority_is_priority_in_use(model):
    a, b = create(model, 1), create(model, 2)
    with pytest.raises(ClientError) as excinfo:
        model.set_rule_priorities(
            RulePriorities=[{"RuleArn": a, "Priority": 5}, {"RuleArn": b, "Priority": 5}]
        )
    assert code_of(excinfo) == "PriorityInUse"


def test_sequential_reading_refuses_a_swap_but_takes_a_well_ordered_chain():
    model = Elbv2Model(atomic_priorities=False)
    a, b = create(model, 1), create(model, 2)
    with pytest.raises(ClientError) as excinfo:
        model.set_rule_priorities(
            RulePriorities=[{"RuleArn": a, "Priority": 2}, {"RuleArn": b, "Priority": 1}]
        )
    assert code_of(excinfo) == "PriorityInUse"
    with pytest.raises(ClientError):  # 1->2 first: 2 still held
        model.set_rule_priorities(
            RulePriorities=[{"RuleArn": a, "Priority": 2}, {"RuleArn": b, "Priority": 3}]
        )
    model.set_rule_priorities(
        RulePriorities=[{"RuleArn": b, "Priority": 3}, {"RuleArn": a, "Priority": 2}]
    )
    assert (model.rules[a].priority, model.rules[b].priority) == (2, 3)


# --- tags ---------------------------------------------------------------------------------------


def test_tags_take_at_most_20_arns_a_call(model):
    arns = [create(model, p) for p in range(1, 22)]
    with pytest.raises(ClientError) as excinfo:
        model.describe_tags(ResourceArns=arns)
    assert code_of(excinfo) == "ValidationError"
    with pytest.raises(ClientError):
        model.add_tags(ResourceArns=arns, Tags=[{"Key": "a", "Value": "b"}])
    model.add_tags(ResourceArns=arns[:20], Tags=[{"Key": "a", "Value": "b"}])
    described = model.describe_tags(ResourceArns=arns[:20])["TagDescriptions"]
    assert [d["Tags"] for d in described] == [[{"Key": "a", "Value": "b"}]] * 20


def test_add_and_remove_tags(model):
    arn = create(model, 1, Tags=[{"Key": "team", "Value": "a"}])
    model.add_tags(ResourceArns=[arn], Tags=[{"Key": "env", "Value": "prod"}])
    model.remove_tags(ResourceArns=[arn], TagKeys=["team"])
    assert model.tags[arn] == {"env": "prod"}
    with pytest.raises(ClientError) as excinfo:
        model.add_tags(
            ResourceArns=[arn], Tags=[{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]
        )
    assert code_of(excinfo) == "DuplicateTagKeys"
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    with pytest.raises(ClientError) as excinfo:
        model.add_tags(ResourceArns=[arn], Tags=many)
    assert code_of(excinfo) == "TooManyTags"
    assert model.tags[arn] == {"env": "prod"}


# --- the model as a whole -----------------------------------------------------------------------


def test_only_declared_error_codes_are_raised():
    assert declared_errors("SetRulePriorities") == {
        "RuleNotFound",
        "PriorityInUse",
        "OperationNotPermitted",
    }
    model = Elbv2Model()
    model._operation = "DeleteRule"
    with pytest.raises(AssertionError, match="never returns"):
        model._error("PriorityInUse", "x")


def test_every_mutating_call_is_recorded_and_observed(model):
    seen: list[str] = []
    model.observers.append(lambda _m, method, _kw: seen.append(method))
    arn = create(model, 1)
    model.add_tags(ResourceArns=[arn], Tags=[{"Key": "a", "Value": "b"}])
    model.describe_rules(ListenerArn=model.listener_arn)
    with pytest.raises(ClientError):
        create(model, 1)
    model.delete_rule(RuleArn=arn)
    assert seen == ["create_rule", "add_tags", "delete_rule"]
    assert [c.method for c in model.calls] == [
        "create_rule",
        "add_tags",
        "describe_rules",
        "create_rule",
        "delete_rule",
    ]
    assert set(seen) <= set(MUTATING)


def test_capture_state_reads_through_the_api_and_pages(model):
    for priority in range(1, 46):
        create(model, priority, Tags=[{"Key": "n", "Value": str(priority)}])
    model.calls.clear()
    state = capture_state(model, model.listener_arn, page_size=10)
    assert [c.method for c in model.calls] == (
        ["describe_listeners"]
        + ["describe_rules"] * 5
        + ["describe_tags"] * 3
        + ["describe_listener_attributes"]
    )
    assert [r.priority for r in state.rules] == list(range(1, 46))
    assert state.rules[44].tags == {"n": "45"}
    assert state.default_rule_arn == model.default_rule.arn
    assert routing(state)[0] == canonical_rule(
        {"priority": 1, "conditions": [path("/p1")], "actions": [fixed()], "tags": {"n": "1"}}
    )
