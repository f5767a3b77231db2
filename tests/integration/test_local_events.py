"""The local AWS's EventBridge (albrules.local.events): Step Functions' execution status change
events, as AWS documents them, delivered to a rule's Lambda targets; and StopExecution of an
execution waiting for a task token (albrules.local.stepfunctions)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from albrules.local import lambdas
from integration.test_local_lambdas import SAM_CONFIG, SELFTEST, Lambdas

REGION = "us-east-1"
PATTERN = {"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"]}


class World:
    def __init__(self, session: boto3.Session):
        self.session = session
        self.sfn = session.client("stepfunctions")
        self.events = session.client("events")
        self.fns = Lambdas(session)
        self.echo = self.fns.function("echo", f"{SELFTEST}.echo")
        self.received: list[dict[str, Any]] = []
        self.arrived = threading.Condition()
        lambdas.before_invoke("echo", self._record)

    def _record(self, event: Any, context: Any) -> None:
        if isinstance(event, dict) and event.get("source") == "aws.states":
            with self.arrived:
                self.received.append(event)
                self.arrived.notify_all()

    def machine(self, name: str, states: dict[str, Any], kind: str = "STANDARD") -> str:
        definition = {"StartAt": next(iter(states)), "States": states}
        return self.sfn.create_state_machine(
            name=name,
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/sfn",
            type=kind,
        )["stateMachineArn"]

    def rule(self, pattern: dict[str, Any] = PATTERN, state: str = "ENABLED") -> None:
        self.events.put_rule(Name="ended", EventPattern=json.dumps(pattern), State=state)
        self.events.put_targets(Rule="ended", Targets=[{"Id": "echo", "Arn": self.echo}])

    def wait_for_events(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.received) < count and time.monotonic() < deadline:
                self.arrived.wait(0.05)
        return list(self.received)

    def wait_for_status(self, execution: str, status: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sfn.describe_execution(executionArn=execution)["status"] == status:
                return
            time.sleep(0.05)
        raise AssertionError(f"{execution} never reached {status}")


@pytest.fixture
def world() -> Iterator[World]:
    lambdas.clear_hooks()
    with mock_aws(config=SAM_CONFIG):
        yield World(boto3.Session(region_name=REGION))
    lambdas.clear_hooks()


def test_a_standard_execution_sends_its_status_changes_to_a_lambda_target(world):
    world.rule()
    machine = world.machine("done", {"Done": {"Type": "Pass", "Result": {"ok": 1}, "End": True}})
    execution = world.sfn.start_execution(stateMachineArn=machine, input='{"a": 1}')["executionArn"]
    running, succeeded = world.wait_for_events(2)
    for event in (running, succeeded):
        assert event["source"] == "aws.states"
        assert event["detail-type"] == "Step Functions Execution Status Change"
        assert event["account"] == "123456789012" and event["region"] == REGION
        assert event["resources"] == [execution]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
        assert event["detail"]["executionArn"] == execution
        assert event["detail"]["stateMachineArn"] == machine
        assert event["detail"]["name"] == execution.rsplit(":", 1)[1]
        assert event["detail"]["input"] == '{"a":1}'
        assert isinstance(event["detail"]["startDate"], int)
    assert running["detail"]["status"] == "RUNNING" and running["detail"]["stopDate"] is None
    assert succeeded["detail"]["status"] == "SUCCEEDED"
    assert json.loads(succeeded["detail"]["output"]) == {"ok": 1}
    assert succeeded["detail"]["stopDate"] >= succeeded["detail"]["startDate"]


def test_a_failed_execution_sends_its_error_and_the_rule_filters_by_status(world):
    world.rule({**PATTERN, "detail": {"status": ["FAILED"]}})
    machine = world.machine("fails", {"Fail": {"Type": "Fail", "Error": "Boom", "Cause": "why"}})
    world.sfn.start_execution(stateMachineArn=machine)
    [failed] = world.wait_for_events(1)
    time.sleep(0.2)  # nothing more arrives: RUNNING did not match
    assert world.received == [failed]
    assert failed["detail"]["status"] == "FAILED"
    assert (failed["detail"]["error"], failed["detail"]["cause"]) == ("Boom", "why")
    assert failed["detail"]["output"] is None


def test_express_executions_and_disabled_rules_send_nothing(world):
    world.rule(state="DISABLED")
    standard = world.machine("standard", {"Done": {"Type": "Pass", "End": True}})
    execution = world.sfn.start_execution(stateMachineArn=standard)["executionArn"]
    world.wait_for_status(execution, "SUCCEEDED")
    world.rule()  # enabled again
    express = world.machine("express", {"Done": {"Type": "Pass", "End": True}}, "EXPRESS")
    started = world.sfn.start_execution(stateMachineArn=express)["executionArn"]
    world.wait_for_status(started, "SUCCEEDED")
    time.sleep(0.2)
    assert world.received == []


def test_stopping_an_execution_that_waits_for_a_task_token_aborts_it(world):
    """AWS: StopExecution ends the execution ABORTED at once, whatever it waits for."""
    world.rule({**PATTERN, "detail": {"status": ["ABORTED", "FAILED"]}})
    machine = world.machine(
        "waits",
        {
            "Wait for a person": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": world.echo, "Payload": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": 3600,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    )
    execution = world.sfn.start_execution(stateMachineArn=machine)["executionArn"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        history = world.sfn.get_execution_history(executionArn=execution)["events"]
        if any(e["type"] == "TaskSubmitted" for e in history):
            break
        time.sleep(0.05)

    world.sfn.stop_execution(executionArn=execution, cause="an operator stopped it")

    world.wait_for_status(execution, "ABORTED")
    history = world.sfn.get_execution_history(executionArn=execution)["events"]
    assert history[-1]["type"] == "ExecutionAborted"
    assert not any(e["type"] == "PassStateEntered" for e in history)  # the Catch never ran
    [aborted] = world.wait_for_events(1)
    assert aborted["detail"]["status"] == "ABORTED"
    assert aborted["detail"]["executionArn"] == execution
