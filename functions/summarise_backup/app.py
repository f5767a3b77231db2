"""Lambda function SummariseBackupFunction: the backup machine's "Summarise the backup"."""

from __future__ import annotations

from typing import Any

from albrules.state_documents import BackupState, dump, parse
from albrules.tasks.backup import summarise_backup
from albrules.tasks.runtime import lambda_handler


@lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    return dump(summarise_backup(parse(BackupState, event, "the backup state")))
