"""Properties of the listener-settings plan (snapshot format 2), on the in-memory ELBv2 model.

For random settings A (the live listener) and B (the snapshot's): the plan's calls, sent as
``apply_plan`` sends them, meet no API error and leave the listener at exactly B; nothing is
sent for a setting that is already right (planning B against B is empty, and each call only
carries fields that differ); and a restore into another listener, or a selective one, leaves
the settings alone.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from albrules.listener_settings import ATTRIBUTE_DEFAULTS, canonical_settings_dict
from albrules.models import ListenerSettings
from albrules.operations import (
    AddListenerCertificates,
    AddTags,
    ModifyListener,
    ModifyListenerAttributes,
    RemoveListenerCertificates,
    RemoveTags,
)
from albrules.plan import Desired, Selector, plan_restore
from rule_builders import fixed, path

from .elbv2_model import (
    SSL_POLICIES,
    Elbv2Model,
    apply_operations,
    capture_state,
    default_actions,
    routing,
)
from .profiles import PROFILE

CERTS = [f"arn:aws:acm:us-east-1:123456789012:certificate/c{i}" for i in range(6)]
STORES = [
    f"arn:aws:elasticloadbalancing:us-east-1:123456789012:truststore/t{i}/0123456789abcde{i}"
    for i in range(2)
]
ATTRIBUTE_KEYS = sorted(ATTRIBUTE_DEFAULTS)


@st.composite
def settings(draw: st.DrawFn) -> dict[str, Any]:
    """A canonical ListenerSettings dict an ALB listener can have."""
    protocol = draw(st.sampled_from(["HTTP", "HTTPS"]))
    out: dict[str, Any] = {"protocol": protocol, "port": draw(st.sampled_from([80, 443, 8080]))}
    if protocol == "HTTPS":
        out["ssl_policy"] = draw(st.sampled_from(sorted(SSL_POLICIES)))
        out["default_certificate"] = draw(st.sampled_from(CERTS))
        out["certificates"] = draw(st.lists(st.sampled_from(CERTS), max_size=4, unique=True))
        mode = draw(st.sampled_from(["off", "passthrough", "verify"]))
        if mode == "verify":
            out["mutual_authentication"] = {
                "Mode": "verify",
                "TrustStoreArn": draw(st.sampled_from(STORES)),
                "IgnoreClientCertificateExpiry": draw(st.booleans()),
                "AdvertiseTrustStoreCaNames": draw(st.sampled_from(["on", "off"])),
            }
        elif mode == "passthrough":
            out["mutual_authentication"] = {"Mode": "passthrough"}
    keys = draw(st.lists(st.sampled_from(ATTRIBUTE_KEYS), max_size=4, unique=True))
    out["attributes"] = {
        key: draw(st.sampled_from([ATTRIBUTE_DEFAULTS[key], "false", "X-Custom", "DENY"]))
        for key in keys
    }
    tag = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.sampled_from(["1", "2"]), max_size=3)
    out["tags"] = draw(tag)
    out["default_rule_tags"] = draw(tag)
    return canonical_settings_dict(out)


def model_with(values: dict[str, Any]) -> Elbv2Model:
    """A model listener set to ``values`` directly (no call recorded)."""
    model = Elbv2Model(protocol=values["protocol"], port=values["port"])
    model.ssl_policy = values.get("ssl_policy")
    model.default_certificate = values.get("default_certificate")
    model.certificates = list(values.get("certificates", []))
    auth = values.get("mutual_authentication")
    model.mutual_authentication = dict(auth) if auth else None
    model.attributes = dict(values.get("attributes", {}))
    model.tags[model.listener_arn] = dict(values.get("tags", {}))
    model.tags[model.default_rule.arn] = dict(values.get("default_rule_tags", {}))
    return model


def restore_settings(model: Elbv2Model, want: dict[str, Any], **kwargs: Any) -> list[Any]:
    live = capture_state(model, model.listener_arn)
    desired = Desired(default_actions=default_actions(live), rules=[], listener=want)
    plan = plan_restore(live, desired, **kwargs)
    model.calls.clear()
    apply_operations(model, plan.operations)
    return plan.operations


@PROFILE
@given(have=settings(), want=settings())
def test_a_settings_plan_brings_the_listener_to_the_target(
    have: dict[str, Any], want: dict[str, Any]
) -> None:
    model = model_with(have)
    assert model.settings() == have  # the model reads back what it was set to
    ops = restore_settings(model, want)
    assert model.settings() == want
    assert len(model.mutations()) == len(ops)
    for op in ops:
        if isinstance(op, ModifyListener):
            assert op.default_actions is None  # the default actions were already right
            if op.protocol is not None:
                assert have["protocol"] != want["protocol"]
            if op.port is not None:
                assert have["port"] != want["port"]
            if op.ssl_policy is not None and have["protocol"] == want["protocol"]:
                assert have.get("ssl_policy") != want["ssl_policy"]
        elif isinstance(op, ModifyListenerAttributes):
            for key, value in op.attributes.items():
                assert have["attributes"].get(key, ATTRIBUTE_DEFAULTS[key]) != value
        elif isinstance(op, AddListenerCertificates):
            assert op.certificate in want["certificates"]
        elif isinstance(op, RemoveListenerCertificates):
            assert op.certificate not in want.get("certificates", [])
            assert op.certificate != want.get("default_certificate")
        elif isinstance(op, (AddTags, RemoveTags)):
            assert op.target in ("listener", "default-rule")
    # and back again: the same machinery is the rollback
    restore_settings(model, have)
    assert model.settings() == have


@PROFILE
@given(values=settings())
def test_planning_the_settings_a_listener_already_has_sends_nothing(values: dict[str, Any]) -> None:
    model = model_with(values)
    assert restore_settings(model, values) == []
    assert model.mutations() == []


@PROFILE
@given(have=settings(), want=settings())
def test_a_selective_restore_leaves_the_settings_alone(
    have: dict[str, Any], want: dict[str, Any]
) -> None:
    model = model_with(have)
    model.create_rule(
        ListenerArn=model.listener_arn, Priority=7, Conditions=[path("/a")], Actions=[fixed()]
    )
    live = capture_state(model, model.listener_arn)
    desired = Desired(default_actions=default_actions(live), rules=routing(live), listener=want)
    plan = plan_restore(live, desired, mode="selective", selector=Selector(frozenset({7})))
    assert plan.operations == []
    assert plan.expected.listener is None


def test_http_to_https_sends_the_certificate_in_the_same_call() -> None:
    have = canonical_settings_dict({"protocol": "HTTP", "port": 80})
    want = canonical_settings_dict(
        {
            "protocol": "HTTPS",
            "port": 443,
            "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "default_certificate": CERTS[0],
            "certificates": [CERTS[1]],
        }
    )
    model = model_with(have)
    ops = restore_settings(model, want)
    assert [type(op) for op in ops] == [ModifyListener, AddListenerCertificates]
    first = model.mutations()[0].kwargs
    assert first["Protocol"] == "HTTPS"
    assert first["Certificates"] == [{"CertificateArn": CERTS[0]}]
    assert first["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert ListenerSettings.model_validate(model.settings()).certificates == [CERTS[1]]


def test_a_certificate_becoming_the_default_is_not_removed() -> None:
    have = canonical_settings_dict(
        {
            "protocol": "HTTPS",
            "port": 443,
            "ssl_policy": "ELBSecurityPolicy-2016-08",
            "default_certificate": CERTS[0],
            "certificates": [CERTS[1]],
        }
    )
    want = {**have, "default_certificate": CERTS[1], "certificates": []}
    model = model_with(have)
    ops = restore_settings(model, want)
    assert [type(op) for op in ops] == [ModifyListener]
    assert model.settings() == want


def test_the_plan_view_shows_the_settings_change() -> None:
    from albrules.render import console, plan_view

    have = canonical_settings_dict({"protocol": "HTTP", "port": 80})
    model = model_with(have)
    live = capture_state(model, model.listener_arn)
    want = {**have, "port": 8080, "attributes": {"routing.http.response.server.enabled": "false"}}
    plan = plan_restore(
        live, Desired(default_actions=default_actions(live), rules=[], listener=want)
    )
    out = console()
    with out.capture() as captured:
        out.print(plan_view(plan, live_rules=0, source="s.json"))
    text = captured.get()
    assert "set listener port 8080" in text
    assert "set listener attributes: routing.http.response.server.enabled='false'" in text
    assert "listener settings" in text and "0 changed rule(s) and 2 listener setting(s)" in text
