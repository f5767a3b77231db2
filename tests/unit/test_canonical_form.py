"""The canonical form (canonical.py): two captures of the same routing compare and hash equal."""

from __future__ import annotations

import copy

from hypothesis import given

from albrules.canonical import (
    canonical_action,
    canonical_actions,
    canonical_condition,
    canonical_conditions,
    canonical_json,
    canonical_rule,
    conditions_key,
    sha256_hex,
    target_group_name,
)
from rule_builders import fixed, forward, header, host, path, redirect

from .elbv2_model import Elbv2Model, capture_state, routing
from .profiles import PROFILE
from .strategies import GROUPS, Spec, rule_dict, seed
from .strategies import specs as rule_specs

TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app/0123456789abcdef"


# --- the same assertions as tests/test_snapshot.py's pure tests ------------------------------


def test_legacy_values_fold_into_the_config_form() -> None:
    api = {
        "Field": "host-header",
        "Values": ["b.example.com", "a.example.com"],
        "HostHeaderConfig": {"Values": ["b.example.com", "a.example.com"]},
    }
    assert canonical_condition(api) == {
        "Field": "host-header",
        "HostHeaderConfig": {"Values": ["a.example.com", "b.example.com"]},
    }
    legacy_only = {"Field": "path-pattern", "Values": ["/x"]}
    assert canonical_condition(legacy_only) == {
        "Field": "path-pattern",
        "PathPatternConfig": {"Values": ["/x"]},
    }
    regex = {
        "Field": "http-header",
        "RegexValues": ["^a"],
        "HttpHeaderConfig": {"HttpHeaderName": "X"},
    }
    assert canonical_condition(regex)["HttpHeaderConfig"] == {
        "HttpHeaderName": "X",
        "RegexValues": ["^a"],
    }


def test_forward_defaults_are_dropped_the_same_way_every_time() -> None:
    plain = {"Type": "forward", "TargetGroupArn": TG}
    filled = {
        "Type": "forward",
        "Order": 1,
        "TargetGroupArn": TG,
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": TG, "Weight": 1}],
            "TargetGroupStickinessConfig": {"Enabled": False},
        },
    }
    assert canonical_action(plain, 1) == canonical_action(filled, 1)
    assert canonical_action(plain, 1)["ForwardConfig"] == {
        "TargetGroups": [{"TargetGroupArn": TG, "TargetGroupName": "app"}]
    }


def test_redirect_and_authenticate_defaults_are_dropped() -> None:
    filled = redirect(
        Host="#{host}", Port="#{port}", Path="/#{path}", Query="#{query}", Protocol="HTTPS"
    )
    assert canonical_action(filled, 1)["RedirectConfig"] == {
        "Protocol": "HTTPS",
        "StatusCode": "HTTP_301",
    }
    cognito = {
        "Type": "authenticate-cognito",
        "AuthenticateCognitoConfig": {
            "UserPoolArn": "arn:aws:cognito-idp:us-east-1:123456789012:userpool/p",
            "UserPoolClientId": "c",
            "UserPoolDomain": "d",
            "Scope": "openid",
            "SessionTimeout": 604800,
            "OnUnauthenticatedRequest": "authenticate",
            "SessionCookieName": "AWSELBAuthSessionCookie",
        },
    }
    assert set(canonical_action(cognito, 1)["AuthenticateCognitoConfig"]) == {
        "UserPoolArn",
        "UserPoolClientId",
        "UserPoolDomain",
    }


def test_actions_sort_by_order_and_renumber_and_conditions_sort() -> None:
    rule = {
        "priority": "7",
        "conditions": [path("/b"), host("x.example.com")],
        "actions": [
            {**forward(TG), "Order": 20},
            {
                "Type": "authenticate-cognito",
                "Order": 10,
                "AuthenticateCognitoConfig": {
                    "UserPoolArn": "p",
                    "UserPoolClientId": "c",
                    "UserPoolDomain": "d",
                },
            },
        ],
        "tags": {"b": "2", "a": "1"},
    }
    out = canonical_rule(rule)
    assert out["priority"] == 7
    assert [c["Field"] for c in out["conditions"]] == ["host-header", "path-pattern"]
    assert [(a["Type"], a["Order"]) for a in out["actions"]] == [
        ("authenticate-cognito", 1),
        ("forward", 2),
    ]
    assert list(out["tags"]) == ["a", "b"]


# --- more of the form ------------------------------------------------------------------------


def test_set_like_lists_are_sorted_and_empty_parts_dropped() -> None:
    query = {
        "Field": "query-string",
        "QueryStringConfig": {
            "Values": [{"Key": "b", "Value": "2"}, {"Value": "x"}, {"Key": "", "Value": "a"}]
        },
    }
    assert canonical_condition(query)["QueryStringConfig"]["Values"] == [
        {"Value": "a"},
        {"Value": "x"},
        {"Key": "b", "Value": "2"},
    ]
    regex = {"Field": "path-pattern", "PathPatternConfig": {"RegexValues": ["^/z", "^/a"]}}
    assert canonical_condition(regex) == {
        "Field": "path-pattern",
        "PathPatternConfig": {"RegexValues": ["^/a", "^/z"]},
    }
    groups = forward((GROUPS[2], 1), (GROUPS[0], 4))
    assert [
        g["TargetGroupName"] for g in canonical_action(groups, 1)["ForwardConfig"]["TargetGroups"]
    ] == [
        "tg0",
        "tg2",
    ]


