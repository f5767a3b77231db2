"""A listener's history, and choosing a version of it: ``albrules history``, ``albrules diff``,
``plan``/``restore --at/--before-change`` and the restore machine's ``{listener_arn, at}`` /
``{listener_arn, before_change}`` input all come here (one library, many doors).

Versions are read from the stack's catalog (:class:`albrules.catalog.Catalog`: snapshots with
their trigger and the CloudTrail events they cover, and deletions), or from a directory or S3
prefix of snapshot files, which record no attribution (no trigger, no events, no deletions).

Choosing a version:

- ``at TIME``: the latest snapshot taken at or before TIME. A deletion at or before TIME does
  not stop it: the last snapshot before a deletion stays the one to restore.
- ``before_change EVENT``: the latest snapshot taken before that CloudTrail event and before
  the version that recorded it (a snapshot taken between the event and the version recording
  it, a sweep say, may already hold the change, so it is never chosen).

TIME is read by :mod:`albrules.moments` (ISO 8601 or relative, like ``90m``).

About CloudTrail (the "CloudTrail record contents" page): ``eventTime`` is when the request
*completed*, in UTC, from the clock of the service's host (NTP-synchronised); ``eventID`` is a
GUID (CloudTrail Data's ``AuditEventResultEntry``: 1 to 128 characters of ``[-_A-Za-z0-9]``,
hence :data:`MAX_EVENT_ID`). Not stated anywhere we found: the precision of ``eventTime``; the
examples show whole seconds, so a snapshot taken within the event's second is treated as
possibly after it (never chosen "before" it), and a host's clock skew against the snapshot
function's is assumed to be under a second.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from .arns import parse_listener_arn
from .catalog import Catalog
from .drift import ListenerDrift, RuleDrift, compare_snapshots
from .errors import InvalidInput, RestoreRefused
from .models import Snapshot, utc_stamp_iso
from .moments import moment_of, parse_time, zulu
from .store import Entry as StoreEntry
from .store import Store
from .versions import ChangeEvent, Version

_LOAD_BALANCER_NAME = re.compile(r":loadbalancer/app/(?P<name>[^/]+)/[0-9a-f]+$")
MAX_EVENT_ID = 128  # CloudTrail's are UUIDs; a DynamoDB partition key is at most 2,048 bytes
#: Reads the snapshot at a location (a path or an s3:// URI).
Reader = Callable[[str], Snapshot]
NO_ATTRIBUTION = (
    "snapshot files record no attribution (no trigger, no CloudTrail events, no deletions); "
    "the stack's catalog does"
)


# --- where versions come from --------------------------------------------------------------


class VersionSource(Protocol):
    """A listener's versions, newest first, from the catalog or from snapshot files."""

    @property
    def attributed(self) -> bool: ...

    @property
    def where(self) -> str: ...

    def versions(self, listener_arn: str) -> list[Version]: ...


@dataclass
class CatalogVersions:
    """The stack's catalog: snapshots with their trigger and events, and deletions."""

    catalog: Catalog
    attributed: bool = True

    @property
    def where(self) -> str:
        return f"the catalog table {self.catalog.table}"

    def versions(self, listener_arn: str) -> list[Version]:
        return self.catalog.history(listener_arn)


@dataclass
class StoreVersions:
    """The snapshot files of a directory or S3 prefix (``backup --out``): no attribution."""

    store: Store
    attributed: bool = False
    _listed: list[StoreEntry] | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        return self.store.location

    def _entries(self) -> list[StoreEntry]:
        """The store's snapshot files, newest first (listed once)."""
        if self._listed is None:
            self._listed = self.store.list()
        return self._listed

    def versions(self, listener_arn: str) -> list[Version]:
        parsed = parse_listener_arn(listener_arn)
        found = []
        for entry in self._entries():
            if (entry.account, entry.region, entry.load_balancer, entry.listener_id) != (
                parsed.account,
                parsed.region,
                parsed.load_balancer_name,
                parsed.listener_id,
            ):
                continue
            found.append(
                Version(
                    listener_arn=parsed.arn,
                    taken_at=utc_stamp_iso(entry.created_at),
                    snapshot_id=entry.short_checksum,
                    location=entry.location,
                )
            )
        return found

    def listeners_of(self, load_balancer: str, read: Reader) -> list[str]:
        """The listeners of a load balancer (name or ARN) that have snapshots here (the
        newest snapshot of each is read for its listener's ARN: file names do not hold it)."""
        balancer = _LOAD_BALANCER_NAME.search(load_balancer)
        name = balancer["name"] if balancer else load_balancer
        newest: dict[str, str] = {}
        for entry in self._entries():
            if entry.load_balancer == name:
                newest.setdefault(
                    f"{entry.account}/{entry.region}/{entry.listener_id}", entry.location
                )
        arns = [read(location).source.listener_arn for location in newest.values()]
        if balancer:
            arns = [
                a
                for a in arns
                if a.startswith(load_balancer.replace(":loadbalancer/", ":listener/"))
            ]
        return sorted(arns)


