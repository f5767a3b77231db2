"""The attack suite's fixtures: ``stack``, template.yaml deployed once per session (per xdist
worker) with the parameters an operator gets by default (only what the local AWS needs is
given: :data:`SECURITY_PARAMETERS`), put back as deployed after each test; and the local AWS's
fixtures. The suite runs in its own pytest process, so its stack is not the workflow tier's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aws_fixtures import *  # noqa: F403  (session, world, aws, calls)
from stack import Stack, session_stack

# The template's defaults, except what a deployment must be given (the member role's external id).
SECURITY_PARAMETERS = {"MemberExternalId": "test-external-id"}


@pytest.fixture(scope="session")
def deployed() -> Iterator[Stack]:
    yield from session_stack(SECURITY_PARAMETERS)


@pytest.fixture
def stack(deployed: Stack) -> Iterator[Stack]:
    yield deployed
    deployed.reset()
