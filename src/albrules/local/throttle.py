"""Throttle the local AWS's mutating ELBv2 calls, as AWS throttles an account's.

AWS throttles ELB API calls per account and Region with token buckets and answers an excess
call with ``Throttling`` ("Rate exceeded", HTTP 400), the call not made. The mutating bucket is
recorded in ``../shared/notes/elbv2-facts.md`` as 20 tokens refilled at 3 a second
(**unconfirmed**: AWS's throttling page could not be re-read; the Describe bucket, 40 at 10 a
second, is documented). moto throttles nothing.

:func:`set_mutating_rate` (``albrules local up --throttle-mutating RATE``, the server's
``ALBRULES_LOCAL_THROTTLE_MUTATING`` variable, ``POST /_albrules/config
{"throttle_mutating": RATE}``, or a test in-process) puts every mutating ELBv2 call of the
process (:data:`MUTATING`, every account and Region together) through one bucket refilled at
RATE a second, holding ``burst`` tokens (default: RATE x 20 / 3, AWS's ratio of bucket to refill,
at least 1). A call with no token is refused before it reaches the fault injection, the
fidelity layer or CloudTrail: it has no effect. ``None`` turns the throttle off (the default).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from .faults import MUTATING as FAULT_MUTATING

AWS_MUTATING_BUCKET = 20.0  # unconfirmed (see the module docstring)
AWS_MUTATING_REFILL = 3.0  # unconfirmed

#: The mutating ELBv2 operations the throttle applies to: every one a restore can make.
MUTATING = FAULT_MUTATING

_lock = threading.Lock()


class _Bucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.capacity = rate, burst
        self.tokens = burst
        self.at = time.monotonic()
        self.throttled = 0  # calls refused
        self.passed = 0

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            self.throttled += 1
            return False
        self.tokens -= 1
        self.passed += 1
        return True


_bucket: _Bucket | None = None


def default_burst(rate: float) -> float:
    """AWS's ratio of bucket size to refill rate (20 to 3), at least one token."""
    return max(1.0, rate * AWS_MUTATING_BUCKET / AWS_MUTATING_REFILL)


def set_mutating_rate(rate: float | None, burst: float | None = None) -> None:
    """Throttle mutating ELBv2 calls to ``rate`` a second (bucket ``burst``); None: off."""
    global _bucket
    if rate is not None and rate <= 0:
        raise ValueError(f"the mutating call rate must be more than 0 a second, not {rate}")
    if burst is not None and burst < 1:
        raise ValueError(f"the bucket must hold at least 1 token, not {burst}")
    with _lock:
        _bucket = None if rate is None else _Bucket(float(rate), burst or default_burst(rate))


def settings() -> dict[str, Any]:
    """The throttle as set, with how many calls it let through and refused."""
    with _lock:
        if _bucket is None:
            return {"throttle_mutating": None}
        return {
            "throttle_mutating": _bucket.rate,
            "throttle_burst": _bucket.capacity,
            "throttle_passed": _bucket.passed,
            "throttled": _bucket.throttled,
        }


def _allowed() -> bool:
    with _lock:
        return _bucket is None or _bucket.take()


def _wrap(handler: Any) -> Any:
    from moto.elbv2.exceptions import ELBClientError

    def handle(self: Any) -> Any:
        if not _allowed():
            raise ELBClientError("Throttling", "Rate exceeded")
        return handler(self)

    handle.__name__ = handler.__name__
    handle._albrules_throttled = True  # type: ignore[attr-defined]
    return handle


def install() -> None:
    """Wrap the mutating ELBv2 response handlers (idempotent; after every other wrapper of
    them but CloudTrail's, so that a throttled call reaches nothing)."""
    from moto.core.utils import camelcase_to_underscores
    from moto.elbv2.responses import ELBV2Response

    for operation in MUTATING:
        name = camelcase_to_underscores(operation)
        handler = getattr(ELBV2Response, name, None)
        if handler is None or getattr(handler, "_albrules_throttled", False):
            continue
        setattr(ELBV2Response, name, _wrap(handler))