# --- describing a version ------------------------------------------------------------------


def provenance(version: Version, attributed: bool = True) -> str:
    """Why the version exists, in a few words: ``change by arn:... (ModifyRule)``,
    ``restore by execution ...``, ``schedule``; ``no attribution`` for snapshot files."""
    if not attributed:
        return "no attribution"
    what: str = version.kind if version.kind != "snapshot" else version.trigger
    if version.recreated_as:
        what = f"recreated as {version.recreated_as}"
    elif version.recreated_from:
        what = f"recreated from {version.recreated_from}"
    parts = [what]
    if version.events:
        calls = ", ".join(dict.fromkeys(e.name for e in version.events))
        parts.append(f"by {', '.join(version.changed_by)} ({calls})")
    if version.execution_arn:
        parts.append(f"in execution {version.execution_arn}")
    if version.more_events:
        parts.append(f"and {version.more_events} more event(s)")
    return " ".join(parts)


def event_public(event: ChangeEvent) -> dict[str, Any]:
    return event.model_dump(exclude_none=True)


# --- choosing a version --------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """The snapshot a point-in-time restore uses, and why (one sentence)."""

    version: Version
    reason: str
    how: dict[str, Any] = field(default_factory=dict)  # at / before_change, as resolved

    @property
    def location(self) -> str:
        assert self.version.location is not None
        return self.version.location

    def public(self) -> dict[str, Any]:
        """For JSON output, the restore state and the audit record."""
        return {
            "snapshot": self.version.location,
            "snapshot_id": self.version.snapshot_id,
            "taken_at": self.version.taken_at,
            "trigger": self.version.trigger,
            "changed_by": self.version.changed_by,
            "reason": self.reason,
            **self.how,
        }


def _taken(version: Version) -> datetime:
    return moment_of(version.taken_at)


def _described(version: Version, attributed: bool) -> str:
    return f"{version.location}, taken {zulu(_taken(version))} ({provenance(version, attributed)})"


def choose_at(
    source: VersionSource, listener_arn: str, at: datetime, *, given: str | None = None
) -> Choice:
    """The latest snapshot of the listener taken at or before ``at``; RestoreRefused (one
    sentence) when there is none."""
    versions = source.versions(listener_arn)
    until = [v for v in versions if _taken(v) <= at]
    snapshots = [v for v in until if v.kind == "snapshot" and v.location]
    shown = zulu(at) + (f" ({given})" if given and given.strip() != zulu(at) else "")
    if not snapshots:
        if until:
            raise RestoreRefused(
                f"{source.where} holds only a deletion of {listener_arn} at or before {shown}, "
                "no snapshot; nothing was changed, choose a later time (see albrules history)"
            )
        first = f"; its first is from {zulu(_taken(versions[-1]))}" if versions else ""
        raise RestoreRefused(
            f"{source.where} holds no snapshot of {listener_arn} taken at or before {shown}"
            f"{first}; nothing was changed (see albrules history --listener-arn {listener_arn})"
        )
    chosen = snapshots[0]
    deleted = [v for v in until if v.kind == "deletion" and _taken(v) > _taken(chosen)]
    note = f"; the listener was deleted at {zulu(_taken(deleted[-1]))}, after it" if deleted else ""
    return Choice(
        chosen,
        f"the latest snapshot at or before {shown}: {_described(chosen, source.attributed)}{note}",
        {"at": zulu(at)},
    )


