"""Typed exceptions. Each carries the CLI exit code of the contract and one clear sentence.

The class names are stable: Step Functions Retry/Catch blocks match on them (a Lambda
handler's exception class name is the error name a state machine sees).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One problem found in a snapshot document, with its path (``rules[3].conditions[0]``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class AlbRulesError(Exception):
    """Base class. ``str(err)`` is the one-sentence message shown to the user."""

    exit_code = 1


class InvalidInput(AlbRulesError):
    """The user's input (file, option, selector) is wrong; nothing was changed in AWS."""

    exit_code = 2


class SnapshotInvalid(InvalidInput):
    """A snapshot document failed validation; ``problems`` lists every problem found."""

    def __init__(self, source: str, problems: list[Problem], more: int = 0):
        self.source = source
        self.problems = problems
        self.more = more  # problems found but not kept (validation keeps the first 100)
        count = len(problems) + more
        noun = "problem" if count == 1 else "problems"
        super().__init__(
            f"{source} is not a valid snapshot ({count:,} {noun}); fix the file or take a new "
            "backup"
        )


class TargetGroupsMissing(SnapshotInvalid):
    """The snapshot is sound, but target groups it forwards to do not exist where it goes."""

    def __init__(self, where: str, problems: list[Problem]):
        self.source = "the snapshot"
        self.problems = problems
        self.more = 0
        count = len(problems)
        InvalidInput.__init__(
            self,
            f"{count} target group reference(s) of the snapshot do not exist in {where} "
            f"(first: {problems[0]}); nothing was changed",
        )


class RestoreRefused(InvalidInput):
    """The restore was refused before any change (missing secret, conflict, stale plan...)."""


class IntegrityFailed(InvalidInput):
    """A snapshot or plan is not the one the stack wrote or approved: its seal is missing or
    does not verify, it is not what the catalog records, or the plan is not the approved one.
    Nothing was changed."""


class AwsCallFailed(AlbRulesError):
    """An AWS call failed in a way the user must act on (access, throttling, not found)."""

    def __init__(self, message: str, *, code: str = "", operation: str = ""):
        self.code = code
        self.operation = operation
        super().__init__(message)


class AwsThrottled(AwsCallFailed):
    """AWS kept throttling after the SDK's own retries; the state machine retries later."""


class ListenerNotFound(InvalidInput):
    """The listener (or load balancer) named by the user does not exist."""


class ApplyFailed(AlbRulesError):
    """A mutating call failed part-way through a plan."""

    def __init__(self, message: str, *, index: int, journal: list[dict[str, Any]]):
        self.index = index
        self.journal = journal
        super().__init__(message)


class VerifyFailed(AlbRulesError):
    """After applying, the listener does not equal the expected state."""

    def __init__(self, message: str, differences: list[str]):
        self.differences = differences
        super().__init__(message)


class ListenerLocked(InvalidInput):
    """Another restore holds the listener's lock; nothing was changed."""


class LockLost(RestoreRefused):
    """The restore no longer holds its listener's lock (it expired, or another restore took
    it) when it was about to change the listener; nothing was changed."""


class ListenerChanged(RestoreRefused):
    """The listener changed after its pre-restore snapshot was taken; nothing was changed."""


class RollbackFailed(AlbRulesError):
    """The rollback did not bring the listener back to its pre-restore snapshot."""

    exit_code = 4

    def __init__(self, message: str, differences: list[str] | None = None):
        self.differences = list(differences or [])
        super().__init__(message)


class ApprovalError(InvalidInput):
    """An approval or rejection could not be taken (unknown, used, expired or forged link)."""


class SelfApproval(ApprovalError):
    """The verified requester of a restore tried to approve it (four eyes)."""


class RequesterUnknown(ApprovalError):
    """The requester is not in CloudTrail yet, so four eyes cannot be checked (fails closed)."""


class DecisionUndelivered(AlbRulesError):
    """The decision is recorded, but Step Functions did not take it yet (throttled): the same
    decision again delivers it."""
