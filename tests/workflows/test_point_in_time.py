"""The restore machine's point-in-time input ({listener_arn, at} and {before_change}) refused
in one sentence, before any change, whenever it names no version to restore; and its catalog
rows written by the real backup machine, run twice around a change."""

from __future__ import annotations

from typing import Any

import pytest

from albrules.aws import Aws
from albrules.catalog import Catalog
from albrules.moments import moment_of
from stack import Stack, break_listener, checksum, shop


def back_up(stack: Stack, listener: str) -> None:
    result = stack.run("backup", stack.backup_targets(listener_arns=[listener]))
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["stored"] == 1


def rules_of(stack: Stack, listener: str) -> list[tuple[int, Any]]:
    state = stack.world.state(listener)
    return [(r.priority, r.model_dump(mode="json", exclude={"arn"})) for r in state.rules]


def test_the_backup_machine_twice_around_a_change_then_at_restores_the_first(
    stack: Stack,
) -> None:
    listener = shop(stack)
    back_up(stack, listener)
    before = rules_of(stack, listener)
    break_listener(stack, listener)
    back_up(stack, listener)
    newer, older = Catalog(Aws(stack.session), stack.table).history(listener)
    # started by the test, not the schedule: a manual backup (its StartExecution in CloudTrail)
    assert (older.trigger, newer.trigger) == ("manual", "manual")
    at = moment_of(newer.taken_at).isoformat()[:-6]  # no zone: UTC; the newer one itself

    result = stack.run("restore", {"listener_arn": listener, "at": at, "dry_run": True})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["snapshot_location"] == newer.location  # at or before: it is at
    assert result.output["plan"]["changes"] == 0

    # exactly when the first was taken, as the catalog writes it
    result = stack.run("restore", {"listener_arn": listener, "at": older.taken_at})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["snapshot_location"] == older.location
    assert rules_of(stack, listener) == before


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"at": "1w"}, "holds no snapshot of"),
        ({"at": "2999-01-01T00:00:00Z"}, "at '2999-01-01T00:00:00Z' is 2999-01-01T00:00:00Z, in"),
        ({"at": "soon"}, "at 'soon' is not a time albrules can read"),
        ({"before_change": "no-such-event"}, "recorded CloudTrail event no-such-event"),
        ({"at": "1h", "before_change": "e"}, "give one of snapshot"),
        ({"at": "1h", "snapshot": "k"}, "not snapshot and at"),
        ({}, "give one of snapshot (an S3 key, s3:// URI or catalog id), at (with listener_arn)"),
    ],
)
def test_a_point_in_time_naming_no_version_is_refused_before_any_change(
    stack: Stack, payload: dict[str, Any], words: str
) -> None:
    listener = shop(stack)
    back_up(stack, listener)
    break_listener(stack, listener)
    broken = checksum(stack, listener)
    given = {"listener_arn": listener, **payload} if payload else {"listener_arn": listener}

    result = stack.run("restore", given)

    assert result.status == "FAILED" and result.error == "RestoreRefused", result.cause
    assert words in (result.cause or ""), result.cause
    assert checksum(stack, listener) == broken
    assert Catalog(Aws(stack.session), stack.table).lock_holder(listener) is None


def test_at_needs_the_listener(stack: Stack) -> None:
    result = stack.run("restore", {"at": "1h"})
    assert result.error == "RestoreRefused"
    assert "at needs listener_arn: the listener whose history to choose from" in str(result.cause)
