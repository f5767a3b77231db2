"""``albrules watch EXECUTION_ARN``: follow an execution live until it ends.

The view is built by ``albrules.watch`` from the execution's history and shown by
``albrules.watch_view``; ``albrules run --watch`` uses :func:`follow_execution` too. Like
``run`` and ``approve``, it goes to the local AWS or to real AWS (``--local`` / ``--aws``).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from .common import (
    Debug,
    LocalPort,
    Profile,
    Region,
    Where,
    err_console,
    handled,
    out_console,
    stack_clients,
)

DEFAULT_INTERVAL = 1.0
DEFAULT_TIMEOUT = 3600.0

Interval = Annotated[
    float, typer.Option("--interval", help="Seconds between two looks at the execution.", min=0.1)
]
WatchTimeout = Annotated[
    float,
    typer.Option(
        "--timeout",
        help="Stop watching after this many seconds (exit 1); the execution goes on.",
        min=0,
    ),
]


def follow_execution(
    sfn: Any,
    execution_arn: str,
    *,
    kind: str | None = None,
    interval: float = DEFAULT_INTERVAL,
    timeout: float = DEFAULT_TIMEOUT,
    as_json: bool = False,
) -> None:
    """Show the execution until it ends, then exit with the restore contract's code.

    Live on a terminal, plain lines otherwise; with ``as_json`` the view goes to stderr (on a
    terminal only) and the final outcome to stdout as JSON. Still running at ``timeout``:
    exit 1, saying how to watch again. Ctrl-C stops watching, never the execution."""
    from ..watch import Watcher, follow
    from ..watch_view import Display

    watcher = Watcher(sfn, execution_arn, kind)
    console = err_console if as_json else out_console
    display = Display(console)
    quiet = as_json and not console.is_terminal
    try:
        with display:
            view = follow(
                watcher,
                interval=interval,
                timeout=timeout,
                on_view=(lambda _: None) if quiet else display.show,
            )
            if not quiet:
                display.finish()
    except KeyboardInterrupt:
        err_console.print(
            f"stopped watching; the execution goes on. Watch it again with: albrules watch "
            f"{execution_arn}",
            markup=False,
        )
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps(view.public(), indent=2, default=str) + "\n")
    if not view.finished:
        err_console.print(
            f"the {view.kind} is still {view.status} after {timeout:g}s and goes on; watch it "
            f"again with: albrules watch {execution_arn}",
            markup=False,
        )
        raise typer.Exit(1)
    if view.exit_code:
        raise typer.Exit(view.exit_code)


def watch(
    execution_arn: Annotated[
        str, typer.Argument(help="The execution to follow (arn:aws:states:...:execution:...).")
    ],
    interval: Interval = DEFAULT_INTERVAL,
    timeout: WatchTimeout = DEFAULT_TIMEOUT,
    local: Where = None,
    port: LocalPort = None,
    profile: Profile = None,
    region: Region = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the final outcome as JSON.")
    ] = False,
    debug: Debug = False,
) -> None:
    """Follow a backup or restore execution live: its states in order, the Map's progress,
    the plan, and the outcome.

    Exit codes, when it ends: 0 succeeded; for a restore 3 rolled back, 4 rollback failed,
    2 refused before any change; 1 anything else, or still running at --timeout. A wrong or
    unknown ARN: 2."""
    from ..watch import check_execution_arn

    with handled(debug):
        check_execution_arn(execution_arn)
        clients, _ = stack_clients(local, port, profile, region, "albrules", execution_arn)
        follow_execution(
            clients.client("stepfunctions"),
            execution_arn,
            interval=interval,
            timeout=timeout,
            as_json=as_json,
        )
