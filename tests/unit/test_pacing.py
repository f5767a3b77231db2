"""The sweep's pacing: a token bucket on a fake clock, each batch's share of the Describe
budget, and every Describe call of a paced client going through the bucket (botocore's
Stubber answers, so no AWS and no local AWS)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from albrules.aws import Aws
from albrules.errors import InvalidInput
from albrules.pacing import Pacer, TokenBucket, describe_bucket, paced
from albrules.tasks.backup import batch_share
from albrules.tasks.settings import Settings

LISTENER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/a/0123abcd/4567ef01"


class Clock:
    """A fake clock that sleeping moves forward."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def bucket(rate: float, capacity: float, clock: Clock) -> TokenBucket:
    return TokenBucket(rate, capacity, clock=clock, sleep=clock.sleep)


def test_a_full_bucket_lets_its_burst_through_then_waits_for_the_refill() -> None:
    clock = Clock()
    tokens = bucket(0.5, 2, clock)
    assert [tokens.take(), tokens.take()] == [0.0, 0.0]  # the burst
    assert tokens.take() == pytest.approx(2.0)  # one token comes every 2 s
    assert clock.now == pytest.approx(102.0)
    clock.now += 60  # idle: the bucket fills to its capacity, not beyond
    assert [tokens.take(), tokens.take()] == [0.0, 0.0]
    assert tokens.take() == pytest.approx(2.0)
    assert tokens.taken == 6 and tokens.waited == pytest.approx(4.0)


def test_the_sweeps_share_holds_over_many_calls() -> None:
    clock = Clock()
    tokens = describe_bucket(5, clock=clock, sleep=clock.sleep)
    assert (tokens.rate, tokens.capacity) == (5, 20)  # 5 of 10 a second, 20 of the 40 tokens
    for _ in range(120):
        tokens.take()
    assert clock.now - 100 == pytest.approx((120 - 20) / 5)  # the burst, then 5 a second
    # In any 10 s window after the burst, at most 50 calls: half of the documented refill.
    assert describe_bucket(0.1).capacity == 1  # a small share still lets one call through


def test_bad_buckets_are_refused() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0, 1)
    with pytest.raises(ValueError):
        TokenBucket(1, 0.5)


@pytest.mark.parametrize(
    ("listeners", "batch_size", "concurrency", "share"),
    [
        (10, 10, 10, 5.0),  # one batch: it has the whole rate
        (30, 10, 10, 5 / 3),  # three batches at once
        (10_000, 10, 10, 0.5),  # MaxConcurrency bounds the batches at once
        (0, 10, 10, 5.0),
    ],
)
def test_each_batch_gets_the_rate_divided_among_the_batches_at_once(
    listeners: int, batch_size: int, concurrency: int, share: float
) -> None:
    assert batch_share(5.0, listeners, batch_size, concurrency) == pytest.approx(share)


def stubbed(rate: float, capacity: float, clock: Clock) -> tuple[Aws, Stubber, TokenBucket]:
    session = boto3.Session(
        aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1"
    )
    tokens = bucket(rate, capacity, clock)
    aws = paced(Aws(session), tokens)
    return aws, Stubber(aws.elbv2), tokens


def test_every_describe_call_of_a_paced_client_goes_through_the_bucket() -> None:
    clock = Clock()
    aws, stub, tokens = stubbed(1.0, 1, clock)
    for _ in range(3):
        stub.add_response("describe_rules", {"Rules": []}, {"ListenerArn": LISTENER})
    stub.add_response("delete_rule", {}, {"RuleArn": LISTENER.replace("listener", "listener-rule")})
    with stub:
        for _ in range(3):
            aws.elbv2.describe_rules(ListenerArn=LISTENER)
        aws.elbv2.delete_rule(RuleArn=LISTENER.replace("listener", "listener-rule"))
    stub.assert_no_pending_responses()
    assert tokens.taken == 3  # the Describe calls, not the mutating one
    assert clock.sleeps == [pytest.approx(1.0)] * 2  # 1 a second after the first token
    assert aws.elbv2.meta.config.retries["mode"] == "adaptive"


def test_a_pacer_has_one_bucket_per_account_and_region() -> None:
    made: list[tuple[str, str]] = []

    def make(account: str, region: str) -> Any:
        made.append((account, region))
        return Aws(
            boto3.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name=region)
        )

    pacer = Pacer(2.0)
    first = pacer.aws("111122223333", "eu-west-1", None, lambda: make("111122223333", "eu-west-1"))
    again = pacer.aws("111122223333", "eu-west-1", None, lambda: make("111122223333", "eu-west-1"))
    other_role = pacer.aws(
        "111122223333", "eu-west-1", "arn:aws:iam::111122223333:role/r", lambda: make("1", "r")
    )
    pacer.aws("111122223333", "us-east-1", None, lambda: make("111122223333", "us-east-1"))
    assert first is again and other_role is not first
    assert len(made) == 3
    assert sorted(pacer.buckets) == [("111122223333", "eu-west-1"), ("111122223333", "us-east-1")]
    assert pacer.bucket("111122223333", "eu-west-1").rate == 2.0


def settings(text: str) -> Settings:
    return Settings(
        bucket="b",
        table="t",
        kms_key_id=None,
        topic_arn=None,
        member_role_name=None,
        external_id=None,
        approval_secret_arn=None,
        approval_url=None,
        describe_calls_text=text,
    )


def test_the_describe_rate_setting() -> None:
    assert settings("").describe_calls_per_second == 5.0
    assert settings("2.5").describe_calls_per_second == 2.5
    for bad in ("0", "-1", "11", "fast"):
        with pytest.raises(InvalidInput, match="DescribeCallsPerSecond"):
            _ = settings(bad).describe_calls_per_second
