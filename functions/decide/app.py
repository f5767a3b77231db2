"""Lambda function DecisionFunction: approve or reject a waiting restore (function URL,
AuthType AWS_IAM: the decider is the request's IAM caller).
"""

from __future__ import annotations

from typing import Any

from albrules.tasks.decision import app
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
