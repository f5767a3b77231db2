"""The commands of the SAM application: ``albrules run``, ``approve`` and ``reject``.

Like the engine's commands, they go where the environment points: after
``eval "$(albrules local up)"`` (``AWS_ENDPOINT_URL`` at the local AWS) they use the local AWS
and the stack deployed there by ``albrules local deploy``; otherwise real AWS and the stack's
CloudFormation outputs. ``--local`` / ``--aws`` choose explicitly.

The logic lives in ``albrules.workflows``, ``albrules.approval`` (run by the stack's
DecisionFunction) and ``albrules.decision_client`` (the signed request approve and reject send).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from ..errors import InvalidInput
from .common import (
    Debug,
    LocalPort,
    Profile,
    Region,
    StackName,
    Where,
    err_console,
    handled,
    out_console,
    stack_clients,
)
from .watch import follow_execution


def run(
    kind: Annotated[str, typer.Argument(help="backup or restore.")],
    input_file: Annotated[
        str, typer.Option("--input", help="The execution input (a JSON request).")
    ],
    state_machine_arn: Annotated[
        str | None, typer.Option("--state-machine-arn", help="Run this state machine.")
    ] = None,
    stack_name: StackName = "albrules",
    local: Where = None,
    wait_for_end: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait for the execution's end.")
    ] = True,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait at most.", min=0)
    ] = 900.0,
    port: LocalPort = None,
    profile: Profile = None,
    region: Region = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Follow the execution live (states, Map progress, plan) until it ends; as "
            "`albrules watch`.",
        ),
    ] = False,
    debug: Debug = False,
) -> None:
    """Start a backup or restore execution, wait for its end and print the outcome.

    Exit codes: 0 succeeded; for a restore 3 rolled back, 4 rollback failed, 2 refused before
    any change; 1 anything else (or still running at --timeout)."""
    from .. import workflows

    with handled(debug):
        if kind not in workflows.KINDS:
            raise InvalidInput(f"run backup or run restore, not {kind!r}")
        if watch and not wait_for_end:
            raise InvalidInput("--watch follows the execution to its end; drop --no-wait")
        payload = workflows.load_input(input_file, kind)  # before touching AWS
        clients, outputs = stack_clients(
            local, port, profile, region, stack_name, state_machine_arn
        )
        sfn = clients.client("stepfunctions")
        if not state_machine_arn:
            state_machine_arn = workflows.machine_arn(kind, outputs(), f"stack {stack_name}")
        if kind == "restore" and not payload.get("requested_by"):
            payload["requested_by"] = _caller(clients)
        if watch:
            execution_arn = workflows.start(sfn, state_machine_arn, payload)
            follow_execution(sfn, execution_arn, kind=kind, timeout=timeout, as_json=as_json)
            return
        outcome = workflows.run(
            sfn, kind, state_machine_arn, payload, wait_for_end=wait_for_end, timeout=timeout
        )
        if as_json:
            sys.stdout.write(json.dumps(outcome.public(), indent=2, default=str) + "\n")
        else:
            _print_outcome(outcome, timeout)
        if outcome.exit_code:
            raise typer.Exit(outcome.exit_code)


def _caller(clients: Any) -> str:
    """Who is running this command, for the audit record and the approval."""
    try:
        return str(clients.client("sts").get_caller_identity()["Arn"])
    except Exception:  # the identity is a courtesy for the record; never fail a command on it
        return "unknown caller"


def _decide(
    decision: str,
    execution_arn: str,
    reason: str,
    local: bool | None,
    port: int | None,
    profile: str | None,
    region: str | None,
    stack_name: str,
    decision_url: str | None = None,
    wait_for_end: bool = False,
    timeout: float = 900.0,
) -> None:
    """Send the decision, signed with the caller's AWS credentials, to the stack's
    DecisionFunction URL (which records it and resumes or ends the restore); with
    ``wait_for_end``, wait for the execution's end, print the outcome and exit with the restore
    contract's code."""
    from .. import workflows
    from ..arns import region_of
    from ..decision_client import region_of_url, send_decision

    if ":execution:" not in execution_arn:
        raise InvalidInput(
            f"{execution_arn!r} is not an execution ARN; copy it from the approval request or "
            "the Step Functions console (arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME)"
        )
    if decision == "reject" and not reason.strip():
        raise InvalidInput("a rejection needs a reason; pass --reason")
    clients, outputs = stack_clients(local, port, profile, region, stack_name, execution_arn)
    url = decision_url or outputs().get("DecisionUrl")
    if not url:
        raise InvalidInput(
            f"stack {stack_name} has no DecisionUrl output; deploy this version of the "
            "application, check --stack-name, or give --decision-url URL"
        )
    decided = send_decision(
        url,
        _credentials(clients, profile),
        region_of_url(url, region or region_of(execution_arn)),
        execution_arn,
        decision,
        reason,
    )
    out_console.print(f"{decided['decision']} {execution_arn} as {decided['by']}", markup=False)
    if not wait_for_end:
        return
    sfn = clients.client("stepfunctions")
    described = workflows.wait(sfn, execution_arn, timeout)
    outcome = workflows.outcome(sfn, "restore", execution_arn, described)
    _print_outcome(outcome, timeout)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _credentials(clients: Any, profile: str | None) -> Any:
    """The credentials that sign the decision: the session's on AWS; locally the
    environment's (an IAM user's key in the local AWS acts as that user), else the local
    AWS's default ones."""
    from ..aws import Aws

    if isinstance(clients, Aws):
        return clients.session.get_credentials()
    import boto3
    from botocore.credentials import Credentials

    from ..local import process

    found = boto3.Session(profile_name=profile).get_credentials()
    if found is not None:
        return found
    env = process.environment(process.DEFAULT_PORT)
    return Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])


