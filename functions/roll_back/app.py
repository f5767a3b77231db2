"""Lambda function RollBackFunction: the restore machine's "Roll back to the pre-restore
snapshot".
"""

from __future__ import annotations

from typing import Any

from albrules.slices import Deadline
from albrules.state_documents import RestoreState, dump, parse
from albrules.tasks.restore import roll_back_listener
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    state = parse(RestoreState, event, "the restore state")
    return dump(roll_back_listener(state, deadline=Deadline.of_lambda(context)))
