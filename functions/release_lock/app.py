"""Lambda function ReleaseLockFunction: the restore machine's "Release the lock and record the
outcome".
"""

from __future__ import annotations

from typing import Any

from albrules.state_documents import RestoreState, dump, parse
from albrules.tasks.restore import release_lock
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    return dump(release_lock(parse(RestoreState, event, "the restore state")))
