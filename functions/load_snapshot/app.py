"""Lambda function LoadSnapshotFunction: the restore machine's "Load and validate the snapshot"."""

from __future__ import annotations

from typing import Any

from albrules.state_documents import RestoreState, dump, parse
from albrules.tasks.restore import check_snapshot
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    return dump(check_snapshot(parse(RestoreState, event, "the restore state")))
