"""The local Lambda seam: moto runs the project's handlers in-process, as Lambda would.

Return values become the payload; exceptions become Lambda's error payload with the class
name as ``errorType`` (which Step Functions' Catch matches); the function's environment is
visible through ``runtime_env.getenv`` during the call only, never in ``os.environ``.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from albrules import runtime_env
from albrules.local import lambdas
from albrules.local.deploy import code_zip

REGION = "us-east-1"
SAM_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
SELFTEST = "app"  # functions/selftest/app.py of the fixture template, packaged as deploy does it
PACKAGE = code_zip(Path(__file__).resolve().parents[1] / "fixtures/mini/functions/selftest")


def _zip(handler: str) -> bytes:
    """The function's package: the selftest code for its handlers, else a placeholder (a
    function the local runtime does not run: moto's own behaviour)."""
    if handler.startswith(f"{SELFTEST}."):
        return PACKAGE
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.txt", "")
    return buffer.getvalue()


class Lambdas:
    def __init__(self, session: boto3.Session):
        self.session = session
        self.client = session.client("lambda")
        self.role = session.client("iam").create_role(
            RoleName="selftest", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]

    def function(
        self, name: str, handler: str, env: dict[str, str] | None = None, timeout: int = 30
    ) -> str:
        return self.client.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=self.role,
            Handler=handler,
            Code={"ZipFile": _zip(handler)},
            Timeout=timeout,
            Environment={"Variables": env or {}},
        )["FunctionArn"]

    def invoke(self, name: str, event: Any) -> tuple[str | None, Any]:
        response = self.client.invoke(FunctionName=name, Payload=json.dumps(event))
        return response.get("FunctionError"), json.loads(response["Payload"].read())


@pytest.fixture
def fns() -> Iterator[Lambdas]:
    lambdas.clear_hooks()
    with mock_aws(config=SAM_CONFIG):
        yield Lambdas(boto3.Session(region_name=REGION))
    lambdas.clear_hooks()


def test_invoke_runs_the_handler_and_returns_its_result(fns):
    fns.function("echo", f"{SELFTEST}.echo")
    error, payload = fns.invoke("echo", {"hello": "world"})
    assert error is None
    assert payload["event"] == {"hello": "world"}
    assert payload["function_name"] == "echo"
    assert 0 < payload["remaining_ms"] <= 30_000


def test_an_exception_is_lambdas_unhandled_error_with_the_class_name(fns):
    fns.function("fail", f"{SELFTEST}.fail")
    error, payload = fns.invoke("fail", {"message": "listener is locked"})
    assert error == "Unhandled"
    assert payload["errorType"] == "SelfTestFailure"
    assert payload["errorMessage"] == "listener is locked"
    assert any("app.py" in line and "in fail" in line for line in payload["stackTrace"])
    assert not any("lambdas.py" in line for line in payload["stackTrace"])


def test_the_handler_sees_its_environment_and_os_environ_does_not(fns):
    fns.function("echo", f"{SELFTEST}.echo", {"ALBRULES_SELFTEST_SETTING": "from-create-function"})
    _, payload = fns.invoke(
        "echo", {"env": ["ALBRULES_SELFTEST_SETTING", "AWS_LAMBDA_FUNCTION_NAME"]}
    )
    assert payload["env"] == {
        "ALBRULES_SELFTEST_SETTING": "from-create-function",
        "AWS_LAMBDA_FUNCTION_NAME": "echo",
    }
    assert "ALBRULES_SELFTEST_SETTING" not in os.environ
    assert "AWS_LAMBDA_FUNCTION_NAME" not in os.environ
    assert lambdas.function_environment() == {}
    assert runtime_env.getenv("ALBRULES_SELFTEST_SETTING", "unset") == "unset"


