"""albrules.capture over the ELBv2 model: the library's own read path, with no AWS at all.

capture.py takes an ``Aws`` and uses only its ``elbv2`` client, so the model stands in for it.
This checks both sides: capture reads the documented response shapes correctly (string
priorities, legacy ``Values``, filled-in defaults, pages, tag batches), and the unit tier's
``capture_state`` (which the properties use) builds exactly what capture builds.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given

from albrules.capture import (
    capture_listener,
    capture_load_balancer,
    count_other_rules,
    resolve_load_balancer,
)
from albrules.errors import InvalidInput, ListenerNotFound
from rule_builders import fixed, path

from .elbv2_model import Elbv2Model, capture_state
from .profiles import PROFILE
from .strategies import Case, cases


@dataclass
class ModelAws:
    """What capture needs of ``albrules.aws.Aws``: an elbv2 client and a region."""

    elbv2: Elbv2Model
    region: str = "us-east-1"


def rules(model: Elbv2Model, count: int) -> None:
    for priority in range(1, count + 1):
        model.create_rule(
            ListenerArn=model.listener_arn,
            Priority=priority,
            Conditions=[path(f"/r{priority}")],
            Actions=[fixed()],
        )
    model.calls.clear()


@pytest.mark.parametrize("count", [45, 401])
def test_capture_makes_the_minimum_read_calls(count: int) -> None:
    """The same assertions as tests/test_snapshot.py's, on the model."""
    model = Elbv2Model(rules_per_load_balancer=1000)
    rules(model, count)
    state = capture_listener(ModelAws(model), model.listener_arn)  # type: ignore[arg-type]
    assert len(state.rules) == count
    pages = -(-(count + 1) // 400)
    tag_batches = -(-(count + 2) // 20)  # the listener, its default rule and its rules
    assert [c.method for c in model.calls] == (
        ["describe_listeners"]
        + ["describe_rules"] * pages
        + ["describe_listener_attributes"]  # an HTTP listener has no certificates to read
        + ["describe_tags"] * tag_batches
        + ["describe_load_balancers"]  # its scheme and type
    )
    tagged = [c.kwargs["ResourceArns"] for c in model.calls if c.method == "describe_tags"]
    assert all(len(batch) <= 20 for batch in tagged)
    assert tagged[0][0] == model.listener_arn
    assert sum(batch.count(model.default_rule.arn) for batch in tagged) == 1
    assert all(c.kwargs.get("PageSize") == 400 for c in model.calls[1 : 1 + pages])


def test_an_https_listener_reads_its_certificates_in_pages() -> None:
    model = Elbv2Model(protocol="HTTPS", port=443)
    extra = [f"arn:aws:acm:us-east-1:123456789012:certificate/c{i:03d}" for i in range(25)]
    for arn in reversed(extra):
        model.add_listener_certificates(
            ListenerArn=model.listener_arn, Certificates=[{"CertificateArn": arn}]
        )
    model.calls.clear()
    state = capture_listener(ModelAws(model), model.listener_arn)  # type: ignore[arg-type]
    assert state.listener is not None
    assert state.listener.default_certificate == model.default_certificate
    assert state.listener.certificates == sorted(extra)
    assert [c.method for c in model.calls].count("describe_listener_certificates") == 1
    assert state.source.load_balancer_scheme == "internet-facing"


@PROFILE
@given(case=cases())
def test_capture_and_the_tiers_capture_state_agree(case: Case) -> None:
    model = case.model()
    mirror = capture_state(model, model.listener_arn)
    real = capture_listener(ModelAws(model), model.listener_arn)  # type: ignore[arg-type]
    assert real == mirror


def test_a_load_balancer_by_arn_needs_no_lookup_and_counts_other_rules() -> None:
    model = Elbv2Model(name="shop", port=443)
    rules(model, 3)
    aws = ModelAws(model)
    assert resolve_load_balancer(aws, model.load_balancer_arn) == model.load_balancer_arn  # type: ignore[arg-type]
    assert model.calls == []
    (state,) = capture_load_balancer(aws, model.load_balancer_arn)  # type: ignore[arg-type]
    assert state.source.port == 443 and state.source.load_balancer_name == "shop"
    assert count_other_rules(aws, model.load_balancer_arn, model.listener_arn) == 0  # type: ignore[arg-type]


def test_a_missing_listener_is_named() -> None:
    model = Elbv2Model()
    ghost = model.listener_arn[:-16] + "0123456789abcdef"
    with pytest.raises(ListenerNotFound, match=f"listener {ghost}"):
        capture_listener(ModelAws(model), ghost)  # type: ignore[arg-type]


def test_a_network_load_balancer_is_refused_before_any_call() -> None:
    model = Elbv2Model()
    nlb = model.load_balancer_arn.replace("/app/", "/net/")
    with pytest.raises(InvalidInput, match="is not an Application Load Balancer"):
        resolve_load_balancer(ModelAws(model), nlb)  # type: ignore[arg-type]
    assert model.calls == []
