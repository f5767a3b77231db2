"""The unit tier runs without any AWS emulator: checked last, once every test has run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
# moto, and the local layer's modules that patch it (albrules.local.deploy, which only reads
# and translates templates, is no emulator: the IAM docs generator uses it).
EMULATORS = (
    "moto",
    "albrules.local.elbv2",
    "albrules.local.faults",
    "albrules.local.lambdas",
    "albrules.local.stepfunctions",
    "albrules.local.asl_validation",
    "albrules.local.server",
)


def loaded(prefix: str) -> list[str]:
    return sorted(m for m in sys.modules if m == prefix or m.startswith(prefix + "."))


def test_no_emulator_was_imported(only_unit_tier: bool, request: pytest.FixtureRequest) -> None:
    if not only_unit_tier:
        pytest.skip("this session also runs tiers that import moto; run tests/unit alone")
    for name in EMULATORS:
        assert loaded(name) == [], f"the unit tier imported {name}"
    # The local AWS's fixtures (tests/aws_fixtures.py, the other tiers' conftests) were not
    # loaded either; tests/conftest.py, which every tier shares, holds no emulator.
    conftests = {
        Path(getattr(plugin, "__file__", "") or "").resolve()
        for plugin in request.config.pluginmanager.get_plugins()
    }
    assert "aws_fixtures" not in sys.modules and "local_world" not in sys.modules
    assert TESTS / "integration" / "conftest.py" not in conftests
    assert TESTS / "unit" / "conftest.py" in conftests


def test_the_check_runs_after_the_rest_of_the_tier(request: pytest.FixtureRequest) -> None:
    """The check above is only worth something if it runs last, once the tier's other modules
    (the model, the planner, capture, the CLI) have been imported."""
    items = request.session.items
    assert {item.path.name for item in items[-2:]} == {"test_no_emulator.py"}
    modules = {item.path.name for item in items}
    if "test_planner_properties.py" in modules:
        assert "albrules.plan" in sys.modules and "unit.elbv2_model" in sys.modules
    if "test_capture_on_model.py" in modules:
        assert "albrules.capture" in sys.modules
