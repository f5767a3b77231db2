"""Lambda function NoteListenerChangeFunction: on a CloudTrail change to a listener (an
EventBridge event), note it against the listeners it names and start settling them."""

from __future__ import annotations

from typing import Any

from albrules.tasks.changes import note_listener_change
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    return {"listeners": note_listener_change(event)}
