"""This account's session is made once per region and process (SDK clients outside the handler,
as AWS advises): a new session per call parsed its services' models again on every invocation.
No request is sent: making a session and a client needs no AWS."""

from __future__ import annotations

import threading

import pytest

from albrules import accounts
from albrules.aws import Aws
from albrules.tasks.settings import Settings


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    accounts.forget()


def test_home_is_one_session_per_region_until_forgotten() -> None:
    first = accounts.home()
    assert accounts.home() is first
    assert accounts.home("us-east-1") is not first
    assert accounts.home("us-east-1").region == "us-east-1"
    assert first.region == "eu-west-1"
    accounts.forget()
    assert accounts.home() is not first


def test_a_function_reuses_its_clients_across_its_stores() -> None:
    settings = Settings("b", "t", None, None, None, None, None, None)
    assert settings.home() is settings.home()
    store = settings.store("x")
    assert store.aws is not None
    assert settings.catalog().aws.s3 is store.aws.s3  # one client, made once


def test_one_client_per_service_when_threads_ask_at_once() -> None:
    aws = Aws(accounts.home().session)
    made: list[object] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        made.append(aws.client("s3"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(client) for client in made}) == 1