def choose_before_change(
    catalog: Catalog, event_id: str, listener_arn: str | None = None
) -> Choice:
    """The latest snapshot taken before the CloudTrail event ``event_id`` and before the
    version that recorded it; RestoreRefused (one sentence) when the event is unknown, names
    another listener, or no snapshot comes before it.

    Given ``listener_arn``, the version is the listener's first that lists the event (an event
    such as DeleteLoadBalancer is recorded by several listeners, the index names one of them);
    without it, the one the catalog's event index names."""
    wanted = event_id.strip()
    if not wanted:
        raise InvalidInput("--before-change needs a CloudTrail event id (see albrules history)")
    if len(wanted) > MAX_EVENT_ID:
        raise InvalidInput(
            f"{wanted[:40]}... is not a CloudTrail event id (those are UUIDs, 36 characters); "
            "copy one from albrules history"
        )
    source = CatalogVersions(catalog)
    recorded: Version | None = None
    if listener_arn is not None:  # one event may change several listeners (DeleteLoadBalancer)
        changed = parse_listener_arn(listener_arn).arn
        versions = source.versions(changed)
        recorded = next(
            (v for v in reversed(versions) if any(e.id == wanted for e in v.events)), None
        )
    if recorded is None:
        found = catalog.find_event(wanted)
        if found is None:
            raise RestoreRefused(
                f"no version in the catalog table {catalog.table} recorded CloudTrail event "
                f"{wanted}; nothing was changed, check the id (albrules history lists them)"
            )
        changed = str(found.get("listener_arn") or "")
        if listener_arn is not None and parse_listener_arn(listener_arn).arn != changed:
            raise RestoreRefused(
                f"CloudTrail event {wanted} changed listener {changed}, not {listener_arn}; "
                "nothing was changed, drop the listener or give that one"
            )
        versions = source.versions(changed)
        recorded = next((v for v in versions if v.sort_key == found.get("version")), None)
        if recorded is None:
            raise RestoreRefused(
                f"the catalog indexes CloudTrail event {wanted} under a version of {changed} it "
                "no longer holds; nothing was changed"
            )
    event = next((e for e in recorded.events if e.id == wanted), None)
    limit = min(_taken(recorded), moment_of(event.time)) if event else _taken(recorded)
    position = (_taken(recorded), recorded.sort_key)
    earlier = [
        v
        for v in versions
        if v.kind == "snapshot"
        and v.location
        and (_taken(v), v.sort_key) < position
        and _taken(v) < limit
    ]
    what = f"{event.name} by {event.by} at {zulu(moment_of(event.time))}" if event else "a change"
    if not earlier:
        raise RestoreRefused(
            f"no snapshot of {changed} was taken before CloudTrail event {wanted} ({what}); "
            "nothing was changed"
        )
    chosen = earlier[0]
    recorder = "deletion" if recorded.kind == "deletion" else f"version of {zulu(_taken(recorded))}"
    return Choice(
        chosen,
        f"the latest snapshot before CloudTrail event {wanted} ({what}, recorded by the "
        f"{recorder}): {_described(chosen, True)}",
        {"before_change": wanted, "listener_arn": changed},
    )


#: The words for the choosing inputs: the CLI's options, or the restore machine's input fields.
CLI_NAMES = {"at": "--at", "before_change": "--before-change", "listener": "--listener-arn"}
INPUT_NAMES = {"at": "at", "before_change": "before_change", "listener": "listener_arn"}


def choose(
    source: VersionSource,
    *,
    listener_arn: str | None,
    at: str | None,
    before_change: str | None,
    now: datetime | None = None,
    names: dict[str, str] | None = None,
) -> Choice:
    """The version ``at`` or ``before_change`` names (exactly one of them), from ``source``."""
    words = names or CLI_NAMES
    if (at is None) == (before_change is None):
        raise InvalidInput(
            f"give {words['at']} TIME or {words['before_change']} EVENT_ID (one of them)"
        )
    if before_change is not None:
        if not isinstance(source, CatalogVersions):
            raise InvalidInput(
                f"{words['before_change']} needs the stack's catalog: {NO_ATTRIBUTION}; drop --from"
            )
        return choose_before_change(source.catalog, before_change, listener_arn)
    assert at is not None
    if not listener_arn:
        raise InvalidInput(f"{words['at']} needs the listener: give {words['listener']} ARN")
    listener = parse_listener_arn(listener_arn).arn
    moment = parse_time(at, now=now or datetime.now(UTC), what=words["at"])
    return choose_at(source, listener, moment, given=at)


