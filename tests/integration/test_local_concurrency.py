"""Reserved concurrency in the local AWS (albrules.local.lambdas), as AWS documents it: a
function runs at most its reservation at once; beyond it Invoke is throttled (429
TooManyRequestsException, the handler not run) and its function URL answers 429; a
reservation that leaves fewer than 100 of the account's 1,000 unreserved is refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from werkzeug.test import Client

from albrules.local import lambdas
from albrules.local.function_urls import PREFIX, FunctionUrls
from integration.test_local_lambdas import SAM_CONFIG, SELFTEST, Lambdas

REGION = "us-east-1"
NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def fns() -> Iterator[Lambdas]:
    lambdas.clear_hooks()
    with mock_aws(config=SAM_CONFIG):
        yield Lambdas(boto3.Session(region_name=REGION))
    lambdas.clear_hooks()


def hold(fns: Lambdas, name: str, count: int) -> tuple[threading.Event, list[threading.Thread]]:
    """``count`` invocations of ``name`` running, each held until the event is set."""
    release, started = threading.Event(), threading.Semaphore(0)

    def block(event: Any, context: Any) -> None:
        started.release()
        release.wait(10)

    lambdas.before_invoke(name, block)
    threads = [
        threading.Thread(
            target=fns.session.client("lambda", config=NO_RETRIES).invoke,
            kwargs={"FunctionName": name, "Payload": b"{}"},
        )
        for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    for _ in range(count):
        assert started.acquire(timeout=10)
    lambdas.clear_hooks()
    return release, threads


def test_an_invocation_beyond_the_reservation_is_throttled_and_runs_nothing(
    fns: Lambdas,
) -> None:
    arn = fns.function("capped", f"{SELFTEST}.echo")
    fns.client.put_function_concurrency(FunctionName="capped", ReservedConcurrentExecutions=2)
    ran: list[Any] = []
    release, threads = hold(fns, "capped", 2)
    try:
        assert lambdas.in_flight(arn) == 2
        lambdas.before_invoke("capped", lambda event, context: ran.append(event))
        client = fns.session.client("lambda", config=NO_RETRIES)
        with pytest.raises(ClientError) as throttled:
            client.invoke(FunctionName="capped", Payload=b'{"third": true}')
        error = throttled.value.response
        assert error["Error"]["Code"] == "TooManyRequestsException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert error.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert ran == []
        fns.function("free", f"{SELFTEST}.echo")  # another function is not affected
        assert fns.invoke("free", {"x": 1})[0] is None
    finally:
        release.set()
        for thread in threads:
            thread.join(10)
    assert lambdas.in_flight(arn) == 0
    assert fns.invoke("capped", {"again": 1})[0] is None and ran == [{"again": 1}]


def test_a_reservation_of_zero_throttles_every_invocation(fns: Lambdas) -> None:
    fns.function("off", f"{SELFTEST}.echo")
    fns.client.put_function_concurrency(FunctionName="off", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError, match="TooManyRequestsException"):
        fns.session.client("lambda", config=NO_RETRIES).invoke(FunctionName="off", Payload=b"{}")
    fns.client.delete_function_concurrency(FunctionName="off")
    assert fns.invoke("off", {})[0] is None


def test_a_throttled_function_url_answers_429(fns: Lambdas) -> None:
    fns.function("page", f"{SELFTEST}.echo")
    fns.client.create_function_url_config(FunctionName="page", AuthType="NONE")
    fns.client.put_function_concurrency(FunctionName="page", ReservedConcurrentExecutions=1)
    release, threads = hold(fns, "page", 1)
    try:
        answer = Client(FunctionUrls()).get(f"{PREFIX}{REGION}/page/?token=x")
        assert answer.status_code == 429 and answer.get_json() == {"Message": "Rate Exceeded."}
    finally:
        release.set()
        for thread in threads:
            thread.join(10)
    assert Client(FunctionUrls()).get(f"{PREFIX}{REGION}/page/").status_code == 200


def test_aws_keeps_100_of_the_accounts_1000_unreserved(fns: Lambdas) -> None:
    fns.function("big", f"{SELFTEST}.echo")
    fns.function("other", f"{SELFTEST}.echo")
    fns.client.put_function_concurrency(FunctionName="big", ReservedConcurrentExecutions=895)
    with pytest.raises(ClientError, match="below its minimum value of \\[100\\]"):
        fns.client.put_function_concurrency(FunctionName="other", ReservedConcurrentExecutions=6)
    fns.client.put_function_concurrency(FunctionName="other", ReservedConcurrentExecutions=5)
