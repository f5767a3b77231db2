"""Lambda function ApprovalFunction: the approval page (function URL): review a restore's plan,
approve or reject it.
"""

from __future__ import annotations

from typing import Any

from albrules.tasks.approval import app
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
