"""Lambda function TakePreRestoreSnapshotFunction: the restore machine's "Take the pre-restore
snapshot".
"""

from __future__ import annotations

from typing import Any

from albrules.state_documents import RestoreState, dump, parse
from albrules.tasks.restore import store_pre_restore_snapshot
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    return dump(store_pre_restore_snapshot(parse(RestoreState, event, "the restore state")))
