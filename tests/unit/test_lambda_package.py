"""The Lambda package holds what the functions need and nothing else: no function imports the
CLI's dependencies (typer, rich and theirs), the local AWS (moto, albrules.local) or any module
pyproject.toml leaves out of the layer, so the layer can leave them out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import layer  # noqa: E402

FORBIDDEN_PACKAGES = ("typer", "rich", "pygments", "markdown_it", "click", "moto", "samtranslator")

PROBE = r"""
import importlib.abc, importlib.util, json, sys
forbidden = json.loads(sys.argv[1])
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == f or name.startswith(f + ".") for f in forbidden):
            raise ImportError(f"the Lambda package has no {name}")
        return None
sys.meta_path.insert(0, Refuse())
for app in json.loads(sys.argv[2]):
    spec = importlib.util.spec_from_file_location("app_" + app.split("/")[-2], app)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps(sorted(m for m in sys.modules if m.startswith("albrules"))))
"""


def _module(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def test_no_function_imports_what_the_layer_leaves_out() -> None:
    left_out = [_module(p) for p in layer.leave_out()]
    assert "albrules.cli" in left_out and "albrules.local" in left_out
    apps = sorted(str(p) for p in (ROOT / "functions").glob("*/app.py"))
    assert len(apps) == 20
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps([*FORBIDDEN_PACKAGES, *left_out]), json.dumps(apps)],  # noqa: E501
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    imported = json.loads(done.stdout)
    assert "albrules.tasks.restore" in imported and "albrules.tasks.backup" in imported


def test_the_layer_requirements_are_the_engines_pins() -> None:
    names = [r.split("==")[0] for r in layer.requirements()]
    assert names == ["boto3", "botocore", "pydantic", "pyyaml", "aws-lambda-powertools"]
    assert all("==" in r for r in layer.requirements())  # pinned, from pyproject.toml only


def test_importing_a_function_loads_no_yaml_parser() -> None:
    """PyYAML is loaded only to read or write a YAML document, never at a cold start."""
    apps = sorted(str(p) for p in (ROOT / "functions").glob("*/app.py"))
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(["yaml"]), json.dumps(apps)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
