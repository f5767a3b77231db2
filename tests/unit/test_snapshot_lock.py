"""The snapshot lock's settings and the retention changes AWS refuses (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from albrules.errors import InvalidInput
from albrules.local.object_lock import parse_until, retention_change_refused
from albrules.snapshot_lock import MAX_LOCK_DAYS, MODE, SnapshotLock, parse_lock_days

NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


def test_zero_or_empty_locks_nothing_and_days_lock_for_that_long() -> None:
    assert parse_lock_days("", "X") is None and parse_lock_days(None, "X") is None
    assert parse_lock_days("0", "X") is None
    lock = parse_lock_days("30", "X")
    assert lock == SnapshotLock(30)
    assert lock.until(NOW) == NOW + timedelta(days=30)
    assert lock.put_object_arguments(NOW) == {
        "ObjectLockMode": "COMPLIANCE",
        "ObjectLockRetainUntilDate": NOW + timedelta(days=30),
    }
    assert MODE == "COMPLIANCE" and parse_lock_days(str(MAX_LOCK_DAYS), "X") is not None


@pytest.mark.parametrize("text", ["-1", "1.5", "x", str(MAX_LOCK_DAYS + 1), "9" * 5000, "1e3"])
def test_anything_but_whole_days_in_range_is_one_clear_sentence(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"_LOCK_DAYS is .* whole number") as err:
        parse_lock_days(text, "ALBRULES_SNAPSHOT_LOCK_DAYS")
    assert "SnapshotLockDays" in str(err.value) and len(str(err.value)) < 200


def _at(delta: timedelta) -> str:
    return (NOW + delta).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("current", "new", "bypass", "refused"),
    [
        # COMPLIANCE in force: extend only, whoever asks.
        (("COMPLIANCE", _at(DAY)), ("COMPLIANCE", _at(2 * DAY)), False, False),
        (("COMPLIANCE", _at(DAY)), ("COMPLIANCE", _at(DAY / 2)), True, True),
        (("COMPLIANCE", _at(DAY)), ("GOVERNANCE", _at(2 * DAY)), True, True),
        (("COMPLIANCE", _at(DAY)), (None, None), True, True),
        # GOVERNANCE in force: weakened only with the bypass header.
        (("GOVERNANCE", _at(DAY)), ("GOVERNANCE", _at(DAY / 2)), False, True),
        (("GOVERNANCE", _at(DAY)), ("GOVERNANCE", _at(DAY / 2)), True, False),
        (("GOVERNANCE", _at(DAY)), ("COMPLIANCE", _at(DAY)), False, False),
        # Nothing in force (never locked, or the lock has ended): anything goes.
        ((None, None), ("COMPLIANCE", _at(DAY)), False, False),
        (("COMPLIANCE", _at(-DAY)), (None, None), False, False),
    ],
)
def test_a_retention_in_force_is_extended_never_weakened(
    current: tuple[str | None, str | None],
    new: tuple[str | None, str | None],
    bypass: bool,
    refused: bool,
) -> None:
    assert retention_change_refused(current, new, bypass=bypass, now=NOW) is refused


def test_retain_until_dates_parse_with_or_without_fractions() -> None:
    assert parse_until("2026-11-23T17:00:00Z") == NOW
    assert parse_until("2026-11-23T17:00:00.000000Z") == NOW
    assert parse_until(None) is None
