"""Running the ``albrules`` command in-process, as the tests of every tier do: its exit code,
stdout and stderr, and the plain state lines ``watch`` prints (CliRunner is not a terminal)."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from albrules.cli import app

REGION = "us-east-1"
AWS = ["--aws", "--region", REGION]  # the in-process mock, reached as AWS
LINE = re.compile(r"^\d\d:\d\d:\d\d  (?P<state>.+): (?P<status>[a-z ]+)( \(\d+\.\ds\))?(, .*)?$")


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def state_lines(out: str) -> list[tuple[str, str]]:
    """(state, status) of every plain state line printed."""
    found = [LINE.match(line) for line in out.splitlines()]
    return [(m["state"], m["status"]) for m in found if m]
