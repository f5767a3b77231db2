"""Times people give albrules (``--at``, ``--since``, a restore's ``at``) and times the
catalog and CloudTrail write, read as aware UTC datetimes.

A time people give is ISO 8601, with a zone or without one (then UTC), or relative to now:
``90s``, ``90m``, ``2h``, ``1d``, ``1w``. Catalog and CloudTrail times are compared as times,
not as text: a snapshot's ``2026-12-03T10:05:31.000Z`` and CloudTrail's
``2026-12-03T10:05:31Z`` are the same moment.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from .errors import InvalidInput
from .models import utc_stamp_iso

_RELATIVE = re.compile(r"^(?P<n>\d{1,7})\s*(?P<unit>[smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_FORMS = "ISO 8601 (2026-12-03T10:30:00Z, or without a zone for UTC) or relative (90m, 2h, 1d)"


def parse_time(text: str, *, now: datetime, what: str = "--at") -> datetime:
    """TIME as an aware UTC datetime: ISO 8601 (naive = UTC) or relative to ``now``.

    Refuses (InvalidInput) a time it cannot read and a time after ``now``."""
    given = text.strip()
    relative = _RELATIVE.match(given.lower())
    if relative:
        try:
            moment = now - timedelta(**{_UNITS[relative["unit"]]: int(relative["n"])})
        except OverflowError:
            raise InvalidInput(
                f"{what} {text!r} is further back than any time albrules can read; give {_FORMS}"
            ) from None
    else:
        try:
            moment = datetime.fromisoformat(given)
        except ValueError:
            raise InvalidInput(
                f"{what} {text!r} is not a time albrules can read; give {_FORMS}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if moment > now:
        raise InvalidInput(
            f"{what} {text!r} is {zulu(moment)}, in the future (it is {zulu(now)} now); give a "
            "time that has passed"
        )
    return moment


def moment_of(text: str) -> datetime:
    """A time as the catalog or CloudTrail writes it (ISO 8601, ``Z`` or an offset; naive
    taken as UTC). An unreadable one reads as the earliest time (it sorts first)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def zulu(moment: datetime) -> str:
    """``2026-12-03T10:05:31Z`` (milliseconds only when there are any)."""
    moment = moment.astimezone(UTC)
    if moment.microsecond // 1000:
        return utc_stamp_iso(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
