"""The unit tier runs without any AWS emulator: checked last, once every test has run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
EMULATORS = ("moto", "albrules.local")


def loaded(prefix: str) -> list[str]:
    return sorted(m for m in sys.modules if m == prefix or m.startswith(prefix + "."))


def test_no_emulator_was_imported(only_unit_tier: bool, request: pytest.FixtureRequest) -> None:
    if not only_unit_tier:
        pytest.skip("this session also runs tiers that import moto; run tests/unit alone")
    for name in EMULATORS:
        assert loaded(name) == [], f"the unit tier imported {name}"
    # tests/conftest.py (moto's fixtures) was not loaded as a plugin either.
    conftests = {
        Path(getattr(plugin, "__file__", "") or "").resolve()
        for plugin in request.config.pluginmanager.get_plugins()
    }
    assert TESTS / "conftest.py" not in conftests
    assert TESTS / "unit" / "conftest.py" in conftests


def test_the_check_runs_after_the_rest_of_the_tier(request: pytest.FixtureRequest) -> None:
    """The check above is only worth something if it runs last: the tier's other modules
    (the model, the planner, the snapshot code) are imported by then."""
    items = request.session.items
    names = [item.path.name for item in items]
    assert names[-1] == "test_no_emulator.py"
    if len({item.path.parent for item in items}) == 1 and len(set(names)) > 1:
        assert "albrules.plan" in sys.modules and "unit.elbv2_model" in sys.modules
