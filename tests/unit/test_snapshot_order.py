"""Snapshots of one listener order by when they were taken, to the millisecond.

Two backups of a listener can land in the same second (a change-triggered backup right after
another, a pre-restore snapshot right after a backup): "the latest snapshot" must still be the
one taken last, in a directory as in the catalog's sort key, and keys written by earlier
versions (whole seconds) still read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from albrules.models import utc_stamp_iso
from albrules.snapshot import build_snapshot, loads, to_document
from albrules.store import Store, stamp
from rule_builders import fixed, path

from .elbv2_model import Elbv2Model, capture_state


def listener(*statuses: str) -> Elbv2Model:
    model = Elbv2Model()
    for i, status in enumerate(statuses, start=1):
        model.create_rule(
            ListenerArn=model.listener_arn,
            Priority=i,
            Conditions=[path(f"/{i}")],
            Actions=[fixed(status)],
        )
    return model


def test_stamps_carry_milliseconds_and_sort_as_text_in_time_order() -> None:
    moments = [
        datetime(2026, 12, 3, 10, 20, 45, 999_000, tzinfo=UTC),
        datetime(2026, 12, 3, 10, 20, 45, 7_000, tzinfo=UTC),
        datetime(2026, 12, 3, 10, 20, 45, tzinfo=UTC),
        datetime(2026, 12, 3, 10, 20, 46, 500_999, tzinfo=UTC),
    ]
    assert stamp(moments[1]) == "20261203T102045.007Z"
    assert utc_stamp_iso(moments[3]) == "2026-12-03T10:20:46.500Z"
    assert sorted(moments, key=stamp) == sorted(moments)
    assert sorted(moments, key=utc_stamp_iso) == sorted(moments)


def test_the_latest_of_two_snapshots_taken_in_one_second_is_the_one_taken_last(
    tmp_path: Path,
) -> None:
    store = Store(str(tmp_path))
    second = datetime(2026, 12, 3, 10, 20, 45, tzinfo=UTC)
    saved = []
    # the later snapshot's checksum sorts first, so only the time can order them
    for offset_ms, model in ((100, listener("200")), (900, listener("503", "404"))):
        moment = second.replace(microsecond=offset_ms * 1000)
        snapshot = build_snapshot(capture_state(model, model.listener_arn), created_at=moment)
        saved.append(store.save(snapshot))
    first, last = saved
    assert first.written and last.written and last.previous == first.location
    entries = store.list()
    assert [e.location for e in entries] == [last.location, first.location]
    assert entries[0].created_at == second.replace(microsecond=900_000)
    document = json.loads(Path(last.location).read_text())
    assert document["created_at"] == "2026-12-03T10:20:45.900Z"


def test_keys_written_in_whole_seconds_still_read(tmp_path: Path) -> None:
    model = listener("200")
    snapshot = build_snapshot(
        capture_state(model, model.listener_arn), created_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    saved = Store(str(tmp_path)).save(snapshot)
    old = Path(saved.location)
    renamed = old.with_name("20260101T000000Z-" + old.name.split("-", 1)[1])
    old.rename(renamed)
    document = to_document(snapshot)
    document["created_at"] = "2026-01-01T00:00:00Z"  # as earlier versions wrote it
    renamed.write_text(json.dumps(document))
    [entry] = Store(str(tmp_path)).list()
    assert entry.location == str(renamed)
    assert entry.created_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert loads(renamed.read_bytes(), str(renamed)).created_at == datetime(2026, 1, 1, tzinfo=UTC)
    latest = Store(str(tmp_path)).latest_checksum(snapshot.source)
    assert latest == (str(renamed), snapshot.checksum)
