"""Lambda function DiscoverListenersFunction: the backup machine's "Discover the listeners"."""

from __future__ import annotations

from typing import Any

from albrules.state_documents import BackupState, dump, parse
from albrules.tasks.backup import discover_listeners
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    return dump(discover_listeners(parse(BackupState, event, "the backup state")))
