"""albrules run and albrules local deploy: starting executions, waiting, outcomes, exit codes."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from albrules import workflows
from albrules.errors import InvalidInput
from albrules.local import process
from cli_runs import cli
from local_world import FakeClock

REGION = "us-east-1"
ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "fixtures" / "mini" / "template.yaml"
SAM_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
BACKUP = {"targets": [{"account_id": "123456789012", "region": REGION}]}
RESTORE = {"snapshot": "s3://bucket/snapshots/x.json"}


# --- pure logic -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "error", "code"),
    [
        ("restore", "SUCCEEDED", None, 0),
        ("restore", "FAILED", "RestoreRolledBack", 3),
        ("restore", "FAILED", "RollbackFailed", 4),
        ("restore", "FAILED", "RestoreRefused", 2),
        ("restore", "FAILED", "ListenerLocked", 2),
        ("restore", "FAILED", "ApprovalRejected", 2),
        ("restore", "FAILED", "ApprovalTimedOut", 2),
        ("restore", "FAILED", "ListenerChanged", 2),
        ("restore", "FAILED", "States.TaskFailed", 1),
        ("restore", "TIMED_OUT", None, 1),
        ("restore", "ABORTED", None, 1),
        ("restore", "RUNNING", None, 1),
        ("backup", "SUCCEEDED", None, 0),
        ("backup", "FAILED", "BackupIncomplete", 1),
        ("backup", "FAILED", "RestoreRolledBack", 1),
    ],
)
def test_exit_codes(kind, status, error, code):
    assert workflows.exit_code(kind, status, error) == code


def test_states_visited_in_first_entered_order_with_counts():
    events = [
        {"type": "ExecutionStarted"},
        {"stateEnteredEventDetails": {"name": "A"}},
        {"stateEnteredEventDetails": {"name": "Map"}},
        {"stateEnteredEventDetails": {"name": "Each"}},
        {"stateEnteredEventDetails": {"name": "Each"}},
        {"stateEnteredEventDetails": {"name": "B"}},
    ]
    assert workflows.states_visited(events) == [("A", 1), ("Map", 1), ("Each", 2), ("B", 1)]


class FakeSfn:
    def __init__(self, statuses: list[str]):
        self.statuses = statuses
        self.calls = 0

    def describe_execution(self, executionArn: str) -> dict:
        status = self.statuses[min(self.calls, len(self.statuses) - 1)]
        self.calls += 1
        return {"status": status}


@pytest.mark.parametrize("end", ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"])
def test_wait_ends_on_any_terminal_status(end):
    sfn, clock = FakeSfn(["RUNNING", "RUNNING", "RUNNING", end]), FakeClock()
    described = workflows.wait(sfn, "arn", 60, poll=1, sleep=clock.sleep, clock=clock)
    assert (described["status"], sfn.calls) == (end, 4)
    assert clock.now == pytest.approx(0.05 + 0.1 + 0.2)  # quick first polls, then every poll


def test_wait_gives_up_at_the_timeout():
    sfn, clock = FakeSfn(["RUNNING"]), FakeClock()
    described = workflows.wait(sfn, "arn", 5, poll=2, sleep=clock.sleep, clock=clock)
    assert described["status"] == "RUNNING"
    assert clock.now == 5


def test_load_input_refuses_bad_files_in_one_sentence(tmp_path):
    path = tmp_path / "in.json"
    with pytest.raises(InvalidInput, match="no input file at"):
        workflows.load_input(path, "backup")
    path.write_text("{not json")
    with pytest.raises(InvalidInput, match=r"not valid JSON \(line 1, column 2"):
        workflows.load_input(path, "backup")
    path.write_text("[]")
    with pytest.raises(InvalidInput, match="must hold a JSON object"):
        workflows.load_input(path, "restore")
    path.write_text(json.dumps({"targets": []}))
    with pytest.raises(InvalidInput, match=r"the backup request in .* is not valid"):
        workflows.load_input(path, "backup")
    path.write_text(json.dumps({"snapshot": "s3://b/k", "typo": 1}))
    with pytest.raises(InvalidInput, match="typo"):
        workflows.load_input(path, "restore")
    path.write_text(json.dumps(BACKUP))
    assert workflows.load_input(path, "backup") == BACKUP


def test_explain_cause_reads_lambda_error_payloads():
    cause = json.dumps({"errorType": "ApplyFailed", "errorMessage": "step 3 failed"})
    assert workflows.explain_cause(cause) == "ApplyFailed: step 3 failed"
    assert workflows.explain_cause("plain words") == "plain words"


# --- albrules run, in-process ---------------------------------------------------------------


@pytest.fixture
def sfn() -> Iterator[Any]:
    with mock_aws(config=SAM_CONFIG):
        yield boto3.client("stepfunctions", region_name=REGION)


def _machine(sfn: Any, name: str, error: str | None) -> str:
    end: dict[str, Any] = (
        {"Type": "Fail", "Error": error, "Cause": f"it ended with {error}"}
        if error
        else {"Type": "Pass", "Result": {"done": True}, "End": True}
    )
    definition = {
        "StartAt": "First",
        "States": {"First": {"Type": "Pass", "Next": "Last"}, "Last": end},
    }
    return sfn.create_state_machine(
        name=name,
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]


def _input(tmp_path: Path, payload: Any) -> str:
    path = tmp_path / "input.json"
    path.write_text(json.dumps(payload))
    return str(path)


@pytest.mark.parametrize(
    ("kind", "error", "code"),
    [
        ("restore", None, 0),
        ("restore", "RestoreRolledBack", 3),
        ("restore", "RollbackFailed", 4),
        ("restore", "ListenerLocked", 2),
        ("restore", "VerifyFailed", 1),
        ("backup", None, 0),
        ("backup", "BackupIncomplete", 1),
    ],
)
def test_run_waits_prints_the_outcome_and_exits_by_the_contract(sfn, tmp_path, kind, error, code):
    arn = _machine(sfn, "m", error)
    payload = RESTORE if kind == "restore" else BACKUP
    status, out, err = cli(
        "run", kind, "--input", _input(tmp_path, payload), "--state-machine-arn", arn
    )
    assert status == code, (out, err)
    assert "states: First -> Last" in out
    if error:
        assert "status: FAILED" in err
        assert f"error: {error}" in err and f"cause: it ended with {error}" in err
    else:
        assert "status: SUCCEEDED" in out and '"done": true' in out


def test_run_json_and_no_wait(sfn, tmp_path):
    arn = _machine(sfn, "m", "RestoreRolledBack")
    status, out, _ = cli(
        "run", "restore", "--input", _input(tmp_path, RESTORE), "--state-machine-arn", arn, "--json"
    )
    result = json.loads(out)
    assert (status, result["status"], result["error"], result["exit_code"]) == (
        3,
        "FAILED",
        "RestoreRolledBack",
        3,
    )
    assert [s["name"] for s in result["states"]] == ["First", "Last"]
    status, out, _ = cli(
        "run", "restore", "--input", _input(tmp_path, RESTORE), "--state-machine-arn", arn,
        "--no-wait",
    )  # fmt: skip
    assert status == 0 and "not waiting" in out


def test_invalid_input_starts_nothing(sfn, tmp_path):
    arn = _machine(sfn, "m", None)
    bad = _input(tmp_path, {"snapshot": 5})
    status, _, err = cli("run", "restore", "--input", bad, "--state-machine-arn", arn)
    assert status == 2
    assert err.startswith("error: the restore request in") and err.count("\n") == 1
    status, _, err = cli("run", "restore", "--input", str(tmp_path / "none.json"))
    assert status == 2 and "no input file" in err
    status, _, err = cli("run", "sideways", "--input", bad)
    assert status == 2 and "run backup or run restore" in err
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_run_finds_the_machine_in_the_stacks_outputs(sfn, tmp_path):
    arn = _machine(sfn, "restore-machine", None)
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"RestoreStateMachineArn": {"Value": arn}},
    }
    cloudformation.create_stack(StackName="albrules", TemplateBody=json.dumps(template))
    status, out, _ = cli("run", "restore", "--input", _input(tmp_path, RESTORE), "--aws")
    assert status == 0 and "status: SUCCEEDED" in out
    status, _, err = cli("run", "backup", "--input", _input(tmp_path, BACKUP))
    assert status == 2 and "no output BackupStateMachineArn" in err
    status, _, err = cli(
        "run", "backup", "--input", _input(tmp_path, BACKUP), "--stack-name", "other"
    )
    assert status == 2 and "no CloudFormation stack other" in err


# --- the local AWS server: albrules local deploy, then albrules run --local ---------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_local_deploy_and_run_on_the_local_aws_server(tmp_path):
    port = str(_free_port())
    status, _, err = cli("local", "deploy", "--template", str(MINI), "--port", port)
    assert status == 2 and "no local AWS on port" in err
    for command in (("notifications",), ("fault", "--clear")):  # the admin endpoints say so too
        status, _, err = cli("local", *command, "--port", port)
        start = f"start it with `albrules local up --port {port}`"
        assert (status, err) == (2, f"error: no local AWS on port {port}; {start}\n")
    process.up(int(port))
    try:
        status, out, err = cli(
            "local", "deploy", "--template", str(MINI), "--port", port, "--stack-name", "mini",
            "--parameter-overrides", "Greeting=hey MaxConcurrency=2", "--json",
        )  # fmt: skip
        assert status == 0, err
        deployment = json.loads(out)
        assert deployment["parameters"]["Greeting"] == "hey"
        machine = deployment["outputs"]["MachineArn"]
        status, out, err = cli(
            "run", "backup", "--input", _input(tmp_path, BACKUP), "--local", "--port", port,
            "--state-machine-arn", machine, "--timeout", "30",
        )  # fmt: skip
        assert status == 0, (out, err)
        assert "states: Settings -> Fail on purpose -> Echo" in out
        assert '"ALBRULES_GREETING": "hey, us-east-1"' in out  # the function's env, in-server
        status, _, err = cli(
            "run", "restore", "--input", _input(tmp_path, RESTORE), "--local", "--port", port,
            "--stack-name", "mini",
        )  # fmt: skip
        assert status == 2 and "has no output RestoreStateMachineArn" in err
        status, _, err = cli(
            "run", "restore", "--input", _input(tmp_path, RESTORE), "--local", "--port", port
        )
        assert status == 2 and "never deployed" in err
    finally:
        process.down(int(port))


@pytest.mark.parametrize(
    ("endpoint", "given", "expected"),
    [
        (None, None, 4566),
        ("http://127.0.0.1:5000", None, 5000),
        ("http://localhost:5001/", None, 5001),
        ("http://localhost", None, 4566),
        ("https://elasticloadbalancing.eu-west-1.amazonaws.com:443", None, 4566),
        ("http://127.0.0.1:5000", 6000, 6000),
    ],
)
def test_the_local_aws_port_is_port_else_aws_endpoint_url_else_4566(
    monkeypatch, endpoint, given, expected
) -> None:
    from albrules.cli.common import local_port

    if endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    assert local_port(given) == expected


def test_an_execution_position_says_how_it_ended() -> None:
    arn = "arn:aws:states:us-east-1:123456789012:execution:albrules-restore:x"
    rejected = workflows.ExecutionPosition(
        arn, "FAILED", state="Rejected by an approver", error="ApprovalRejected"
    )
    assert rejected.finished
    assert rejected.ending() == "FAILED with ApprovalRejected at 'Rejected by an approver'"
    assert workflows.ExecutionPosition(arn, "ABORTED").ending() == "ABORTED"
    assert not workflows.ExecutionPosition(arn, "RUNNING", state="Lock the listener").finished