def check_chosen(choice: Choice, snapshot: Snapshot) -> None:
    """The snapshot read is the one the catalog records (its checksum), else RestoreRefused."""
    recorded = choice.version.checksum
    if recorded and snapshot.checksum != recorded:
        raise RestoreRefused(
            f"{choice.location} is not the snapshot the catalog records (its checksum is "
            f"{snapshot.checksum[:12]}..., the catalog's {recorded[:12]}...); nothing was changed"
        )


# --- the history ---------------------------------------------------------------------------


@dataclass
class Entry:
    """One version of a listener's history and what changed since the snapshot before it."""

    version: Version
    attributed: bool
    previous: Version | None = None  # the snapshot compared with (None: the first one)
    drift: ListenerDrift | None = None  # None: a deletion, or nothing before it

    @property
    def changes(self) -> list[RuleDrift] | None:
        if self.version.kind != "snapshot" or self.previous is None:
            return None
        return self.drift.changes if self.drift else []

    def summary(self) -> str:
        if self.version.kind == "deletion":
            return "the listener was deleted"
        if self.version.recreated_as:
            return f"the listener was recreated as {self.version.recreated_as}"
        if self.version.recreated_from:
            return f"this listener was recreated from {self.version.recreated_from}"
        if self.previous is None:
            return "the first version here: nothing before it to compare with"
        if not self.changes:
            return "no change to the routing since the version before"
        assert self.drift is not None
        return self.drift.summary()

    def _counts(self) -> dict[str, int] | None:
        if self.changes is None:
            return None
        if self.drift is None:
            return dict.fromkeys(("added", "removed", "changed", "moved", "default_actions"), 0)
        return self.drift.counts()

    def public(self) -> dict[str, Any]:
        version = self.version
        changes = self.changes
        return {
            "listener_arn": version.listener_arn,
            "kind": version.kind,
            "snapshot": version.location,
            "snapshot_id": version.snapshot_id,
            "taken_at": version.taken_at,
            "trigger": version.trigger if self.attributed else None,
            "attributed": self.attributed,
            "changed_by": version.changed_by,
            "events": [event_public(e) for e in version.events],
            "more_events": version.more_events,
            "execution_arn": version.execution_arn,
            "recreated_as": version.recreated_as,
            "recreated_from": version.recreated_from,
            "rules": version.rules,
            "previous": self.previous.location if self.previous else None,
            "summary": self.summary(),
            "counts": self._counts(),
            "changes": (
                [c.model_dump(mode="json") for c in changes] if changes is not None else None
            ),
        }


def listener_history(
    source: VersionSource,
    listener_arn: str,
    read: Reader,
    *,
    since: datetime | None = None,
) -> list[Entry]:
    """The listener's versions newest first (those taken at or after ``since``), each with
    what changed since the snapshot before it (read with ``read``, once per location)."""
    versions = source.versions(parse_listener_arn(listener_arn).arn)
    cache: dict[str, Snapshot] = {}

    def snapshot(version: Version) -> Snapshot:
        location = version.location or ""
        if location not in cache:
            cache[location] = read(location)
        return cache[location]

    entries: list[Entry] = []
    oldest_first = list(reversed(versions))
    previous: Version | None = None
    for version in oldest_first:
        entry = Entry(version, source.attributed, previous)
        shown = since is None or _taken(version) >= since
        if version.kind == "snapshot" and version.location:
            if shown and previous is not None:
                entry.drift = _drift(previous, version, snapshot)
            previous = version
        if shown:
            entries.append(entry)
    return list(reversed(entries))


def _drift(before: Version, after: Version, snapshot: Callable[[Version], Snapshot]) -> Any:
    """The drift from ``before`` to ``after`` (None when the catalog says they hold the same
    routing: same checksum, nothing to read)."""
    if before.checksum and before.checksum == after.checksum:
        return None
    return compare_snapshots(snapshot(before), before.location or "", snapshot(after))


def diff(before: Snapshot, before_location: str, after: Snapshot) -> ListenerDrift:
    """``albrules diff A B``: what changed from A to B, in drift's words."""
    return compare_snapshots(before, before_location, after)
