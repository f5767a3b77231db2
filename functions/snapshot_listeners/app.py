"""Lambda function SnapshotListenersFunction: the backup Map's "Back up the batch" (one child
execution's batch of listeners).
"""

from __future__ import annotations

from typing import Any

from albrules.state_documents import ListenerBatch, dump, parse
from albrules.tasks.backup import back_up_batch
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    batch = parse(ListenerBatch, event, "the batch of listeners to back up")
    left = lambda: context.get_remaining_time_in_millis() / 1000  # noqa: E731
    return dump(back_up_batch(batch, remaining_seconds=left))
