"""Lambda function BackUpChangedListenerFunction: the change machine's "Back up the listener
once it is quiet"."""

from __future__ import annotations

from typing import Any

from albrules.state_documents import ChangeState, dump, parse
from albrules.tasks.changes import back_up_changed_listener
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    return dump(back_up_changed_listener(parse(ChangeState, event, "the change backup state")))
