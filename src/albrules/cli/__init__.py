"""The ``albrules`` command: a thin door over the library.

Exit codes (a contract): 0 done or no changes, 2 invalid input or refused before any change,
3 restore failed and was rolled back, 4 rollback failed, 5 drift found (``drift``) or not
restorable (``drill``), 6 a drill did not leave its scratch load balancer as it was, 1 anything
else. Errors are one sentence on stderr; ``--debug`` adds the traceback.

Each command group is a module of this package (``snapshots``, ``restores``, ``drills``,
``workflows``, ``watch``, ``drift``, ``history`` (history and diff), ``graph``, ``audit``,
``local``); what they share is in ``common``. This module builds the Typer app and registers
their commands, in the order ``--help`` lists them. No command module imports this one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from .. import __version__
from . import (
    audit,
    drift,
    drills,
    graph,
    history,
    local,
    restores,
    snapshots,
    watch,
    workflows,
)
from .common import out_console

app = typer.Typer(
    name="albrules",
    help="Back up and restore the listener rules of AWS Application Load Balancers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
local_app = typer.Typer(
    help="The embedded local AWS: try albrules without an AWS account.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(local_app, name="local")


def version() -> None:
    """Print the albrules version."""
    out_console.print(f"albrules {__version__}")


COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("backup", snapshots.backup),
    ("show", snapshots.show),
    ("validate", snapshots.validate),
    ("list", snapshots.list_),
    ("seal", snapshots.seal),
    ("plan", restores.plan),
    ("restore", restores.restore),
    ("drill", drills.drill),
    ("version", version),
    ("run", workflows.run),
    ("approve", workflows.approve),
    ("reject", workflows.reject),
    ("audit", audit.audit),
    ("watch", watch.watch),
    ("drift", drift.drift),
    ("history", history.history),
    ("diff", history.diff),
    ("graph", graph.graph),
)
LOCAL_COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("up", local.local_up),
    ("down", local.local_down),
    ("status", local.local_status),
    ("seed", local.local_seed),
    ("break", local.local_break),
    ("fault", local.local_fault),
    ("deploy", local.local_deploy),
    ("notifications", local.local_notifications),
)
for _name, _command in COMMANDS:
    app.command(name=_name)(_command)
for _name, _command in LOCAL_COMMANDS:
    local_app.command(name=_name)(_command)


def main() -> None:
    """Entry point of the ``albrules`` command."""
    app()
