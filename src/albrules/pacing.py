"""Pacing the sweep's ELBv2 Describe calls to a share of the account's Describe budget.

Documented (Elastic Load Balancing user guide, "Request throttling for the ELB API",
https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html):
ELBv2 throttles each account per Region with token buckets; non-mutating calls (``Describe*``)
have a bucket of 40 tokens refilled at 10 per second; every request takes one token, whoever
makes it (the console and other tools included); services that call ELB on your behalf (EC2,
ECS, Auto Scaling, CloudFormation) have buckets of their own; a throttled call fails with
``Throttling`` ("Rate exceeded"). Not documented: whether every ``Describe*`` action draws on
one bucket or each on its own, whether an account-level bucket over all ELB calls binds first
(``../shared/notes/elbv2-facts.md`` records one, 40 at 10 per second, unconfirmed), and how
many ``ListenerArns`` one DescribeListeners call may name. So albrules assumes the worst: one
bucket of 40 at 10 per second for every Describe call of the account and Region.

The sweep takes ``DescribeCallsPerSecond`` (default 5) of the 10 per second, and the same share
of the 40 tokens as its own burst (:func:`describe_bucket`): whatever the sweep does, the others
keep at least the rest of the bucket and of its refill. One :class:`TokenBucket` per (account,
region) in an invocation; the calls go through it from a botocore ``before-parameter-build``
hook (once per API call; botocore's own retries aside) on the invocation's own ELBv2 client
(:func:`paced`), which also uses botocore's adaptive retry mode (a client-side rate limiter
that slows down after ``Throttling`` answers, and so paces the retries).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .aws import Aws

AWS_DESCRIBE_BUCKET = 40.0  # documented: Describe* bucket, per account and Region
AWS_DESCRIBE_REFILL = 10.0  # documented: tokens a second
DEFAULT_DESCRIBE_CALLS_PER_SECOND = 5.0
ELBV2_EVENTS = "before-parameter-build.elastic-load-balancing-v2"
_EPSILON = 1e-9


class TokenBucket:
    """A token bucket: ``capacity`` tokens, refilled at ``rate`` a second; :meth:`take` waits
    (``sleep``) until a token is there. Thread-safe. ``clock`` and ``sleep`` are injectable
    so that tests run on a fake clock."""

    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError(
                f"a token bucket needs rate > 0 and capacity >= 1, not {rate}, {capacity}"
            )
        self.rate, self.capacity = float(rate), float(capacity)
        self._clock, self._sleep = clock, sleep
        self._tokens = self.capacity
        self._at = clock()
        self._lock = threading.Lock()
        self.taken = 0  # tokens taken (calls let through)
        self.waited = 0.0  # seconds spent waiting for tokens

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def take(self) -> float:
        """Take one token, waiting for it if the bucket is empty; the seconds waited."""
        with self._lock:  # one caller waits at a time: tokens go out in order
            waited = 0.0
            self._refill()
            while self._tokens < 1 - _EPSILON:  # (float rounding: never a near-zero pause)
                pause = (1 - self._tokens) / self.rate
                self._sleep(pause)
                waited += pause
                self._refill()
            self._tokens = max(0.0, self._tokens - 1)
            self.taken += 1
            self.waited += waited
            return waited


def describe_bucket(calls_per_second: float, **clock: Any) -> TokenBucket:
    """A bucket for a share of the account's Describe budget: ``calls_per_second`` of the
    documented 10 a second, and the same share of the 40 tokens (at least 1) as burst."""
    capacity = max(1.0, calls_per_second * AWS_DESCRIBE_BUCKET / AWS_DESCRIBE_REFILL)
    return TokenBucket(calls_per_second, capacity, **clock)


def paced(aws: Aws, bucket: TokenBucket) -> Aws:
    """An :class:`Aws` on the same session whose ELBv2 client (adaptive retries) takes a token
    from ``bucket`` before every Describe call."""
    made = Aws(aws.session, retry_mode="adaptive")

    def before_call(model: Any, **_: Any) -> None:
        if model.name.startswith("Describe"):
            bucket.take()

    made.elbv2.meta.events.register(ELBV2_EVENTS, before_call)
    return made


def for_mutations(aws: Aws) -> Aws:
    """An :class:`Aws` on the same session for a restore's mutating calls: botocore's
    adaptive retry mode, whose client-side rate limiter slows down after ``Throttling``
    answers (the account's mutating bucket is small: ``../shared/notes/elbv2-facts.md``), so
    a throttled apply paces itself instead of burning its attempts."""
    return Aws(aws.session, retry_mode="adaptive")


class Pacer:
    """The buckets of one invocation, one per (account, region), each at ``calls_per_second``;
    :meth:`aws` gives a paced session sharing its account and region's bucket."""

    def __init__(self, calls_per_second: float, **clock: Any) -> None:
        self.calls_per_second = calls_per_second
        self._clock = clock
        self.buckets: dict[tuple[str, str], TokenBucket] = {}
        self._sessions: dict[tuple[str, str, str | None], Aws] = {}

    def bucket(self, account_id: str, region: str) -> TokenBucket:
        key = (account_id, region)
        if key not in self.buckets:
            self.buckets[key] = describe_bucket(self.calls_per_second, **self._clock)
        return self.buckets[key]

    def aws(
        self, account_id: str, region: str, role_arn: str | None, make: Callable[[], Aws]
    ) -> Aws:
        key = (account_id, region, role_arn)
        if key not in self._sessions:
            self._sessions[key] = paced(make(), self.bucket(account_id, region))
        return self._sessions[key]