def test_conditions_identify_a_rule_whatever_their_order_or_form() -> None:
    one = [path("/b", "/a"), header("X-Env", "prod")]
    other = [header("X-Env", "prod"), {"Field": "path-pattern", "Values": ["/a", "/b"]}]
    assert conditions_key(one) == conditions_key(other)
    assert conditions_key(one) != conditions_key([path("/a")])
    assert canonical_conditions(one) == canonical_conditions(other)


def test_oidc_secrets_are_never_kept_and_defaults_are_dropped() -> None:
    action = {
        "Type": "authenticate-oidc",
        "AuthenticateOidcConfig": {
            "Issuer": "https://idp",
            "AuthorizationEndpoint": "https://idp/a",
            "TokenEndpoint": "https://idp/t",
            "UserInfoEndpoint": "https://idp/u",
            "ClientId": "web",
            "ClientSecret": "hunter2",
            "UseExistingClientSecret": True,
            "Scope": "openid",
            "SessionTimeout": 3600,
        },
    }
    config = canonical_action(action, 1)["AuthenticateOidcConfig"]
    assert "ClientSecret" not in config and "UseExistingClientSecret" not in config
    assert "Scope" not in config and config["SessionTimeout"] == 3600
    assert "hunter2" not in canonical_json(canonical_actions([action]))


def test_stickiness_is_kept_only_when_enabled_and_weights_only_when_not_one() -> None:
    sticky = canonical_action(forward((TG, 1), sticky=60), 1)["ForwardConfig"]
    assert sticky["TargetGroupStickinessConfig"] == {"Enabled": True, "DurationSeconds": 60}
    assert sticky["TargetGroups"] == [{"TargetGroupArn": TG, "TargetGroupName": "app"}]
    weighted = canonical_action(forward((TG, 0)), 1)["ForwardConfig"]["TargetGroups"]
    assert weighted == [{"TargetGroupArn": TG, "TargetGroupName": "app", "Weight": 0}]


def test_jwt_claims_sort_and_fixed_responses_drop_empty_fields() -> None:
    jwt = {
        "Type": "jwt-validation",
        "JwtValidationConfig": {
            "JwksEndpoint": "https://idp/jwks",
            "Issuer": "https://idp",
            "AdditionalClaims": [
                {"Format": "single-string", "Name": "z", "Values": ["1"]},
                {"Format": "single-string", "Name": "a", "Values": ["1"]},
            ],
        },
    }
    claims = canonical_action(jwt, 1)["JwtValidationConfig"]["AdditionalClaims"]
    assert [c["Name"] for c in claims] == ["a", "z"]
    response = {
        "Type": "fixed-response",
        "FixedResponseConfig": {"StatusCode": "200", "MessageBody": "", "ContentType": None},
    }
    assert canonical_action(response, 3) == {
        "Type": "fixed-response",
        "Order": 3,
        "FixedResponseConfig": {"StatusCode": "200"},
    }


def test_actions_without_order_keep_their_position() -> None:
    actions = [
        {**fixed(), "Order": 5},
        {"Type": "redirect", "RedirectConfig": {"StatusCode": "HTTP_302"}},
    ]
    assert [a["Type"] for a in canonical_actions(actions)] == ["redirect", "fixed-response"]
    assert [a["Order"] for a in canonical_actions(actions)] == [1, 2]


def test_target_group_names_come_from_the_arn() -> None:
    assert target_group_name(TG) == "app"
    assert target_group_name("arn:aws:elasticloadbalancing:r:1:loadbalancer/app/x/1") is None
    named = {
        "Type": "forward",
        "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "tg-x", "TargetGroupName": "x"}]},
    }
    assert canonical_action(named, 1)["ForwardConfig"]["TargetGroups"] == [
        {"TargetGroupArn": "tg-x", "TargetGroupName": "x"}
    ]


def test_canonical_json_is_deterministic_and_keeps_unicode() -> None:
    assert canonical_json({"b": 1, "a": ["é", 2]}) == '{"a":["é",2],"b":1}'
    assert sha256_hex({"b": 1, "a": 2}) == sha256_hex({"a": 2, "b": 1})
    assert len(sha256_hex({})) == 64


# --- properties -----------------------------------------------------------------------------


@PROFILE
@given(spec=rule_specs)
def test_the_canonical_form_is_idempotent(spec: Spec) -> None:
    once = canonical_rule(rule_dict(spec))
    assert canonical_rule(copy.deepcopy(once)) == once
    assert "ClientSecret" not in canonical_json(once)


@PROFILE
@given(spec=rule_specs)
def test_what_the_api_fills_in_canonicalises_away(spec: Spec) -> None:
    """A rule written and read back (legacy Values, default weights, stickiness, redirect and
    authenticate defaults added by the API) has the canonical form of what was written."""
    model = Elbv2Model(target_groups=GROUPS)
    seed(model, [spec])
    (read,) = routing(capture_state(model, model.listener_arn))
    assert read == canonical_rule(rule_dict(spec))
