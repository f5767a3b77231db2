"""The unit tier's fixtures and settings. Nothing here imports moto or tests/conftest.py.

Run the tier on its own with ``make check`` (or ``.venv/bin/python -m pytest tests/unit``).

The hypothesis profiles are in profiles.py (``ALBRULES_UNIT_PROFILE``=unit, unit-ci or
unit-deep), applied per test so the slower tiers keep their own settings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
NO_EMULATOR_TEST = "test_no_emulator.py"
ONLY_UNIT = pytest.StashKey[bool]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the no-emulator check last, after every other test has imported what it needs,
    and tell it whether the session holds tests of other tiers (which import moto)."""
    last = [i for i in items if i.path.name == NO_EMULATOR_TEST and i.path.parent == HERE]
    rest = [i for i in items if i not in last]
    items[:] = rest + last
    config.stash[ONLY_UNIT] = all(HERE in i.path.parents for i in items)


@pytest.fixture
def only_unit_tier(request: pytest.FixtureRequest) -> bool:
    """True when this session runs nothing but the unit tier."""
    return request.config.stash.get(ONLY_UNIT, False)
