"""The commands of the SAM application: ``albrules local deploy``, ``run``, ``approve`` and
``reject``.

Like the engine's commands, they go where the environment points: after
``eval "$(albrules local up)"`` (``AWS_ENDPOINT_URL`` at the local AWS) they use the local AWS
and the stack deployed there by ``albrules local deploy``; otherwise real AWS and the stack's
CloudFormation outputs. ``--local`` / ``--aws`` choose explicitly.

Registered on the main app by :func:`register` (from ``albrules.cli``); the logic lives in
``albrules.workflows`` and ``albrules.local.deploy``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from .cli_options import Debug, Port, Profile, Region
from .errors import InvalidInput
from .render import console

out_console = console()
err_console = console(stderr=True)

LocalPort = Annotated[
    int | None,
    typer.Option("--port", help="Port of the local AWS (default: from AWS_ENDPOINT_URL, or 4566)."),
]
Where = Annotated[
    bool | None,
    typer.Option(
        "--local/--aws",
        help="The local AWS (its stack from `albrules local deploy`) or real AWS (the stack's "
        "CloudFormation outputs). Default: local when AWS_ENDPOINT_URL points at localhost.",
    ),
]
StackName = Annotated[str, typer.Option("--stack-name", help="The stack (application) name.")]


def _parameters(items: list[str] | None) -> dict[str, str]:
    """``Key=Value`` items (repeatable, or several in one value separated by spaces)."""
    values: dict[str, str] = {}
    for item in items or []:
        for pair in item.split():
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise InvalidInput(f"--parameter-overrides takes Key=Value, not {pair!r}")
            values[key] = value
    return values


def _local_port(local: bool | None, port: int | None) -> int | None:
    """The local AWS's port if this command should use it, else None (real AWS)."""
    from urllib.parse import urlparse

    from .local import process

    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    parsed = urlparse(endpoint) if endpoint else None
    points_local = bool(parsed and parsed.hostname in ("127.0.0.1", "localhost"))
    if local is False or (local is None and not points_local):
        return None
    if port is None:
        port = parsed.port if points_local and parsed and parsed.port else process.DEFAULT_PORT
    return port


def _local_clients(port: int) -> Any:
    """Clients that always talk to the local AWS on ``port``, never to real AWS."""
    from .cli import _local_session

    return _local_session(port)


def local_deploy(
    template: Annotated[
        str, typer.Option("--template", help="The SAM template to deploy.")
    ] = "template.yaml",
    stack_name: StackName = "albrules",
    parameter_overrides: Annotated[
        list[str] | None,
        typer.Option("--parameter-overrides", help="Key=Value template parameters (repeatable)."),
    ] = None,
    port: Port = 4566,
    as_json: Annotated[bool, typer.Option("--json", help="Print the deployment as JSON.")] = False,
    debug: Debug = False,
) -> None:
    """Deploy the SAM application into the local AWS (started by `albrules local up`)."""
    from .cli import handled

    with handled(debug):
        from .local.deploy import deploy, deployment_path

        parameters = _parameters(parameter_overrides)
        deployment = deploy(template, parameters, _local_clients(port), stack_name=stack_name)
        if as_json:
            sys.stdout.write(deployment.model_dump_json(indent=2) + "\n")
            return
        table = Table(title=f"stack {stack_name}: outputs", title_justify="left")
        table.add_column("output")
        table.add_column("value", overflow="fold")
        for key, value in deployment.outputs.items():
            table.add_row(key, value)
        out_console.print(table)
        err_console.print(
            f"deployed {len(deployment.resources)} resources into the local AWS on port {port}; "
            f"saved to {deployment_path(stack_name)}",
            markup=False,
        )
        for logical_id, why in deployment.skipped.items():
            err_console.print(f"  skipped {logical_id}: {why}", markup=False)
        for note in deployment.notes:
            err_console.print(f"  note: {note}", markup=False)


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
    from . import workflows
    from .cli import handled

    with handled(debug):
        if kind not in workflows.KINDS:
            raise InvalidInput(f"run backup or run restore, not {kind!r}")
        if watch and not wait_for_end:
            raise InvalidInput("--watch follows the execution to its end; drop --no-wait")
        payload = workflows.load_input(input_file, kind)  # before touching AWS
        clients, outputs = _stack(local, port, profile, region, stack_name, state_machine_arn)
        sfn = clients.client("stepfunctions")
        if not state_machine_arn:
            state_machine_arn = workflows.machine_arn(kind, outputs(), f"stack {stack_name}")
        if kind == "restore" and not payload.get("requested_by"):
            payload["requested_by"] = _caller(clients)
        if watch:
            from .cli_watch import follow_execution

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