def test_concurrent_invocations_each_see_their_own_environment(fns):
    for name in ("one", "two", "three"):
        fns.function(name, f"{SELFTEST}.echo", {"ALBRULES_SELFTEST_SETTING": name})
    seen: dict[str, list[str]] = {}
    barrier = threading.Barrier(3)

    def hold(event: Any, context: Any) -> None:
        barrier.wait(timeout=5)  # all three are inside an invocation at once

    lambdas.before_invoke("", hold)

    def call(name: str) -> None:
        client = fns.session.client("lambda")
        response = client.invoke(
            FunctionName=name, Payload=json.dumps({"env": ["ALBRULES_SELFTEST_SETTING"]})
        )
        seen[name] = json.loads(response["Payload"].read())["env"]["ALBRULES_SELFTEST_SETTING"]

    threads = [threading.Thread(target=call, args=(n,)) for n in ("one", "two", "three")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert seen == {"one": "one", "two": "two", "three": "three"}


def test_the_handlers_own_aws_calls_reach_the_same_local_aws(fns):
    fns.session.client("s3").create_bucket(Bucket="selftest-bucket")
    fns.function("buckets", f"{SELFTEST}.list_buckets")
    assert fns.invoke("buckets", {}) == (None, ["selftest-bucket"])


def test_hooks_run_just_before_the_named_function_and_can_be_cleared(fns):
    fns.function("stack-EchoFunction", f"{SELFTEST}.echo")
    fns.function("stack-OtherFunction", f"{SELFTEST}.echo")
    calls: list[tuple[str, Any]] = []
    lambdas.before_invoke(
        "EchoFunction", lambda event, ctx: calls.append((ctx.function_name, event))
    )
    fns.invoke("stack-EchoFunction", {"n": 1})
    fns.invoke("stack-OtherFunction", {"n": 2})
    assert calls == [("stack-EchoFunction", {"n": 1})]

    def tamper(event: Any, context: Any) -> None:
        raise RuntimeError("tampered")

    lambdas.before_invoke("OtherFunction", tamper)
    error, payload = fns.invoke("stack-OtherFunction", {})
    assert (error, payload["errorType"]) == ("Unhandled", "RuntimeError")
    lambdas.clear_hooks()
    fns.invoke("stack-EchoFunction", {"n": 3})
    assert fns.invoke("stack-OtherFunction", {})[0] is None
    assert len(calls) == 1


def test_other_functions_keep_motos_behaviour(fns):
    fns.function("foreign", "index.handler")
    response = fns.client.invoke(FunctionName="foreign", Payload=b'{"a": 1}')
    assert response.get("FunctionError") is None
    assert json.loads(response["Payload"].read()) == {"a": 1}  # moto's simple backend echoes


def _execute(
    session: boto3.Session, definition: dict, payload: dict, role: str
) -> tuple[dict, list]:
    sfn = session.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"selftest-{time.monotonic_ns()}", definition=json.dumps(definition), roleArn=role
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload))[
        "executionArn"
    ]
    deadline = time.monotonic() + 10
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end within 10s"
        time.sleep(0.02)
    return described, sfn.get_execution_history(executionArn=execution)["events"]


def _definition(fail_arn: str, echo_arn: str, catch: str) -> dict:
    return {
        "StartAt": "Fail on purpose",
        "States": {
            "Fail on purpose": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": fail_arn, "Payload.$": "$"},
                "Catch": [{"ErrorEquals": [catch], "ResultPath": "$.error", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {  # the other integration: the function ARN as the resource
                "Type": "Task",
                "Resource": echo_arn,
                "Parameters": {"error.$": "$.error.Error", "env": ["ALBRULES_SELFTEST_SETTING"]},
                "End": True,
            },
        },
    }


def test_a_catch_on_the_exception_class_name_routes_the_execution(fns):
    fail = fns.function("fail", f"{SELFTEST}.fail")
    echo = fns.function("echo", f"{SELFTEST}.echo", {"ALBRULES_SELFTEST_SETTING": "caught"})
    described, events = _execute(
        fns.session, _definition(fail, echo, "SelfTestFailure"), {"message": "m"}, fns.role
    )
    assert described["status"] == "SUCCEEDED"
    failed = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failed] == ["SelfTestFailure"]
    assert json.loads(failed[0]["cause"])["errorMessage"] == "m"
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]
    assert entered == ["Fail on purpose", "Caught"]
    output = json.loads(described["output"])
    assert output["event"]["error"] == "SelfTestFailure"
    assert output["env"] == {"ALBRULES_SELFTEST_SETTING": "caught"}


