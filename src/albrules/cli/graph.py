"""The ``albrules graph`` command: a state machine as a Mermaid flowchart (``albrules.graph``)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .common import Debug, handled


def graph(
    kind: Annotated[str, typer.Argument(help="backup, restore or changes.")],
    file: Annotated[
        str | None,
        typer.Option("--file", help="The ASL file (default: statemachine/KIND.asl.json here)."),
    ] = None,
    debug: Debug = False,
) -> None:
    """Print a state machine as a Mermaid flowchart, generated from its ASL file.

    Exit codes: 0 printed; 2 no such file, not an ASL definition, or not backup/restore/changes."""
    from ..graph import graph_of

    with handled(debug):
        sys.stdout.write(graph_of(kind, file))
