"""The local AWS's fixtures (moto + the project's fidelity layer, in process), imported by the
conftest of tests/integration and tests/workflows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from moto import mock_aws

from albrules.aws import Aws
from albrules.local import cloudtrail, faults
from albrules.local import elbv2 as fidelity
from local_world import REGION, Calls, World


@pytest.fixture(autouse=True)
def clean_local_aws() -> Iterator[None]:
    """Faults and the fidelity settings a test changed are put back (autouse)."""
    faults.clear()
    saved = dict(fidelity.CONFIG)
    yield
    faults.clear()
    fidelity.CONFIG.clear()
    fidelity.CONFIG.update(saved)


@pytest.fixture
def session() -> Iterator[boto3.Session]:
    with mock_aws():
        yield boto3.Session(region_name=REGION)
        cloudtrail.drain(10)  # the test's CloudTrail events delivered while its AWS exists


@pytest.fixture
def stack() -> Iterator[Any]:
    """The SAM application deployed into an in-process local AWS (see tests/stack.py)."""
    from stack import deployed_stack

    yield from deployed_stack()


@pytest.fixture
def world(session: boto3.Session) -> World:
    return World(session)


@pytest.fixture
def aws(world: World) -> Aws:
    return world.aws


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    recorder = Calls()
    original = BaseClient._make_api_call

    def record(self: Any, operation_name: str, api_params: dict) -> Any:
        recorder.made.append((self.meta.service_model.endpoint_prefix, operation_name))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    return recorder
