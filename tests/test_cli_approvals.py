"""albrules approve / reject on the deployed application: the decision, then (--wait) the
restore's outcome and the contract's exit code.

The stack is deployed in-process (no CloudFormation stack), so the commands go to the
in-process mock with ``--aws --region`` and find the catalog with ``--table``.
"""

from __future__ import annotations

from typer.testing import CliRunner

from albrules.cli import app
from conftest import REGION
from stack import Stack, checksum
from test_workflows import waiting_restore


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def where(stack: Stack) -> list[str]:
    return ["--aws", "--region", REGION, "--table", stack.table]


def test_approve_wait_prints_the_outcome_and_restores(stack: Stack) -> None:
    waiting = waiting_restore(stack)
    listener, backed_up, execution = waiting.listener, waiting.backed_up, waiting.execution
    status, out, err = cli("approve", execution, *where(stack), "--wait", "--timeout", "60")
    assert status == 0, (out, err)
    assert f"approved {execution}" in out
    assert "status: SUCCEEDED" in out and "Apply the plan" in out
    assert checksum(stack, listener) == backed_up


def test_reject_wait_exits_2_and_changes_nothing(stack: Stack) -> None:
    waiting = waiting_restore(stack)
    listener, broken, execution = waiting.listener, waiting.broken, waiting.execution
    status, out, err = cli(
        "reject", execution, "--reason", "wrong snapshot", *where(stack), "--wait",
        "--timeout", "60",
    )  # fmt: skip
    assert status == 2, (out, err)
    assert f"rejected {execution}" in out
    assert "status: FAILED" in err and "error: ApprovalRejected" in err
    assert "wrong snapshot" in err
    assert checksum(stack, listener) == broken


def test_unknown_execution_and_missing_reason(stack: Stack) -> None:
    unknown = f"arn:aws:states:{REGION}:123456789012:execution:albrules-restore:nope"
    status, out, err = cli("approve", unknown, *where(stack), "--wait")
    assert status == 2 and out == ""
    assert err.startswith(f"error: no approval is pending for {unknown}") and err.count("\n") == 1
    status, _, err = cli("reject", unknown, *where(stack))
    assert status == 2 and "Missing option" in err and "--reason" in err
