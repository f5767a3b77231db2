"""Choosing a version of a listener's history (albrules.history): reading TIME, ``--at`` and
``--before-change``, on versions given directly (no AWS)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from albrules.errors import InvalidInput, RestoreRefused
from albrules.history import CatalogVersions, choose, choose_at
from albrules.models import utc_stamp_iso
from albrules.moments import parse_time, zulu
from albrules.versions import ChangeEvent, Version

LISTENER = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/0123456789abcdef/"
    "fedcba9876543210"
)
NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)
ALICE = "arn:aws:iam::123456789012:user/alice"


def snapshot(taken: datetime, name: str, **fields: Any) -> Version:
    stamp = utc_stamp_iso(taken)
    return Version(
        listener_arn=LISTENER,
        taken_at=stamp,
        snapshot_id=name,
        location=f"s3://bucket/snapshots/{name}.json",
        checksum=name * 4,
        sort_key=f"SNAPSHOT#{stamp}#{name}",
        **fields,
    )


def deletion(taken: datetime, event: ChangeEvent) -> Version:
    stamp = taken.strftime("%Y-%m-%dT%H:%M:%SZ")  # as CloudTrail writes times
    return Version(
        kind="deletion",
        listener_arn=LISTENER,
        taken_at=stamp,
        trigger="change",
        events=[event],
        sort_key=f"DELETION#{stamp}#{event.id}",
    )


def event(eid: str, at: datetime, name: str = "ModifyRule") -> ChangeEvent:
    return ChangeEvent(id=eid, name=name, time=at.strftime("%Y-%m-%dT%H:%M:%SZ"), by=ALICE)


@dataclass
class Versions:
    """A VersionSource over a fixed list (newest first, as the catalog gives them)."""

    listed: list[Version]
    attributed: bool = True
    where: str = "the catalog table T"

    def versions(self, listener_arn: str) -> list[Version]:
        assert listener_arn == LISTENER
        return sorted(self.listed, key=lambda v: (v.taken_at, v.sort_key), reverse=True)


@dataclass
class FakeCatalog:
    """What choose_before_change reads of a Catalog: its events index and the history."""

    listed: list[Version]
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    table: str = "T"

    def find_event(self, event_id: str) -> dict[str, Any] | None:
        return self.events.get(event_id)

    def history(self, listener_arn: str, since: str | None = None) -> list[Version]:
        return Versions(self.listed).versions(listener_arn) if listener_arn == LISTENER else []


def at(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


# --- reading TIME ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-03T10:30:00Z", datetime(2026, 12, 3, 10, 30, tzinfo=UTC)),
        ("2026-12-03T10:30:00", datetime(2026, 12, 3, 10, 30, tzinfo=UTC)),  # no zone: UTC
        ("2026-12-03T11:30:00+01:00", datetime(2026, 12, 3, 10, 30, tzinfo=UTC)),
        ("2026-12-03 10:30", datetime(2026, 12, 3, 10, 30, tzinfo=UTC)),
        ("2026-12-03", datetime(2026, 12, 3, tzinfo=UTC)),
        ("90m", NOW - timedelta(minutes=90)),
        ("2h", NOW - timedelta(hours=2)),
        ("1d", NOW - timedelta(days=1)),
        (" 30s ", NOW - timedelta(seconds=30)),
        ("1W", NOW - timedelta(weeks=1)),
    ],
)
def test_times_read_as_iso_8601_or_relative(text: str, expected: datetime) -> None:
    assert parse_time(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "10:30", "90", "-5m", "5 minutes", "", "2026-13-01"])
def test_an_unreadable_time_is_one_sentence_naming_the_forms(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"is not a time albrules can read; give ISO 8601"):
        parse_time(text, now=NOW, what="--at")


def test_a_time_in_the_future_is_refused_with_now() -> None:
    with pytest.raises(InvalidInput, match=r"in the future \(it is 2026-12-03T12:00:00Z now\)"):
        parse_time("2026-12-03T12:00:01Z", now=NOW)
    assert parse_time("2026-12-03T12:00:00Z", now=NOW) == NOW  # now itself has passed


@given(st.datetimes(max_value=datetime(2026, 12, 3, 12), timezones=st.just(UTC)))
def test_any_past_iso_time_reads_back_as_itself(moment: datetime) -> None:
    assert parse_time(moment.isoformat(), now=NOW) == moment
    assert parse_time(moment.replace(tzinfo=None).isoformat(), now=NOW) == moment


@given(st.integers(0, 10**6), st.sampled_from(["s", "m", "h", "d", "w"]))
def test_a_relative_time_is_that_long_before_now(n: int, unit: str) -> None:
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit] * n
    if seconds > (NOW - datetime.min.replace(tzinfo=UTC)).total_seconds():
        with pytest.raises(InvalidInput, match="further back than any time"):
            parse_time(f"{n}{unit}", now=NOW)
        return
    assert NOW - parse_time(f"{n}{unit}", now=NOW) == timedelta(seconds=seconds)


# --- --at ----------------------------------------------------------------------------------


def test_at_chooses_the_latest_snapshot_at_or_before_and_says_why() -> None:
    versions = Versions(
        [
            snapshot(at(120), "a" * 12),
            snapshot(at(115), "b" * 12, trigger="change", events=[event("e1", at(116))]),
            snapshot(at(90), "c" * 12, trigger="change", events=[event("e2", at(91))]),
        ]
    )
    choice = choose_at(versions, LISTENER, at(100))
    assert choice.version.snapshot_id == "b" * 12
    assert choice.reason == (
        "the latest snapshot at or before 2026-12-03T10:20:00Z: "
        "s3://bucket/snapshots/bbbbbbbbbbbb.json, taken 2026-12-03T10:05:00Z "
        f"(change by {ALICE} (ModifyRule))"
    )
    assert choose_at(versions, LISTENER, at(115)).version.snapshot_id == "b" * 12  # at: included
    assert choose_at(versions, LISTENER, NOW).version.snapshot_id == "c" * 12


def test_at_before_the_first_snapshot_is_refused_naming_the_first() -> None:
    versions = Versions([snapshot(at(60), "a" * 12)])
    with pytest.raises(RestoreRefused, match=r"no snapshot .* taken at or before .*its first is"):
        choose_at(versions, LISTENER, at(61))
    with pytest.raises(RestoreRefused, match="holds no snapshot"):
        choose_at(Versions([]), LISTENER, NOW)


def test_after_a_deletion_the_last_snapshot_before_it_is_chosen() -> None:
    gone = deletion(at(30), event("del", at(30), "DeleteListener"))
    versions = Versions([snapshot(at(60), "a" * 12), gone])
    choice = choose_at(versions, LISTENER, at(10))
    assert choice.version.snapshot_id == "a" * 12
    assert "the listener was deleted at 2026-12-03T11:30:00Z, after it" in choice.reason


def test_only_a_deletion_is_refused() -> None:
    versions = Versions(
        [deletion(at(30), event("del", at(30), "DeleteListener")), snapshot(at(5), "a" * 12)]
    )
    with pytest.raises(RestoreRefused, match=r"holds only a deletion .* no snapshot"):
        choose_at(versions, LISTENER, at(20))


times = st.lists(st.integers(0, 600), min_size=0, max_size=12, unique=True)


@given(times, st.integers(0, 700), st.sets(st.integers(0, 11)))
def test_at_is_the_newest_snapshot_not_after_time(
    minutes: list[int], when: int, deleted: set[int]
) -> None:
    """Any history (some entries deletions): the choice is the newest snapshot taken at or
    before TIME; a refusal exactly when there is none."""
    listed = [
        deletion(at(m), event(f"e{i}", at(m), "DeleteListener"))
        if i in deleted
        else snapshot(at(m), f"{i:012x}")
        for i, m in enumerate(minutes)
    ]
    moment = at(when)
    candidates = [
        v for v in listed if v.kind == "snapshot" and at(minutes[listed.index(v)]) <= moment
    ]
    if not candidates:
        with pytest.raises(RestoreRefused):
            choose_at(Versions(listed), LISTENER, moment)
        return
    chosen = choose_at(Versions(listed), LISTENER, moment).version
    newest = max(candidates, key=lambda v: v.taken_at)
    assert chosen == newest


def test_choose_needs_exactly_one_way_and_at_needs_the_listener() -> None:
    source = Versions([snapshot(at(60), "a" * 12)])
    with pytest.raises(InvalidInput, match="give --at TIME or --before-change EVENT_ID"):
        choose(source, listener_arn=LISTENER, at=None, before_change=None)
    with pytest.raises(InvalidInput, match="one of them"):
        choose(source, listener_arn=LISTENER, at="1h", before_change="e1")
    with pytest.raises(InvalidInput, match="--at needs the listener: give --listener-arn ARN"):
        choose(source, listener_arn=None, at="1h", before_change=None)
    with pytest.raises(InvalidInput, match="at needs the listener: give listener_arn ARN"):
        choose(
            source,
            listener_arn=None,
            at="1h",
            before_change=None,
            names={"at": "at", "before_change": "before_change", "listener": "listener_arn"},
        )
    with pytest.raises(InvalidInput, match="--before-change needs the stack's catalog"):
        choose(source, listener_arn=LISTENER, at=None, before_change="e1")
    picked = choose(source, listener_arn=LISTENER, at="30m", before_change=None, now=NOW)
    assert picked.how == {"at": "2026-12-03T11:30:00Z"}


# --- --before-change -----------------------------------------------------------------------


def before_change_world() -> FakeCatalog:
    """10:00 a sweep; 10:30:05 alice's bad change (e-bad); a sweep at 10:30:10 that already
    holds it; 10:30:40 the change-triggered version that records it."""
    sweep = snapshot(datetime(2026, 12, 3, 10, 0, tzinfo=UTC), "a" * 12)
    bad = event("e-bad", datetime(2026, 12, 3, 10, 30, 5, tzinfo=UTC), "DeleteRule")
    early_sweep = snapshot(datetime(2026, 12, 3, 10, 30, 10, tzinfo=UTC), "b" * 12)
    recorded = snapshot(
        datetime(2026, 12, 3, 10, 30, 40, tzinfo=UTC), "c" * 12, trigger="change", events=[bad]
    )
    return FakeCatalog(
        [sweep, early_sweep, recorded],
        {"e-bad": {"listener_arn": LISTENER, "version": recorded.sort_key}},
    )


def test_before_change_is_the_snapshot_before_the_event_and_its_version() -> None:
    catalog = before_change_world()
    choice = choose(CatalogVersions(catalog), listener_arn=None, at=None, before_change="e-bad")  # type: ignore[arg-type]
    assert choice.version.snapshot_id == "a" * 12  # not the sweep taken after the event
    assert choice.reason.startswith(
        f"the latest snapshot before CloudTrail event e-bad (DeleteRule by {ALICE} at "
        "2026-12-03T10:30:05Z, recorded by the version of 2026-12-03T10:30:40Z): "
        "s3://bucket/snapshots/aaaaaaaaaaaa.json, taken 2026-12-03T10:00:00Z (schedule)"
    )
    assert choice.how == {"before_change": "e-bad", "listener_arn": LISTENER}


def test_before_change_refusals() -> None:
    catalog = before_change_world()
    source = CatalogVersions(catalog)  # type: ignore[arg-type]
    with pytest.raises(RestoreRefused, match="recorded CloudTrail event nope; nothing was changed"):
        choose(source, listener_arn=None, at=None, before_change="nope")
    with pytest.raises(InvalidInput, match="is not a CloudTrail event id"):
        choose(source, listener_arn=None, at=None, before_change="x" * 129)
    other = LISTENER.replace("fedcba9876543210", "0000000000000001")
    with pytest.raises(RestoreRefused, match=f"changed listener {LISTENER}, not {other}"):
        choose(source, listener_arn=other, at=None, before_change="e-bad")
    first = event("e-first", datetime(2026, 12, 3, 9, 0, tzinfo=UTC), "CreateRule")
    catalog.listed.append(
        snapshot(datetime(2026, 12, 3, 9, 0, 30, tzinfo=UTC), "d" * 12, events=[first])
    )
    catalog.events["e-first"] = {"listener_arn": LISTENER, "version": catalog.listed[-1].sort_key}
    with pytest.raises(
        RestoreRefused, match=r"no snapshot of .* was taken before CloudTrail event"
    ):
        choose(source, listener_arn=LISTENER, at=None, before_change="e-first")


def test_zulu_keeps_milliseconds_only_when_there_are_some() -> None:
    assert zulu(NOW) == "2026-12-03T12:00:00Z"
    assert zulu(NOW + timedelta(milliseconds=5)) == "2026-12-03T12:00:00.005Z"


# --- the restore machine's input and messages ------------------------------------------------


def test_the_restore_input_names_one_snapshot_or_one_way_to_choose_it() -> None:
    from albrules.state_documents import RestoreRequest, parse

    ok = parse(RestoreRequest, {"listener_arn": f" {LISTENER}\n", "at": "90m"}, "input")
    assert (ok.snapshot, ok.at, ok.listener_arn) == (None, "90m", LISTENER)
    assert parse(RestoreRequest, {"before_change": "e-1"}, "input").before_change == "e-1"
    assert parse(RestoreRequest, {"snapshot": "k"}, "input").snapshot == "k"  # as before
    for payload, words in [
        ({}, "give one of snapshot (an S3 key, s3:// URI or catalog id), at (with listener_arn)"),
        ({"snapshot": "k", "before_change": "e"}, "not snapshot and before_change"),
        ({"at": "1h"}, "at needs listener_arn"),
        ({"listener_arn": LISTENER, "at": "soon"}, "at 'soon' is not a time albrules can read"),
        ({"listener_arn": LISTENER, "at": "2999-01-01"}, "in the future"),
        ({"before_change": "x" * 129}, "at most 128 characters"),
    ]:
        with pytest.raises(InvalidInput, match=re.escape(words)):
            parse(RestoreRequest, payload, "the restore input")


def test_messages_say_why_the_snapshot_was_chosen() -> None:
    from albrules import notifications
    from albrules.state_documents import RestoreState

    reason = "the latest snapshot at or before 2026-12-03T10:30:00Z: s3://b/k.json, taken ..."
    state = RestoreState(
        request={"listener_arn": LISTENER, "at": "2026-12-03T10:30:00Z"},
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:r:1",
        listener_arn=LISTENER,
        snapshot_location="s3://b/k.json",
        snapshot_choice={"snapshot": "s3://b/k.json", "reason": reason},
    )
    for note in (
        notifications.approval_request(state, {}, 0),
        notifications.restore_outcome(state, "RESTORED"),
    ):
        assert f"Chosen as {reason}" in note.message
    plain = state.model_copy(update={"snapshot_choice": None})
    assert "Chosen as" not in notifications.restore_outcome(plain, "RESTORED").message


def test_an_event_several_listeners_recorded_is_found_in_the_listener_given() -> None:
    """DeleteLoadBalancer changes every listener of the balancer; the event index names one
    of them. Given the listener, its own version that lists the event is the one."""
    catalog = before_change_world()
    other = LISTENER.replace("fedcba9876543210", "0000000000000001")
    catalog.events["e-bad"] = {"listener_arn": other, "version": "SNAPSHOT#elsewhere"}
    choice = choose(
        CatalogVersions(catalog),  # type: ignore[arg-type]
        listener_arn=LISTENER,
        at=None,
        before_change="e-bad",
    )
    assert choice.version.snapshot_id == "a" * 12 and choice.how["listener_arn"] == LISTENER
