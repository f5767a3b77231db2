"""Lambda function URLs in the local AWS: albrules.local.function_urls.

The event a function gets and the HTTP response its result becomes follow AWS's "Invoking
Lambda function URLs" (payload format 2.0). In-process, the adapter is driven with
werkzeug's test client against functions whose handlers echo or fail
(``albrules.handlers._selftest``); end to end, `albrules local deploy` into the local AWS
server gives the approval function a URL that answers over HTTP.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from werkzeug.test import Client

from albrules.local import process
from albrules.local.function_urls import (
    PREFIX,
    FunctionUrls,
    http_response,
    served_url,
    url_event,
)
from integration.test_local_lambdas import SAM_CONFIG, SELFTEST, Lambdas
from integration.test_local_server import free_port
from local_world import local_client

REGION = "us-east-1"


# --- the event ---------------------------------------------------------------------------------


def test_url_event_follows_the_documented_request_payload() -> None:
    event = url_event(
        method="get",
        raw_path="/my/path",
        raw_query="parameter1=value1&parameter1=value2&parameter2=value",
        headers=[
            ("Header1", "value1"),
            ("header2", "value1"),
            ("Header2", "value2"),
            ("User-Agent", "agent"),
            ("Cookie", "cookie1=a; cookie2=b"),
        ],
        body=b"",
        source_ip="123.123.123.123",
        domain_name="abcdefg.lambda-url.us-east-1.on.aws",
        now=1583348638.390,
    )
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/my/path"
    assert event["rawQueryString"] == "parameter1=value1&parameter1=value2&parameter2=value"
    assert event["queryStringParameters"] == {"parameter1": "value1,value2", "parameter2": "value"}
    assert event["cookies"] == ["cookie1=a", "cookie2=b"]
    assert event["headers"] == {
        "header1": "value1",
        "header2": "value1,value2",
        "user-agent": "agent",
    }
    context = event["requestContext"]
    assert context["http"] == {
        "method": "GET",
        "path": "/my/path",
        "protocol": "HTTP/1.1",
        "sourceIp": "123.123.123.123",
        "userAgent": "agent",
    }
    assert (context["apiId"], context["domainPrefix"]) == ("abcdefg", "abcdefg")
    assert context["domainName"] == "abcdefg.lambda-url.us-east-1.on.aws"
    assert (context["routeKey"], context["stage"], context["accountId"]) == (
        "$default",
        "$default",
        "anonymous",
    )
    assert context["time"] == "04/Mar/2020:19:03:58 +0000"
    assert context["timeEpoch"] == 1583348638390
    assert event["isBase64Encoded"] is False and "body" not in event


def test_form_posts_arrive_base64_encoded_and_text_as_text() -> None:
    def body_of(content_type: str, data: bytes) -> tuple[Any, bool]:
        event = url_event(
            method="POST",
            raw_path="/",
            raw_query="",
            headers=[("Content-Type", content_type)],
            body=data,
            source_ip="192.0.2.1",
            domain_name="id.lambda-url.us-east-1.on.aws",
        )
        assert "queryStringParameters" not in event and "cookies" not in event
        return event["body"], event["isBase64Encoded"]

    form = b"token=a.b&decision=reject&reason=wrong+snapshot"
    encoded, is_b64 = body_of("application/x-www-form-urlencoded", form)
    assert is_b64 is True and base64.b64decode(encoded) == form
    assert body_of("application/json", b'{"a": "\xc3\xa9"}') == ('{"a": "é"}', False)
    assert body_of("text/plain; charset=utf-8", b"hello") == ("hello", False)
    assert body_of("text/plain", b"\xff\xfe")[1] is True  # not UTF-8: sent as base64


# --- the response -------------------------------------------------------------------------------


def test_a_result_with_status_code_is_the_http_response() -> None:
    result = {
        "statusCode": 201,
        "headers": {"Content-Type": "text/html; charset=utf-8", "My-Custom-Header": "Custom"},
        "cookies": ["Cookie_1=Value1; Max-Age=78000", "Cookie_2=Value2"],
        "body": "<p>é</p>",
    }
    status, headers, body = http_response(json.dumps(result).encode())
    assert status == 201 and body == "<p>é</p>".encode()
    assert ("Content-Type", "text/html; charset=utf-8") in headers
    assert ("My-Custom-Header", "Custom") in headers
    assert [v for k, v in headers if k == "Set-Cookie"] == result["cookies"]

    binary = {"statusCode": 200, "body": base64.b64encode(b"\x89PNG").decode(),
              "isBase64Encoded": True}  # fmt: skip
    status, headers, body = http_response(json.dumps(binary).encode())
    assert (status, body) == (200, b"\x89PNG")
    assert ("Content-Type", "application/json") in headers  # the default


def test_other_results_are_json_and_function_errors_are_502() -> None:
    for result in ({"message": "Hello, world!"}, "Hello, world!", [1, 2]):
        payload = json.dumps(result).encode()
        assert http_response(payload) == (200, [("Content-Type", "application/json")], payload)
    error = json.dumps({"errorType": "Boom", "errorMessage": "no"}).encode()
    status, _, body = http_response(error, "Unhandled")
    assert (status, body) == (502, b"Internal Server Error")
    assert http_response(json.dumps({"statusCode": "x"}).encode())[0] == 502


def test_only_a_local_aws_server_serves_function_urls() -> None:
    assert served_url("http://127.0.0.1:4566", REGION, "stack-ApprovalFunction") == (
        f"http://127.0.0.1:4566{PREFIX}us-east-1/stack-ApprovalFunction/"
    )
    assert served_url("http://localhost:4566/", "eu-west-1", "f") == (
        f"http://localhost:4566{PREFIX}eu-west-1/f/"
    )
    for endpoint in (None, "", "https://lambda.us-east-1.amazonaws.com"):
        assert served_url(endpoint, REGION, "f") is None  # in-process moto or real AWS


# --- the adapter, in-process --------------------------------------------------------------------


@pytest.fixture
def fns() -> Iterator[Lambdas]:
    with mock_aws(config=SAM_CONFIG):
        yield Lambdas(boto3.Session(region_name=REGION))


def _url(fns: Lambdas, name: str, handler: str, auth: str = "NONE") -> str:
    fns.function(name, f"{SELFTEST}.{handler}")
    config = fns.client.create_function_url_config(FunctionName=name, AuthType=auth)
    return str(config["FunctionUrl"])


def test_the_adapter_invokes_the_function_with_the_request_as_its_event(fns: Lambdas) -> None:
    moto_url = _url(fns, "echo", "echo")
    client = Client(FunctionUrls(), use_cookies=False)  # the Cookie header goes as written
    where = {"REMOTE_ADDR": "192.0.2.9"}

    got = client.get(
        f"{PREFIX}{REGION}/echo/some/path?a=1&a=2&b=",
        headers={"Cookie": "c=1", "User-Agent": "browser"},
        environ_base=where,
    )
    assert got.status_code == 200 and got.headers["Content-Type"] == "application/json"
    event = got.get_json()["event"]
    assert event["rawPath"] == "/some/path" and event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["cookies"] == ["c=1"] and "cookie" not in event["headers"]
    assert event["headers"]["x-forwarded-for"] == "192.0.2.9"
    http = event["requestContext"]["http"]
    assert (http["method"], http["path"], http["sourceIp"], http["userAgent"]) == (
        "GET",
        "/some/path",
        "192.0.2.9",
        "browser",
    )
    assert event["requestContext"]["domainName"] in moto_url

    posted = client.post(
        f"{PREFIX}{REGION}/echo",
        data={"token": "t", "decision": "approve"},
        environ_base=where,
    )
    event = posted.get_json()["event"]
    assert event["rawPath"] == "/" and event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"token=t&decision=approve"
    assert event["headers"]["content-type"] == "application/x-www-form-urlencoded"


def test_failing_missing_and_iam_urls(fns: Lambdas) -> None:
    _url(fns, "failing", "fail")
    _url(fns, "private", "echo", auth="AWS_IAM")
    fns.function("no-url", f"{SELFTEST}.echo")
    client = Client(FunctionUrls())

    failed = client.get(f"{PREFIX}{REGION}/failing/")
    assert (failed.status_code, failed.data) == (502, b"Internal Server Error")
    missing = client.get(f"{PREFIX}{REGION}/no-url/")
    assert missing.status_code == 403 and missing.get_json() == {"Message": None}
    assert client.get(f"{PREFIX}{REGION}/private/").status_code == 403  # unsigned
    assert client.get(PREFIX).status_code == 404


# --- end to end: `albrules local deploy` into the local AWS server -------------------------------


@pytest.fixture
def server(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, dict]]:
    port = free_port()
    monkeypatch.setenv("ALBRULES_HOME", str(tmp_path / "home"))
    process.up(port)
    env = {**os.environ, **process.environment(port), "ALBRULES_HOME": str(tmp_path / "home")}
    try:
        yield port, env
    finally:
        process.down(port)


def test_local_deploy_gives_the_approval_function_a_url_that_answers(server: Any) -> None:
    port, env = server
    deployed = subprocess.run(
        [
            sys.executable,
            "-m",
            "albrules.cli",
            "local",
            "deploy",
            "--port",
            str(port),
            "--json",
            "--parameter-overrides",
            "MemberExternalId=test-external-id",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert deployed.returncode == 0, deployed.stderr
    deployment = json.loads(deployed.stdout)
    url = deployment["outputs"]["ApprovalUrl"]
    assert url == served_url(
        process.endpoint(port),
        "us-east-1",
        deployment["resources"]["ApprovalFunction"]["physical_id"],
    )
    lam = local_client(port, "lambda")
    sender = deployment["resources"]["RequestApprovalFunction"]["physical_id"]
    variables = lam.get_function_configuration(FunctionName=sender)["Environment"]["Variables"]
    assert variables["ALBRULES_APPROVAL_URL"] == url  # the links it sends open this

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{url}?token=not-a-token", timeout=30)
    answer = refused.value
    page = answer.read().decode()
    assert answer.code == 403 and "This link does nothing" in page
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
