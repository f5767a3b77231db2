"""``albrules local ...``: the embedded local AWS (start, stop, seed, break, inject faults),
the SAM application deployed into it (``local deploy``), and the messages its topics sent
(``local notifications``)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from ..arns import parse_listener_arn
from ..errors import InvalidInput
from .common import (
    Debug,
    JsonOut,
    LocalPort,
    StackName,
    err_console,
    handled,
    local_port,
    local_session,
    out_console,
    print_json,
)


def local_up(
    port: LocalPort = None,
    throttle_mutating: Annotated[
        float | None,
        typer.Option(
            "--throttle-mutating",
            help=(
                "Throttle mutating ELBv2 calls (CreateRule, ModifyRule, ...) to RATE a second, "
                "as AWS throttles an account: excess calls get Throttling (Rate exceeded)."
            ),
            metavar="RATE",
            min=0.001,
        ),
    ] = None,
    debug: Debug = False,
) -> None:
    """Start the local AWS in the background and print the environment that uses it."""
    with handled(debug):
        from ..local import process

        port = local_port(port)
        pid = process.up(port, throttle_mutating=throttle_mutating)
        err_console.print(
            f"local AWS running on {process.endpoint(port)} (pid {pid}); use it with:"
        )
        for key, value in process.environment(port).items():
            sys.stdout.write(f"export {key}={value}\n")


def local_down(port: LocalPort = None, debug: Debug = False) -> None:
    """Stop the local AWS."""
    with handled(debug):
        from ..local import process

        port = local_port(port)
        stopped = process.down(port)
        out_console.print(
            "local AWS stopped" if stopped else f"no local AWS was running on port {port}"
        )


def local_status(port: LocalPort = None, debug: Debug = False) -> None:
    """Say whether the local AWS is running."""
    with handled(debug):
        from ..local import process

        port = local_port(port)
        if not process.running(port):
            out_console.print(f"no local AWS on port {port}")
            raise typer.Exit(1)
        out_console.print(
            f"local AWS running on {process.endpoint(port)}; {process.admin(port, 'config')}"
        )


def local_seed(port: LocalPort = None, as_json: JsonOut = False, debug: Debug = False) -> None:
    """Create the sample load balancers, listeners and rules in the local AWS."""
    with handled(debug):
        from ..local.seed import seed
        from ..progress import progress_bar

        port = local_port(port)
        with progress_bar(err_console, "seeding the local AWS") as report:
            result = seed(local_session(port), report)
        if as_json:
            print_json(result)
            return
        for name, item in result["listeners"].items():
            out_console.print(f"{name:<16} {item['rules']:>3} rules  {item['arn']}")


def local_break(
    listener_arn: Annotated[str, typer.Option("--listener-arn", help="The listener to break.")],
    port: LocalPort = None,
    debug: Debug = False,
) -> None:
    """Simulate a bad deploy on a local listener: delete, edit, reorder and untag rules."""
    with handled(debug):
        from ..local.seed import break_listener

        port = local_port(port)
        parse_listener_arn(listener_arn)
        try:
            done = break_listener(local_session(port), listener_arn)
        except ValueError as err:
            raise InvalidInput(str(err)) from None
        for line in done:
            out_console.print(line)


def local_fault(
    operation: Annotated[
        str | None, typer.Argument(help="ELBv2 operation, e.g. CreateRule.")
    ] = None,
    nth: Annotated[int, typer.Option("--nth", help="Fail the nth call from now.")] = 1,
    times: Annotated[int, typer.Option("--times", help="How many calls fail (0: all).")] = 1,
    code: Annotated[
        str, typer.Option("--code", help="Error code to answer with.")
    ] = "InternalFailure",
    clear: Annotated[bool, typer.Option("--clear", help="Remove all injected faults.")] = False,
    port: LocalPort = None,
    debug: Debug = False,
) -> None:
    """Make the local AWS fail an ELBv2 call, to see a restore roll back."""
    with handled(debug):
        from ..local import process

        port = local_port(port)
        if clear:
            process.admin(port, "faults", "DELETE")
            out_console.print("faults cleared")
            return
        if not operation:
            raise InvalidInput("give an ELBv2 operation (e.g. CreateRule) or --clear")
        process.admin(
            port,
            "faults",
            "POST",
            {"operation": operation, "nth": nth, "times": times, "code": code},
        )
        out_console.print(f"the local AWS will fail call {nth} of {operation} from now with {code}")


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


def local_deploy(
    template: Annotated[
        str, typer.Option("--template", help="The SAM template to deploy.")
    ] = "template.yaml",
    stack_name: StackName = "albrules",
    parameter_overrides: Annotated[
        list[str] | None,
        typer.Option("--parameter-overrides", help="Key=Value template parameters (repeatable)."),
    ] = None,
    port: LocalPort = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the deployment as JSON.")] = False,
    debug: Debug = False,
) -> None:
    """Deploy the SAM application into the local AWS (started by `albrules local up`).

    Required parameters with no default that --parameter-overrides does not give (such as
    MemberExternalId) get values made up for the local stack, printed, and kept across
    deploys of the same stack."""
    with handled(debug):
        from ..local.deploy import deploy, deployment_path

        port = local_port(port)
        parameters = _parameters(parameter_overrides)
        deployment = deploy(template, parameters, local_session(port), stack_name=stack_name)
        for name, value in deployment.local_defaults.items():
            err_console.print(
                f"{name}: local default {value} (pass --parameter-overrides {name}=... to choose)",
                markup=False,
            )
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


def local_notifications(
    last: Annotated[
        int, typer.Option("--last", help="Show the last N messages (0: all of them).", min=0)
    ] = 3,
    topic_arn: Annotated[
        str | None, typer.Option("--topic-arn", help="Only the messages of this topic.")
    ] = None,
    port: LocalPort = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the messages as JSON.")] = False,
    debug: Debug = False,
) -> None:
    """Show the last messages the local AWS's SNS topics sent (what an e-mail subscription
    would get on AWS): backup summaries, drift, approval requests with their links, restore
    outcomes. Newest last."""
    with handled(debug):
        from ..local import process

        port = local_port(port)
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
