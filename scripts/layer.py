"""What goes into the Lambda layer (EngineLayer), read from pyproject.toml: the only place.

- ``requirements``: the project's dependencies without the CLI's own (``[tool.albrules.layer]
  cli-only``), plus the ``lambda`` extra: one pinned requirement per line.
- ``leave-out``: paths under ``src/`` of modules only the CLI or the local AWS use; they are
  not copied into the layer (tests/test_lambda_package.py checks no function imports them).

Usage: python scripts/layer.py requirements|leave-out
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _config() -> dict:
    return tomllib.loads(PYPROJECT.read_text())


def _name(requirement: str) -> str:
    return re.split(r"[\[=<>!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def requirements() -> list[str]:
    config = _config()
    cli_only = {n.lower() for n in config["tool"]["albrules"]["layer"]["cli-only"]}
    core = [r for r in config["project"]["dependencies"] if _name(r) not in cli_only]
    return core + list(config["project"]["optional-dependencies"]["lambda"])


def leave_out() -> list[str]:
    return list(_config()["tool"]["albrules"]["layer"]["leave-out"])


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "requirements":
        print("\n".join(requirements()))
    elif what == "leave-out":
        print("\n".join(leave_out()))
    else:
        sys.exit("usage: python scripts/layer.py requirements|leave-out")
