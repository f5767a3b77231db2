"""The local AWS's inbox: every message its SNS topics published, in the order they were sent.

On AWS, people read the stack's notifications by e-mail (the ``NotificationEmail`` parameter)
or through any SNS subscription. The local AWS delivers to no e-mail address, so it keeps what
each topic published (when, topic, subject, message) for ``albrules local notifications``,
which shows, among others, the approval request with its links to the approval page.

moto keeps a topic's published messages too (``Topic.sent_notifications``), but without the
time they were sent, so messages of several topics could not be put in order; hence the record
kept here, made by wrapping ``Topic.publish`` (installed by :func:`albrules.local.install`).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

MAX_KEPT = 1000  # the oldest go first; a local session never needs more

_lock = threading.Lock()
_sent: list[dict[str, Any]] = []
_installed = False


def record(topic_arn: str, subject: str | None, message: str) -> None:
    """Keep one published message."""
    with _lock:
        _sent.append(
            {
                "sent_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "topic_arn": topic_arn,
                "subject": subject,
                "message": message,
            }
        )
        del _sent[:-MAX_KEPT]


def sent(topic_arn: str | None = None, last: int | None = None) -> list[dict[str, Any]]:
    """The messages published (to ``topic_arn`` only, if given), oldest first; the ``last``
    ones only, if given."""
    with _lock:
        found = [m for m in _sent if topic_arn in (None, m["topic_arn"])]
    return found[-last:] if last else found


def clear() -> None:
    with _lock:
        _sent.clear()


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.sns.models import Topic

    publish = Topic.publish

    def publish_and_keep(self: Any, message: str, subject: str | None = None, **kwargs: Any) -> str:
        message_id = publish(self, message, subject=subject, **kwargs)
        record(self.arn, subject, message)
        return message_id

    # The patch itself; the wrapper passes moto's other keyword arguments through.
    Topic.publish = publish_and_keep  # type: ignore[method-assign, assignment]
    _installed = True