def test_an_uncaught_exception_fails_the_execution_with_its_class_name(fns):
    fail = fns.function("fail", f"{SELFTEST}.fail")
    echo = fns.function("echo", f"{SELFTEST}.echo")
    described, events = _execute(
        fns.session, _definition(fail, echo, "SomethingElse"), {"message": "m"}, fns.role
    )
    assert described["status"] == "FAILED"
    assert described["error"] == "SelfTestFailure"
    assert events[-1]["type"] == "ExecutionFailed"
    assert "Caught" not in json.dumps([e.get("stateEnteredEventDetails") for e in events])


def _late_write(fns: Lambdas, name: str, seconds: float) -> tuple[str | None, Any]:
    s3 = fns.session.client("s3")
    s3.create_bucket(Bucket="late")
    event = {"seconds": seconds, "bucket": "late", "key": name}
    return fns.invoke(name, event)


def _keys(fns: Lambdas) -> list[str]:
    found = fns.session.client("s3").list_objects_v2(Bucket="late").get("Contents", [])
    return [item["Key"] for item in found]


def test_a_function_past_its_timeout_fails_as_lambdas_timeout_and_its_later_calls_never_land(
    fns,
):
    fns.function("slow", f"{SELFTEST}.slow_put", timeout=1)
    error, payload = _late_write(fns, "slow", seconds=1.5)
    # the handler would answer "written" after 1.5 s: Lambda's timeout answered at 1 s
    assert error == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"].endswith("Error: Task timed out after 1.00 seconds")
    assert payload["errorMessage"].startswith("RequestId: ")
    time.sleep(1.5)  # the abandoned handler wakes up and tries its write
    assert _keys(fns) == []


def test_a_test_can_shorten_a_functions_timeout_and_a_fast_one_is_unaffected(fns):
    fns.function("stack-SlowFunction", f"{SELFTEST}.slow_put", timeout=30)
    lambdas.set_timeout("SlowFunction", 0.3)
    error, payload = _late_write(fns, "stack-SlowFunction", seconds=0.8)
    assert (error, payload["errorType"]) == ("Unhandled", "Sandbox.Timedout")
    assert "timed out after 0.30 seconds" in payload["errorMessage"]
    lambdas.clear_hooks()  # back to the configured 30 s
    assert fns.invoke(
        "stack-SlowFunction", {"seconds": 0, "bucket": "late", "key": "fast"}
    ) == (None, "written")
    time.sleep(0.8)
    assert _keys(fns) == ["fast"]


def test_a_step_functions_task_sees_the_timeout_as_sandbox_timedout(fns):
    slow = fns.function("slow", f"{SELFTEST}.slow_put", timeout=1)
    fns.session.client("s3").create_bucket(Bucket="late")
    definition = {
        "StartAt": "Run too long",
        "States": {
            "Run too long": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": slow, "Payload.$": "$"},
                "End": True,
            }
        },
    }
    described, events = _execute(
        fns.session, definition, {"seconds": 1.5, "bucket": "late", "key": "k"}, fns.role
    )
    assert (described["status"], described["error"]) == ("FAILED", "Sandbox.Timedout")
    failed = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failed] == ["Sandbox.Timedout"]
    assert "Task timed out after 1.00 seconds" in json.loads(failed[0]["cause"])["errorMessage"]


def test_install_is_idempotent():
    from moto.awslambda.models import LambdaFunction

    before = LambdaFunction.invoke
    lambdas.install()
    lambdas.install()
    assert LambdaFunction.invoke is before
