"""The local AWS behaves as AWS documents ELBv2 where moto 5.2.5 does not (see README)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from albrules.local import elbv2 as fidelity
from albrules.local import faults
from rule_builders import fixed, forward, host, path

REWRITE = [
    {
        "Type": "url-rewrite",
        "UrlRewriteConfig": {"Rewrites": [{"Regex": "^/a(.*)$", "Replace": "/b$1"}]},
    }
]
HOST_REWRITE = [
    {
        "Type": "host-header-rewrite",
        "HostHeaderRewriteConfig": {"Rewrites": [{"Regex": "^x", "Replace": "y"}]},
    }
]


def code(err: pytest.ExceptionInfo) -> str:
    return err.value.response["Error"]["Code"]


@pytest.fixture
def listener(world):
    lb = world.load_balancer()
    return world.listener(lb)


def test_transforms_are_stored_returned_replaced_and_reset(world, listener):
    arn = world.rule(listener, 10, [path("/a*")], transforms=REWRITE)
    assert world.rules(listener)[0]["Transforms"] == REWRITE
    world.elb.modify_rule(RuleArn=arn, Transforms=HOST_REWRITE)
    assert world.rules(listener)[0]["Transforms"] == HOST_REWRITE
    world.elb.modify_rule(RuleArn=arn, ResetTransforms=True)
    assert world.rules(listener)[0].get("Transforms", []) == []


def test_two_transforms_of_one_type_are_refused(world, listener):
    with pytest.raises(ClientError) as err:
        world.rule(listener, 10, [path("/a")], transforms=REWRITE + REWRITE)
    assert code(err) == "ValidationError"
    assert world.rules(listener) == []


def test_transforms_and_reset_together_are_refused(world, listener):
    arn = world.rule(listener, 10, [path("/a")])
    with pytest.raises(ClientError) as err:
        world.elb.modify_rule(RuleArn=arn, Transforms=REWRITE, ResetTransforms=True)
    assert code(err) == "ValidationError"


def test_regex_values_are_accepted_and_returned(world, listener):
    regex = {"Field": "host-header", "HostHeaderConfig": {"RegexValues": ["^api\\..*$"]}}
    header = {
        "Field": "http-header",
        "HttpHeaderConfig": {"HttpHeaderName": "X-Env", "RegexValues": ["^pr.*"]},
    }
    world.rule(listener, 10, [regex, header])
    conditions = world.rules(listener)[0]["Conditions"]
    assert conditions[0]["HostHeaderConfig"]["RegexValues"] == ["^api\\..*$"]
    assert conditions[1]["HttpHeaderConfig"]["RegexValues"] == ["^pr.*"]


def test_set_rule_priorities_allows_a_swap_and_a_rules_own_priority(world, listener):
    a = world.rule(listener, 1, [path("/a")])
    b = world.rule(listener, 2, [path("/b")])
    world.elb.set_rule_priorities(
        RulePriorities=[{"RuleArn": a, "Priority": 2}, {"RuleArn": b, "Priority": 1}]
    )
    by_arn = {r["RuleArn"]: r["Priority"] for r in world.rules(listener)}
    assert by_arn == {a: "2", b: "1"}
    world.elb.set_rule_priorities(RulePriorities=[{"RuleArn": a, "Priority": 2}])
    assert {r["RuleArn"]: r["Priority"] for r in world.rules(listener)} == by_arn


def test_set_rule_priorities_conflict_is_refused_and_changes_nothing(world, listener):
    a = world.rule(listener, 1, [path("/a")])
    b = world.rule(listener, 2, [path("/b")])
    world.rule(listener, 3, [path("/c")])
    with pytest.raises(ClientError) as err:
        world.elb.set_rule_priorities(
            RulePriorities=[{"RuleArn": a, "Priority": 5}, {"RuleArn": b, "Priority": 3}]
        )
    assert code(err) == "PriorityInUse"
    assert [r["Priority"] for r in world.rules(listener)] == ["1", "2", "3"]


def test_priority_outside_range_is_refused(world, listener):
    with pytest.raises(ClientError) as err:
        world.rule(listener, 50001, [path("/a")])
    assert code(err) == "ValidationError"
    arn = world.rule(listener, 50000, [path("/a")])
    with pytest.raises(ClientError):
        world.elb.set_rule_priorities(RulePriorities=[{"RuleArn": arn, "Priority": 60000}])


def test_rules_quota_counts_every_listener_of_the_load_balancer(world):
    fidelity.CONFIG["rules_per_load_balancer"] = 3
    lb = world.load_balancer()
    first, second = world.listener(lb, 80), world.listener(lb, 8080)
    world.rule(first, 1, [path("/a")])
    world.rule(first, 2, [path("/b")])
    world.rule(second, 1, [path("/c")])
    with pytest.raises(ClientError) as err:
        world.rule(second, 2, [path("/d")])
    assert code(err) == "TooManyRules"
    limits = {i["Name"]: i["Max"] for i in world.elb.describe_account_limits()["Limits"]}
    assert limits["rules-per-application-load-balancer"] == "3"
    assert limits["condition-values-per-alb-rule"] == "5"


def test_default_rule_cannot_be_deleted_and_missing_rule_is_not_found(world, listener):
    default = world.elb.describe_rules(ListenerArn=listener)["Rules"][-1]
    assert default["IsDefault"]
    with pytest.raises(ClientError) as err:
        world.elb.delete_rule(RuleArn=default["RuleArn"])
    assert code(err) == "OperationNotPermitted"
    arn = world.rule(listener, 1, [path("/a")])
    world.elb.delete_rule(RuleArn=arn)
    with pytest.raises(ClientError) as err:
        world.elb.delete_rule(RuleArn=arn)
    assert code(err) == "RuleNotFound"


def test_describe_rules_is_in_priority_order_with_the_default_last(world, listener):
    for priority in (30, 5, 200, 17):
        world.rule(listener, priority, [path(f"/p{priority}")])
    priorities = [r["Priority"] for r in world.elb.describe_rules(ListenerArn=listener)["Rules"]]
    assert priorities == ["5", "17", "30", "200", "default"]


def test_host_and_path_conditions_come_back_in_both_forms(world, listener):
    world.rule(listener, 1, [host("a.example.com"), path("/x")])
    conditions = world.rules(listener)[0]["Conditions"]
    assert conditions[0]["Values"] == ["a.example.com"]
    assert conditions[0]["HostHeaderConfig"]["Values"] == ["a.example.com"]
    assert conditions[1]["Values"] == ["/x"]


def _oidc(secret: str | None = None, existing: bool = False) -> dict:
    config = {
        "Issuer": "https://idp.example.com",
        "AuthorizationEndpoint": "https://idp.example.com/auth",
        "TokenEndpoint": "https://idp.example.com/token",
        "UserInfoEndpoint": "https://idp.example.com/userinfo",
        "ClientId": "shop",
    }
    if secret:
        config["ClientSecret"] = secret
    if existing:
        config["UseExistingClientSecret"] = True
    return {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": config}


def test_oidc_secret_is_never_returned_and_can_be_kept(world, listener):
    tg = world.target_group("app")
    with pytest.raises(ClientError):
        world.rule(listener, 1, [path("/a")], [_oidc(), {**forward(tg), "Order": 2}])
    arn = world.rule(listener, 1, [path("/a")], [_oidc("s3cret"), {**forward(tg), "Order": 2}])
    returned = world.rules(listener)[0]["Actions"][0]["AuthenticateOidcConfig"]
    assert "ClientSecret" not in returned
    world.elb.modify_rule(RuleArn=arn, Actions=[_oidc(existing=True), {**forward(tg), "Order": 2}])
    assert "ClientSecret" not in world.rules(listener)[0]["Actions"][0]["AuthenticateOidcConfig"]
    rule = next(
        iter(
            r
            for lb in fidelity.elbv2_models.elbv2_backends["123456789012"][
                "us-east-1"
            ].load_balancers.values()
            for lst in lb.listeners.values()
            for r in lst.rules.values()
            if r.arn == arn
        )
    )
    assert rule.actions[0]._albrules_secrets == {"shop": "s3cret"}


def test_jwt_validation_action_is_accepted(world, listener):
    tg = world.target_group("app")
    jwt = {
        "Type": "jwt-validation",
        "Order": 1,
        "JwtValidationConfig": {
            "JwksEndpoint": "https://idp.example.com/jwks",
            "Issuer": "https://idp.example.com",
        },
    }
    world.rule(listener, 1, [path("/api/*")], [jwt, {**forward(tg), "Order": 2}])
    assert world.rules(listener)[0]["Actions"][0]["Type"] == "jwt-validation"


def test_terminal_action_must_be_last(world, listener):
    tg = world.target_group("app")
    with pytest.raises(ClientError) as err:
        world.rule(listener, 1, [path("/a")], [{**forward(tg), "Order": 1}, _oidc("s")])
    assert code(err) == "InvalidLoadBalancerAction"


def test_modify_rule_with_only_transforms_works(world, listener):
    arn = world.rule(listener, 1, [path("/a")])
    world.elb.modify_rule(RuleArn=arn, Transforms=REWRITE)
    assert world.rules(listener)[0]["Transforms"] == REWRITE


def test_injected_fault_fails_the_nth_call_once(world, listener):
    faults.inject("CreateRule,ModifyRule", nth=2, code="InternalFailure")
    world.rule(listener, 1, [path("/a")])
    with pytest.raises(ClientError) as err:
        world.rule(listener, 2, [path("/b")])
    assert code(err) == "InternalFailure"
    world.rule(listener, 2, [path("/b")])
    assert len(world.rules(listener)) == 2


def test_condition_values_are_counted_per_rule(world, listener):
    pairs = [{"Key": f"k{i}", "Value": f"v{i}"} for i in range(3)]
    query = {"Field": "query-string", "QueryStringConfig": {"Values": pairs}}
    world.rule(listener, 1, [query, path("/a", "/b")])  # 3 pairs + 2 paths: 5 values
    with pytest.raises(ClientError):
        world.rule(listener, 2, [query, path("/a", "/b", "/c")])  # 6 values
    with pytest.raises(ClientError):
        world.rule(listener, 3, [path("/*a*", "/*b*", "/*c*")])  # 6 wildcards
    assert len(world.rules(listener)) == 1


def test_fixed_response_is_still_validated(world, listener):
    with pytest.raises(ClientError):
        world.rule(listener, 1, [path("/a")], [fixed("999")])
