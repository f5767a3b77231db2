"""The ``albrules watch``  command (being built for issue 4)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, local_app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
