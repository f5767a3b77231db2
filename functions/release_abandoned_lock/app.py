"""Lambda function ReleaseAbandonedLockFunction: on a restore execution's status change event,
release the lock it still holds and close its audit record."""

from __future__ import annotations

from typing import Any

from albrules.tasks.locks import release_abandoned
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    return release_abandoned(event)
