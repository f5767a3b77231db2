"""Lambda function RequestApprovalFunction: the restore machine's "Wait for approval" (sends the
request, keeps the task token).
"""

from __future__ import annotations

from typing import Any

from albrules.state_documents import ApprovalTask, parse
from albrules.tasks.restore import request_approval
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    task = parse(ApprovalTask, event, "the approval task")
    return request_approval(task.state, task.task_token)