ExecutionArn = Annotated[str, typer.Argument(help="The restore execution waiting for approval.")]
DecisionUrl = Annotated[
    str | None,
    typer.Option(
        "--decision-url",
        help="The stack's DecisionUrl (its DecisionFunction URL); skips the stack lookup.",
    ),
]
WaitForEnd = Annotated[
    bool,
    typer.Option(
        "--wait/--no-wait",
        help="Wait for the restore's end, print its outcome and exit with its code.",
    ),
]
Timeout = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait at most (with --wait).", min=0)
]


def approve(
    execution_arn: ExecutionArn,
    stack_name: StackName = "albrules",
    local: Where = None,
    port: LocalPort = None,
    profile: Profile = None,
    region: Region = None,
    decision_url: DecisionUrl = None,
    wait_for_end: WaitForEnd = False,
    timeout: Timeout = 900.0,
    debug: Debug = False,
) -> None:
    """Approve a restore that waits for approval; it goes on to apply its plan.

    The decision is signed with your AWS credentials (you need lambda:InvokeFunctionUrl and
    lambda:InvokeFunction on the stack's DecisionFunction). Unless the stack allows it
    (AllowSelfApproval), you cannot approve a restore you started (exit 2).

    With --wait, exit codes are the restore's: 0 succeeded, 3 rolled back, 4 rollback failed,
    2 refused; 1 anything else (or still running at --timeout)."""
    with handled(debug):
        _decide(
            "approve", execution_arn, "", local, port, profile, region, stack_name,
            decision_url, wait_for_end, timeout,
        )  # fmt: skip


def reject(
    execution_arn: ExecutionArn,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded and notified).")],
    stack_name: StackName = "albrules",
    local: Where = None,
    port: LocalPort = None,
    profile: Profile = None,
    region: Region = None,
    decision_url: DecisionUrl = None,
    wait_for_end: WaitForEnd = False,
    timeout: Timeout = 900.0,
    debug: Debug = False,
) -> None:
    """Reject a restore that waits for approval; it ends with no change to the listener.

    With --wait, waits for that end and exits 2 (ApprovalRejected), like the restore."""
    with handled(debug):
        _decide(
            "reject", execution_arn, reason, local, port, profile, region, stack_name,
            decision_url, wait_for_end, timeout,
        )  # fmt: skip


def _print_outcome(outcome: Any, timeout: float) -> None:
    from ..workflows import explain_cause

    out_console.print(f"execution {outcome.execution_arn}", markup=False)
    if not outcome.waited:
        out_console.print("started; not waiting (--no-wait)", markup=False)
        return
    if not outcome.finished:
        err_console.print(
            f"still {outcome.status} after {timeout:g}s; follow it with `aws stepfunctions "
            f"describe-execution --execution-arn {outcome.execution_arn}`",
            markup=False,
        )
    else:
        stream = out_console if outcome.status == "SUCCEEDED" else err_console
        stream.print(f"status: {outcome.status} ({outcome.seconds:.1f}s)", markup=False)
    if outcome.states:
        visited = [f"{name} (x{count})" if count > 1 else name for name, count in outcome.states]
        out_console.print("states: " + " -> ".join(visited), markup=False)
    if outcome.status == "SUCCEEDED":
        out_console.print("output:", markup=False)
        sys.stdout.write(json.dumps(outcome.output, indent=2, default=str) + "\n")
    elif outcome.error or outcome.cause:
        err_console.print(f"error: {outcome.error}", markup=False)
        err_console.print(f"cause: {explain_cause(outcome.cause)}", markup=False)
