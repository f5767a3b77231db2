"""Settings every tier shares: AWS credentials and region that can only reach a local AWS, and
a home of its own for each test. No AWS emulator here (the unit tier runs without one); the
local AWS's fixtures are in aws_fixtures.py, used by tests/integration and tests/workflows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(key, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_MAX_ATTEMPTS="3",
)


@pytest.fixture(autouse=True)
def _home(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    monkeypatch.setenv("ALBRULES_HOME", str(tmp_path / "albrules-home"))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    yield
