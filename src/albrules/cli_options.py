"""Option types shared by the CLI's modules (``cli`` and ``cli_workflows``)."""

from __future__ import annotations

from typing import Annotated

import typer

Profile = Annotated[str | None, typer.Option("--profile", help="AWS profile to use.")]
Region = Annotated[str | None, typer.Option("--region", help="AWS region (default: from the ARN).")]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")]
Port = Annotated[int, typer.Option("--port", help="Port of the local AWS.")]
