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
    tag_batches = -(-count // 20)
    assert [c.method for c in model.calls] == (
        ["describe_listeners"] + ["describe_rules"] * pages + ["describe_tags"] * tag_batches
    )
    assert all(len(c.kwargs["ResourceArns"]) <= 20 for c in model.calls[1 + pages :])
    assert all(c.kwargs.get("PageSize") == 400 for c in model.calls[1 : 1 + pages])


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
