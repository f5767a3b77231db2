"""Slices: how much of a plan one Lambda invocation may apply before its time runs out.

A restore (or its rollback) of a large listener under a throttled account can need longer
than one invocation (the apply and rollback functions have 300 s). So each invocation applies
the plan in a *slice*: it calls while there is time, stops at a call boundary, stores the
journal and says "more to do"; the restore machine runs it again until the plan is done
(:mod:`albrules.tasks.restore`, ``statemachine/restore.asl.json``). The CLI has no such limit:
it applies straight through (no :class:`Deadline`).

The margin, measured as the invocation goes: before each call after the first, the slice
goes on only if the time left (``context.get_remaining_time_in_millis()``) is more than

    slowest step seen so far in this invocation x SLOWEST_STEP_FACTOR + reserve

where a *step* is one call and the write-ahead journal write before it, and the reserve
(``JOURNAL_RESERVE_SECONDS``, 5 s, or a quarter of the function's timeout if that is less) is
for storing the journal once more and returning. The factor (3) covers a call slower than any
seen so far: botocore's throttling retries (adaptive mode) can turn a 50 ms call into seconds.
With the apply function's 300 s a slice stops with at least 5 s left.

Each slice makes at least its first call, whatever the time left, so a slice always moves the
plan on; a machine loop is bounded anyway (``MAX_SLICES`` invocations per phase, then a clear
failure).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SLOWEST_STEP_FACTOR = 3.0
JOURNAL_RESERVE_SECONDS = 5.0
RESERVE_SHARE = 0.25  # of the function's timeout, when that is short (tests, small functions)
MAX_SLICES = 50  # invocations per phase (apply, rollback) before the restore gives up


@dataclass
class Deadline:
    """The time an invocation has left and the margin it keeps (see the module docstring).

    ``remaining()`` gives the seconds left; ``reserve`` the fixed part of the margin. The
    slowest step is measured by :meth:`record`."""

    remaining: Callable[[], float]
    reserve: float = JOURNAL_RESERVE_SECONDS
    factor: float = SLOWEST_STEP_FACTOR
    slowest: float = 0.0
    steps: int = field(default=0)

    @classmethod
    def of_lambda(cls, context: Any) -> Deadline | None:
        """The deadline of a Lambda invocation from its context object (None without one:
        no limit)."""
        left = getattr(context, "get_remaining_time_in_millis", None)
        if left is None:
            return None

        def remaining() -> float:
            return float(left()) / 1000.0

        return cls(remaining, reserve=min(JOURNAL_RESERVE_SECONDS, remaining() * RESERVE_SHARE))

    @classmethod
    def after(cls, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> Deadline:
        """A deadline ``seconds`` from now (tests and benchmarks)."""
        end = clock() + seconds
        return cls(lambda: end - clock(), reserve=min(JOURNAL_RESERVE_SECONDS, seconds * 0.25))

    def record(self, seconds: float) -> None:
        """One step took ``seconds``."""
        self.steps += 1
        self.slowest = max(self.slowest, seconds)

    @property
    def margin(self) -> float:
        return self.slowest * self.factor + self.reserve

    def room_for_another(self) -> bool:
        """Whether one more step fits before the deadline, with the margin."""
        return self.remaining() > self.margin

    def why_stopped(self) -> str:
        return (
            f"{self.remaining():.2f} s left, margin {self.margin:.2f} s (slowest step "
            f"{self.slowest:.3f} s x {self.factor:g} + {self.reserve:.2f} s reserve)"
        )
