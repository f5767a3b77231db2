"""The Lambda functions' doors (``functions/<task>/app.py``), imported by path for tests that
call a handler directly, as the Lambda runtime would import it from the function's package."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"

# Each function's logical id in template.yaml, by its folder under functions/.
LOGICAL_IDS = {
    "discover_listeners": "DiscoverListenersFunction",
    "snapshot_listeners": "SnapshotListenersFunction",
    "summarise_backup": "SummariseBackupFunction",
    "acquire_lock": "AcquireLockFunction",
    "load_snapshot": "LoadSnapshotFunction",
    "take_pre_restore_snapshot": "TakePreRestoreSnapshotFunction",
    "compute_plan": "ComputePlanFunction",
    "request_approval": "RequestApprovalFunction",
    "apply_plan": "ApplyPlanFunction",
    "verify_listener": "VerifyListenerFunction",
    "roll_back": "RollBackFunction",
    "release_lock": "ReleaseLockFunction",
    "approval": "ApprovalFunction",
    "decide": "DecisionFunction",
    "note_listener_change": "NoteListenerChangeFunction",
    "back_up_changed_listener": "BackUpChangedListenerFunction",
}


@cache
def app(folder: str) -> ModuleType:
    """``functions/<folder>/app.py`` as a module of its own."""
    path = FUNCTIONS_DIR / folder / "app.py"
    spec = importlib.util.spec_from_file_location(f"functions_{folder}_app", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def handler(folder: str) -> Any:
    found = app(folder).handler
    found.folder = folder  # which function it is, for the tests' Functions caller
    return found


backup = SimpleNamespace(
    discover_listeners=handler("discover_listeners"),
    snapshot_listeners=handler("snapshot_listeners"),
    summarise_backup=handler("summarise_backup"),
)
restore = SimpleNamespace(
    acquire_lock=handler("acquire_lock"),
    load_snapshot=handler("load_snapshot"),
    take_pre_restore_snapshot=handler("take_pre_restore_snapshot"),
    compute_plan=handler("compute_plan"),
    request_approval=handler("request_approval"),
    apply_plan=handler("apply_plan"),
    verify_listener=handler("verify_listener"),
    roll_back=handler("roll_back"),
    release_lock=handler("release_lock"),
)
approval = SimpleNamespace(handle=handler("approval"))
decision = SimpleNamespace(handle=handler("decide"))
changes = SimpleNamespace(
    note_listener_change=handler("note_listener_change"),
    back_up_changed_listener=handler("back_up_changed_listener"),
)
