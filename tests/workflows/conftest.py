"""The workflow tier's fixtures: the local AWS's (aws_fixtures.py), and ``stack``: template.yaml
deployed once per session (per xdist worker) and put back as deployed after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aws_fixtures import *  # noqa: F403  (session, world, aws, calls)
from stack import Stack, session_stack


@pytest.fixture(scope="session")
def deployed() -> Iterator[Stack]:
    yield from session_stack()


@pytest.fixture
def stack(deployed: Stack) -> Iterator[Stack]:
    yield deployed
    deployed.reset()
