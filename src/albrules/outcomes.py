"""How a restore can end: one table for the CLI's exit codes and the state machine's errors.

Every door (``albrules restore``, ``albrules run restore``, ``albrules watch``, the restore state
machine's final states) reads this table, so an outcome means the same thing everywhere.

A restore drill (``albrules drill``, the scheduled drills; :mod:`albrules.drill`) ends in one of
:data:`DRILL_EXIT_CODES`: ``RESTORABLE`` 0; ``NOT_RESTORABLE`` 5 (each reason is reported: a
missing certificate, trust store or target group, a call AWS refused, a difference found when
the drill listener was verified); ``CLEANUP_FAILED`` 6 (the drill listener could not be
deleted, or the scratch load balancer is otherwise not as it was: the report says what is
left). Bad input, a scratch load balancer that cannot be found and no free drill port are
refusals, exit 2, before any change, as for a restore.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RestoreOutcomeName = Literal[
    "RESTORED",
    "NO_CHANGES",
    "DRY_RUN",
    "ROLLED_BACK",
    "ROLLBACK_FAILED",
    "REJECTED",
    "TIMED_OUT",
    "REFUSED",
    "LOCKED",
    "LISTENER_CHANGED",
    "FAILED",
]


@dataclass(frozen=True)
class RestoreOutcome:
    """One way a restore ends."""

    name: RestoreOutcomeName
    exit_code: int
    error: str | None  # the state machine's Fail error; None: the execution succeeds
    changed_nothing: bool  # no mutating call was made (or every change was undone)


OUTCOMES: dict[str, RestoreOutcome] = {
    o.name: o
    for o in (
        RestoreOutcome("RESTORED", 0, None, False),
        RestoreOutcome("NO_CHANGES", 0, None, True),
        RestoreOutcome("DRY_RUN", 0, None, True),
        RestoreOutcome("ROLLED_BACK", 3, "RestoreRolledBack", True),
        RestoreOutcome("ROLLBACK_FAILED", 4, "RollbackFailed", False),
        RestoreOutcome("REJECTED", 2, "ApprovalRejected", True),
        RestoreOutcome("TIMED_OUT", 2, "ApprovalTimedOut", True),
        RestoreOutcome("REFUSED", 2, "RestoreRefused", True),
        RestoreOutcome("LOCKED", 2, "ListenerLocked", True),
        RestoreOutcome("LISTENER_CHANGED", 2, "ListenerChanged", True),
        # Failed before any change, for a reason that is not the user's (a timeout, a bug).
        RestoreOutcome("FAILED", 1, "RestoreFailed", True),
    )
}

# The state machine's Fail errors, and the exit code each means for whoever started it.
EXIT_CODE_OF_ERROR: dict[str, int] = {
    o.error: o.exit_code for o in OUTCOMES.values() if o.error is not None
}

# Error names (exception class names, as Step Functions sees them) that mean "refused before
# any change": the user's input or the listener's state, never a fault of ours. The restore
# machine's Catch blocks list exactly these before their States.ALL (tests check it).
REFUSAL_ERRORS: tuple[str, ...] = (
    "InvalidInput",
    "SnapshotInvalid",
    "TargetGroupsMissing",
    "RestoreRefused",
    "ListenerNotFound",
    "IntegrityFailed",
)


def exit_code_of(outcome: str) -> int:
    """The CLI exit code of a restore outcome (1 for a name this table does not know)."""
    found = OUTCOMES.get(outcome)
    return found.exit_code if found else 1


DrillStatus = Literal["RESTORABLE", "NOT_RESTORABLE", "CLEANUP_FAILED"]

#: The exit code of each way a drill ends (codes 3 and 4 stay a restore's own).
DRILL_EXIT_CODES: dict[str, int] = {"RESTORABLE": 0, "NOT_RESTORABLE": 5, "CLEANUP_FAILED": 6}
