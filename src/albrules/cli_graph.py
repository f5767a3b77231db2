"""The ``albrules graph`` command: a state machine as a Mermaid flowchart (``albrules.graph``)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .cli_options import Debug


def graph(
    kind: Annotated[str, typer.Argument(help="backup or restore.")],
    file: Annotated[
        str | None,
        typer.Option("--file", help="The ASL file (default: statemachine/KIND.asl.json here)."),
    ] = None,
    debug: Debug = False,
) -> None:
    """Print a state machine as a Mermaid flowchart, generated from its ASL file.

    Exit codes: 0 printed; 2 no such file, not an ASL definition, or not backup/restore."""
    from .cli import handled
    from .graph import graph_of

    with handled(debug):
        sys.stdout.write(graph_of(kind, file))


def register(app: typer.Typer, local_app: typer.Typer) -> None:
    """Add ``graph`` to the main app."""
    app.command(name="graph")(graph)
