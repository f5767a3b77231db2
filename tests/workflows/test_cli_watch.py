"""albrules watch and albrules run --watch: following an execution to its end, the exit code
of the restore contract, and what is printed (plain lines: CliRunner is not a terminal).

The deployed application (the ``stack`` fixture), for real restores; the exit codes on small
machines are in tests/integration/test_cli_watch_machines.py. The commands reach the
in-process mock with ``--aws --region``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from albrules.local import faults
from cli_runs import AWS, cli, state_lines
from stack import Stack, break_listener, checksum, shop
from workflows.test_workflows import BAD_REQUEST, back_up, snapshot_key, waiting_restore

SAM_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


def test_run_watch_follows_a_restore_that_rolls_back(stack: Stack, tmp_path: Path) -> None:
    listener = shop(stack)
    back_up(stack)
    break_listener(stack, listener)
    broken = checksum(stack, listener)
    path = tmp_path / "restore.json"
    path.write_text(json.dumps({"snapshot": snapshot_key(stack, listener)}))
    faults.inject("CreateRule", nth=2, **BAD_REQUEST)

    status, out, err = cli(
        "run", "restore", "--input", str(path), *AWS, "--watch",
        "--state-machine-arn", stack.outputs["RestoreStateMachineArn"],
    )  # fmt: skip

    assert status == 3, (out, err)
    assert checksum(stack, listener) == broken
    ended = dict(state_lines(out))
    assert ended["Apply the plan"] == "caught"
    assert ended["Roll back to the pre-restore snapshot"] == "succeeded"
    assert (
        "plan: 4 mutating call(s) for 4 changed rule(s): 2 to create, 1 to modify, 1 to delete"
        in out
    )
    assert "restore FAILED in" in out and ": RestoreRolledBack" in out
    assert out.splitlines()[-1] == "exit code 3 (rolled back)"


def test_watch_times_out_on_a_waiting_restore_then_follows_it_again(stack: Stack) -> None:
    waiting = waiting_restore(stack)
    execution = waiting.execution

    status, out, err = cli("watch", execution, *AWS, "--timeout", "0.5", "--interval", "0.2")
    assert status == 1, (out, err)
    assert ("Wait for approval", "waiting") in state_lines(out)
    assert f"  waiting for approval: albrules approve {execution}" in out.splitlines()
    assert "plan: 4 mutating call(s) for 4 changed rule(s)" in out
    assert err == (
        "the restore is still RUNNING after 0.5s and goes on; watch it again with: albrules "
        f"watch {execution}\n"
    )

    status, out, err = cli(
        "approve", execution, *AWS, "--decision-url", stack.url("DecisionFunction")
    )
    assert status == 0, err
    status, out, err = cli("watch", execution, *AWS, "--interval", "0.2", "--timeout", "60")
    assert status == 0, (out, err)
    assert checksum(stack, waiting.listener) == waiting.backed_up
    ended = dict(state_lines(out))
    assert ended["Wait for approval"] == "succeeded"
    assert ended["Verify the listener"] == "succeeded"
    assert out.splitlines()[-1] == "exit code 0 (succeeded)"
