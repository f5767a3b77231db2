"""Observability: the dashboard in template.yaml shows the metrics the functions really emit,
and the functions' JSON logs carry the execution and listener ARNs as correlation keys."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from albrules.local import faults
from albrules.local.deploy import load_template
from albrules.operations import API_OPERATION
from albrules.outcomes import RestoreOutcomeName as Outcome
from albrules.tasks.runtime import logger
from stack import Stack, break_listener, shop
from test_workflows import BAD_REQUEST, snapshot_key

ROOT = Path(__file__).resolve().parent.parent
# What the issue asks the dashboard to show, by metric name.
REQUIRED = {
    "ListenersBackedUp",
    "RulesBackedUp",
    "SnapshotsUnchanged",
    "Rollbacks",
    "RollbackFailures",
    "DriftFound",
    *(f"Operations.{api}" for api in API_OPERATION.values()),
    *(f"Restores.{outcome}" for outcome in Outcome.__args__),
}


def dashboard() -> dict[str, Any]:
    resources = load_template(ROOT / "template.yaml")["Resources"]
    boards = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    assert len(boards) == 1
    body = boards[0]["Properties"]["DashboardBody"]["Fn::Sub"]
    # ${X} placeholders sit inside JSON strings, so the body parses as it will after Fn::Sub.
    return json.loads(re.sub(r"\$\{[^}]+\}", "X", body))


def shown(namespace: str) -> set[str]:
    """Metric names the dashboard's widgets show in a namespace (``...`` repeats the last)."""
    names: set[str] = set()
    for widget in dashboard()["widgets"]:
        for metric in widget.get("properties", {}).get("metrics", []):
            if metric[0] == namespace:
                names.add(metric[1])
    return names


def emitted(text: str) -> list[dict[str, Any]]:
    """The EMF documents Powertools printed: JSON lines with an ``_aws`` key."""
    found = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            found.append(json.loads(line))
    return found


def metric_names(documents: list[dict[str, Any]]) -> set[str]:
    return {
        m["Name"]
        for doc in documents
        for directive in doc["_aws"]["CloudWatchMetrics"]
        for m in directive["Metrics"]
    }


def log_records(text: str) -> list[dict[str, Any]]:
    records = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' not in line:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "function_name" in record or "service" in record:
                records.append(record)
    return records


def test_the_dashboard_shows_every_metric_the_issue_names_and_both_machines() -> None:
    assert shown("albrules") >= REQUIRED, REQUIRED - shown("albrules")
    states = shown("AWS/States")
    assert {"ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionTime"} <= (
        states
    )
    machines = {
        metric[3]
        for widget in yaml.safe_load(json.dumps(dashboard()))["widgets"]
        for metric in widget.get("properties", {}).get("metrics", [])
        if metric[0] == "AWS/States"
    }
    assert machines == {"X"}  # both are ${...} references to the stack's machines
    body = load_template(ROOT / "template.yaml")["Resources"]
    text = json.dumps(body)
    assert "${BackupStateMachine}" in text and "${RestoreStateMachine}" in text


def test_a_local_deploy_creates_the_dashboard(stack: Stack) -> None:
    cloudwatch = stack.session.client("cloudwatch")
    name = stack.deployment.physical_id("OperationsDashboard")
    body = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
    arns = {
        metric[3]
        for widget in body["widgets"]
        for metric in widget.get("properties", {}).get("metrics", [])
        if metric[0] == "AWS/States"
    }
    assert arns == {
        stack.deployment.physical_id("BackupStateMachine"),
        stack.deployment.physical_id("RestoreStateMachine"),
    }


def test_backup_and_restore_emit_what_the_dashboard_shows_with_correlated_logs(
    stack: Stack, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The handlers' Logger keeps the stdout of whichever test imported them first; point it at
    # this test's captured stdout (EMF metrics are printed, so they follow sys.stdout anyway).
    monkeypatch.setattr(logger.registered_handler, "stream", sys.stdout)
    listener = shop(stack)
    backup = stack.run("backup", stack.backup_targets())
    assert backup.status == "SUCCEEDED", backup.cause
    break_listener(stack, listener)
    restored = stack.run("restore", {"snapshot": snapshot_key(stack, listener)})
    assert restored.status == "SUCCEEDED", restored.cause
    break_listener(stack, listener)
    faults.inject("CreateRule", nth=1, **BAD_REQUEST)
    rolled_back = stack.run("restore", {"snapshot": snapshot_key(stack, listener)})
    assert rolled_back.error == "RestoreRolledBack"

    out = capfd.readouterr().out
    names = metric_names(emitted(out))
    expected = {
        "ListenersBackedUp",
        "RulesBackedUp",
        "Restores.RESTORED",
        "Restores.ROLLED_BACK",
        "Rollbacks",
        "Operations.CreateRule",
    }
    assert expected <= names, expected - names
    # Every one of these names is on the dashboard, spelled the same.
    assert expected <= shown("albrules")
    on_board_or_task_level = shown("albrules") | {
        "ListenersDiscovered",
        "SnapshotsStored",
        "SnapshotRules",
        "PlannedOperations",
        "ListenersFailed",
    }
    assert names <= on_board_or_task_level, names - on_board_or_task_level

    backed_up = [
        r
        for r in log_records(out)
        if r.get("message") == "listener backed up" and r.get("listener_arn") == listener
    ]
    assert [(r["execution_arn"], r["status"]) for r in backed_up] == [
        (backup.execution_arn, "stored")
    ]

    execution = rolled_back.execution_arn
    restore_logs = [r for r in log_records(out) if r.get("execution_arn") == execution]
    assert restore_logs, "no restore task logged with its execution ARN"
    with_listener = [r for r in restore_logs if r.get("listener_arn") == listener]
    assert with_listener, "no restore task logged with its listener ARN"