def _stack(
    local: bool | None,
    port: int | None,
    profile: str | None,
    region: str | None,
    stack_name: str,
    arn: str | None = None,
) -> tuple[Any, Any]:
    """Clients for the local AWS or real AWS, and a function giving the stack's outputs."""
    from . import workflows
    from .cli import _aws

    local_port = _local_port(local, port)
    if local_port is not None:
        from .local.deploy import load_deployment

        return _local_clients(local_port), lambda: load_deployment(stack_name).outputs
    aws = _aws(profile, region, arn)
    return aws, lambda: workflows.stack_outputs(aws.client("cloudformation"), stack_name)


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
    table: str | None = None,
    wait_for_end: bool = False,
    timeout: float = 900.0,
) -> None:
    """Record the decision and resume or end the restore; with ``wait_for_end``, wait for
    the execution's end, print the outcome and exit with the restore contract's code."""
    from . import workflows
    from .approval import decide
    from .aws import Aws
    from .catalog import Catalog

    if ":execution:" not in execution_arn:
        raise InvalidInput(
            f"{execution_arn!r} is not an execution ARN; copy it from the approval request or "
            "the Step Functions console (arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME)"
        )
    clients, outputs = _stack(local, port, profile, region, stack_name, execution_arn)
    if not table:
        table = outputs().get("CatalogTableName")
    if not table:
        raise InvalidInput(
            f"stack {stack_name} has no CatalogTableName output; check --stack-name or give "
            "--table NAME"
        )
    aws = clients if isinstance(clients, Aws) else _ClientsAws(clients)
    decided = decide(
        aws,  # type: ignore[arg-type]
        Catalog(aws, table),  # type: ignore[arg-type]
        execution_arn,
        decision,  # type: ignore[arg-type]
        by=_caller(clients),
        reason=reason,
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


class _ClientsAws:
    """The local clients, shaped like :class:`albrules.aws.Aws` for the library."""

    def __init__(self, clients: Any):
        self._clients = clients

    def client(self, service: str) -> Any:
        return self._clients.client(service)


ExecutionArn = Annotated[str, typer.Argument(help="The restore execution waiting for approval.")]
CatalogTable = Annotated[
    str | None,
    typer.Option(
        "--table",
        help="The catalog table (the stack's CatalogTableName); skips the stack lookup.",
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
    table: CatalogTable = None,
    wait_for_end: WaitForEnd = False,
    timeout: Timeout = 900.0,
    debug: Debug = False,
) -> None:
    """Approve a restore that waits for approval; it goes on to apply its plan.

    With --wait, exit codes are the restore's: 0 succeeded, 3 rolled back, 4 rollback failed,
    2 refused; 1 anything else (or still running at --timeout)."""
    from .cli import handled

    with handled(debug):
        _decide(
            "approve", execution_arn, "", local, port, profile, region, stack_name,
            table, wait_for_end, timeout,
        )  # fmt: skip


def reject(
    execution_arn: ExecutionArn,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded and notified).")],
    stack_name: StackName = "albrules",
    local: Where = None,
    port: LocalPort = None,
    profile: Profile = None,
    region: Region = None,
    table: CatalogTable = None,
    wait_for_end: WaitForEnd = False,
    timeout: Timeout = 900.0,
    debug: Debug = False,
) -> None:
    """Reject a restore that waits for approval; it ends with no change to the listener.

    With --wait, waits for that end and exits 2 (ApprovalRejected), like the restore."""
    from .cli import handled

    with handled(debug):
        _decide(
            "reject", execution_arn, reason, local, port, profile, region, stack_name,
            table, wait_for_end, timeout,
        )  # fmt: skip


def _print_outcome(outcome: Any, timeout: float) -> None:
    from .workflows import explain_cause

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


def local_notifications(
    last: Annotated[
        int, typer.Option("--last", help="Show the last N messages (0: all of them).", min=0)
    ] = 3,
    topic_arn: Annotated[
        str | None, typer.Option("--topic-arn", help="Only the messages of this topic.")
    ] = None,
    port: Port = 4566,
    as_json: Annotated[bool, typer.Option("--json", help="Print the messages as JSON.")] = False,
    debug: Debug = False,
) -> None:
    """Show the last messages the local AWS's SNS topics sent (what an e-mail subscription
    would get on AWS): backup summaries, drift, approval requests with their links, restore
    outcomes. Newest last."""
    from .cli import handled

    with handled(debug):
        from .local import process

        found = process.admin(port, "notifications")["notifications"]
        if topic_arn:
            found = [m for m in found if m["topic_arn"] == topic_arn]
        shown = found[-last:] if last else found
        if as_json:
            sys.stdout.write(json.dumps(shown, indent=2) + "\n")
            return
        if not shown:
            where = f"topic {topic_arn}" if topic_arn else "any topic of the local AWS"
            err_console.print(f"no message has been sent to {where} yet", markup=False)
            return
        for message in shown:
            topic = message["topic_arn"].rsplit(":", 1)[-1]
            out_console.print(f"--- {message['sent_at']}  to {topic}", style="dim", markup=False)
            subject = message["subject"] or "(none)"
            out_console.print(f"Subject: {subject}", style="bold", markup=False)
            out_console.print("", markup=False)
            out_console.print(message["message"], markup=False, highlight=False)
            out_console.print("", markup=False)
        if len(found) > len(shown):
            err_console.print(
                f"{len(shown)} of {len(found)} message(s); --last 0 shows them all", markup=False
            )


def register(app: typer.Typer, local_app: typer.Typer) -> None:
    """Add ``run``, ``approve`` and ``reject`` to the main app, and ``deploy`` and
    ``notifications`` to ``albrules local``."""
    app.command(name="run")(run)
    app.command(name="approve")(approve)
    app.command(name="reject")(reject)
    local_app.command(name="deploy")(local_deploy)
    local_app.command(name="notifications")(local_notifications)
