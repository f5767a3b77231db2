"""S3 Object Lock on the stack's snapshots (the stack's ``SnapshotLockDays``).

Each snapshot the backup writes is locked by its own PutObject (``ObjectLockMode`` and
``ObjectLockRetainUntilDate``), in COMPLIANCE mode: until the date, no one can delete that
version or shorten its lock, not even the account's root user, and a PutObject to its key only
adds a newer version. COMPLIANCE, not GOVERNANCE, because a GOVERNANCE lock yields to anyone
with ``s3:BypassGovernanceRetention``, which an administrator can grant themselves: it would
hold against no one the bucket policy does not already stop. The price is that a lock set by
mistake cannot be undone; MAX_LOCK_DAYS bounds it, and a snapshot is a few kilobytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .errors import InvalidInput

MODE = "COMPLIANCE"
MAX_LOCK_DAYS = 365  # template.yaml's SnapshotLockDays MaxValue


@dataclass(frozen=True)
class SnapshotLock:
    """How long a new snapshot is locked (``days`` > 0)."""

    days: int

    def until(self, now: datetime) -> datetime:
        """The retain-until date of a snapshot written at ``now`` (timezone-aware)."""
        return now + timedelta(days=self.days)

    def put_object_arguments(self, now: datetime) -> dict[str, object]:
        """What a PutObject adds to lock the version it writes."""
        return {"ObjectLockMode": MODE, "ObjectLockRetainUntilDate": self.until(now)}


def parse_lock_days(text: str | None, where: str) -> SnapshotLock | None:
    """The lock a setting asks for: None for empty or 0; InvalidInput for anything but a whole
    number of days from 0 to MAX_LOCK_DAYS."""
    value = (text or "").strip()
    if value in ("", "0"):
        return None
    if not value.isdigit() or len(value) > 3 or not 0 < int(value) <= MAX_LOCK_DAYS:
        raise InvalidInput(
            f"{where} is {value[:20]!r}; it must be a whole number of days from 0 (no lock) to "
            f"{MAX_LOCK_DAYS}: fix the stack's SnapshotLockDays parameter"
        )
    return SnapshotLock(int(value))
