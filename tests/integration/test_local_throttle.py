"""The local AWS throttles mutating ELBv2 calls when asked (``albrules local up
--throttle-mutating RATE``), as AWS throttles an account's: an excess call gets
``Throttling`` ("Rate exceeded", HTTP 400) and has no effect; Describe calls are not
throttled; a client with adaptive retries gets through."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from albrules.aws import Aws
from albrules.local import throttle
from albrules.pacing import for_mutations


@pytest.fixture
def throttled() -> Iterator[None]:
    yield
    throttle.set_mutating_rate(None)


def _tags(world, arn: str) -> dict[str, str]:
    found = world.elb.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]
    return {t["Key"]: t["Value"] for t in found}


def test_an_excess_mutating_call_is_throttled_and_has_no_effect(world, session, throttled):
    listener = world.listener(world.load_balancer("shop"))
    once = session.client("elbv2", config=Config(retries={"total_max_attempts": 1}))
    throttle.set_mutating_rate(0.01, burst=2)  # two calls, then none for 100 s
    for n in (1, 2):
        once.add_tags(ResourceArns=[listener], Tags=[{"Key": f"t{n}", "Value": "x"}])
    with pytest.raises(ClientError) as raised:
        once.add_tags(ResourceArns=[listener], Tags=[{"Key": "t3", "Value": "x"}])
    error = raised.value.response
    assert error["Error"]["Code"] == "Throttling"
    assert error["Error"]["Message"] == "Rate exceeded"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    for _ in range(5):  # reads are not mutating calls
        assert _tags(world, listener) == {"t1": "x", "t2": "x"}
    assert throttle.settings()["throttled"] == 1
    throttle.set_mutating_rate(None)
    once.add_tags(ResourceArns=[listener], Tags=[{"Key": "t3", "Value": "x"}])
    assert set(_tags(world, listener)) == {"t1", "t2", "t3"}


def test_adaptive_retries_get_every_call_through_the_throttle(world, session, throttled):
    listener = world.listener(world.load_balancer("shop"))
    aws = for_mutations(Aws(session))
    throttle.set_mutating_rate(20, burst=2)
    for n in range(12):
        aws.elbv2.add_tags(ResourceArns=[listener], Tags=[{"Key": "n", "Value": str(n)}])
    assert _tags(world, listener) == {"n": "11"}
    counts = throttle.settings()
    assert counts["throttle_passed"] == 12 and counts["throttled"] >= 1  # the throttle did bite


def test_the_rate_must_be_positive_and_the_default_bucket_keeps_awss_ratio():
    with pytest.raises(ValueError):
        throttle.set_mutating_rate(0)
    assert throttle.default_burst(3) == 20
    assert throttle.default_burst(0.01) == 1
