"""Lambda function AcquireLockFunction: the restore machine's "Lock the listener"."""

from __future__ import annotations

from typing import Any

from albrules.state_documents import RestoreState, dump, parse
from albrules.tasks.restore import lock_listener
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    return dump(lock_listener(parse(RestoreState, event, "the restore state")))
