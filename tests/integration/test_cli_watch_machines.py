"""albrules watch and albrules run --watch on small state machines in moto's interpreter: the
exit codes of the restore contract, the refusals, and what is printed (plain lines: CliRunner
is not a terminal). The commands reach the in-process mock with ``--aws --region``. Real
restores are in tests/workflows/test_cli_watch.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from albrules import watch
from cli_runs import AWS, cli, state_lines
from local_world import REGION

SAM_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


# --- small machines ---------------------------------------------------------------------------


@pytest.fixture
def sfn() -> Iterator[Any]:
    with mock_aws(config=SAM_CONFIG):
        yield boto3.client("stepfunctions", region_name=REGION)


def execution(sfn: Any, error: str | None, payload: dict[str, Any]) -> str:
    """An execution of First (Pass) -> Last (Fail with ``error``, or Pass)."""
    last: dict[str, Any] = (
        {"Type": "Fail", "Error": error, "Cause": f"it ended with {error}"}
        if error
        else {"Type": "Pass", "Result": {"done": True}, "End": True}
    )
    definition = {
        "StartAt": "First",
        "States": {"First": {"Type": "Pass", "Next": "Last"}, "Last": last},
    }
    machine = sfn.create_state_machine(
        name="albrules-restore",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    return sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload))["executionArn"]


@pytest.mark.parametrize(
    ("error", "code", "meaning"),
    [
        (None, 0, "succeeded"),
        ("RestoreRolledBack", 3, "rolled back"),
        ("RollbackFailed", 4, "ROLLBACK FAILED: the listener is not as it was"),
        ("ApprovalRejected", 2, "refused before any change"),
        ("VerifyFailed", 1, "failed"),
    ],
)
def test_watch_exits_with_the_restore_contracts_code(sfn, error, code, meaning) -> None:
    arn = execution(sfn, error, {"snapshot": "s3://bucket/x.json"})
    status, out, err = cli("watch", arn, *AWS, "--interval", "0.1")
    assert status == code, (out, err)
    lines = out.splitlines()
    assert lines[0] == f"watching restore {arn}"
    last = "failed" if error else "succeeded"
    assert state_lines(out) == [("First", "succeeded"), ("Last", last)]
    assert lines[-1] == f"exit code {code} ({meaning})"
    ended = "restore SUCCEEDED in" if not error else "restore FAILED in "
    assert any(line.startswith(ended) for line in lines)
    if error:
        assert f": {error}" in out and f"it ended with {error}" in out
    assert "\x1b[" not in out  # plain lines, not a live screen


def test_watch_json_prints_the_final_outcome(sfn) -> None:
    arn = execution(sfn, "RestoreRolledBack", {"snapshot": "s3://bucket/x.json"})
    status, out, _ = cli("watch", arn, *AWS, "--interval", "0.1", "--json")
    outcome = json.loads(out)  # nothing but the JSON on stdout
    assert status == 3
    assert (outcome["kind"], outcome["status"], outcome["error"], outcome["exit_code"]) == (
        "restore", "FAILED", "RestoreRolledBack", 3
    )  # fmt: skip
    assert [(s["name"], s["status"]) for s in outcome["steps"]] == [
        ("First", "succeeded"),
        ("Last", "failed"),
    ]
    assert outcome["states"] == [{"name": "First", "entered": 1}, {"name": "Last", "entered": 1}]


def test_wrong_or_unknown_arns_are_one_sentence_and_exit_2(sfn) -> None:
    status, out, err = cli("watch", "not-an-arn", *AWS)
    assert (status, out) == (2, "")
    assert err.startswith("error: 'not-an-arn' is not a Step Functions execution ARN")
    assert err.count("\n") == 1
    unknown = f"arn:aws:states:{REGION}:123456789012:execution:albrules-restore:nope"
    status, out, err = cli("watch", unknown, *AWS)
    assert (status, out) == (2, "")
    assert err == (
        f"error: there is no execution {unknown} in {REGION}; check the ARN and that you are "
        "in its account (--profile, or --local for the local AWS)\n"
    )


def test_ctrl_c_stops_watching_not_the_execution(sfn, monkeypatch) -> None:
    arn = execution(sfn, None, {"snapshot": "s3://bucket/x.json"})

    def interrupted(self: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(watch.Watcher, "poll", interrupted)
    status, _, err = cli("watch", arn, *AWS)
    assert status == 1
    assert err == (
        f"stopped watching; the execution goes on. Watch it again with: albrules watch {arn}\n"
    )


def test_run_watch_refuses_no_wait(sfn, tmp_path: Path) -> None:
    path = tmp_path / "restore.json"
    path.write_text(json.dumps({"snapshot": "s3://bucket/x.json"}))
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:albrules-restore"
    status, _, err = cli(
        "run", "restore", "--input", str(path), "--state-machine-arn", machine, *AWS,
        "--watch", "--no-wait",
    )  # fmt: skip
    assert status == 2 and "--watch follows the execution to its end; drop --no-wait" in err
    assert sfn.list_state_machines()["stateMachines"] == []


# --- the deployed application ---------------------------------------------------------------
