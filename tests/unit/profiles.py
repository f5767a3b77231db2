"""Hypothesis profiles of the unit tier, chosen with ``ALBRULES_UNIT_PROFILE``.

- ``unit`` (the default): 200 examples a property, no deadline; derandomized when ``CI`` is set;
- ``unit-ci``: the same, always derandomized;
- ``unit-deep``: 2,000 examples, for a longer hunt.

They are applied to this tier's tests only (``@PROFILE``), never loaded globally, so the slower
tiers keep their own settings when the whole suite runs in one session.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "unit",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=os.environ.get("CI") is not None,
)
settings.register_profile("unit-ci", settings.get_profile("unit"), derandomize=True)
settings.register_profile("unit-deep", settings.get_profile("unit"), max_examples=2000)

PROFILE = settings.get_profile(os.environ.get("ALBRULES_UNIT_PROFILE", "unit"))
