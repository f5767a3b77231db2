"""Lambda function VerifyListenerFunction: the restore machine's "Verify the listener" and "Verify
the rollback".
"""

from __future__ import annotations

from typing import Any

from albrules.state_documents import RestoreState, dump, parse
from albrules.tasks.restore import verify_listener
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    return dump(verify_listener(parse(RestoreState, event, "the restore state")))
