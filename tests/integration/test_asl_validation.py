"""The local AWS rejects the state machine definitions AWS rejects (albrules.local.asl_validation).

moto accepts any definition; the local AWS answers CreateStateMachine, UpdateStateMachine and
ValidateStateMachineDefinition as AWS does, so a local deploy fails where `sam deploy` would.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from albrules.local import lambdas
from albrules.local.deploy import DeployFailed, deploy

REGION = "us-east-1"
ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "fixtures" / "mini"
ROLE = "arn:aws:iam::123456789012:role/machine"
SAM_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
GOOD = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
DUPLICATE = {
    "StartAt": "A",
    "States": {
        "A": {"Type": "Pass", "Next": "Each"},
        "Each": {
            "Type": "Map",
            "ItemProcessor": {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
            "End": True,
        },
    },
}
DUPLICATE_MESSAGE = (
    "Invalid State Machine Definition: 'DUPLICATE_STATE_NAME: Duplicate State name: A "
    "at /States/Each/ItemProcessor/States/A'"
)


@pytest.fixture(params=["executing", "plain"])
def sfn(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Step Functions of the local AWS, with moto's interpreter (as the local AWS runs it) and
    without (moto's other backend)."""
    config = SAM_CONFIG if request.param == "executing" else {}
    with mock_aws(config=config):
        yield boto3.client("stepfunctions", region_name=REGION)


def _error(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def test_a_duplicate_state_name_is_rejected_on_create(sfn: Any) -> None:
    with pytest.raises(ClientError) as err:
        sfn.create_state_machine(name="dup", definition=json.dumps(DUPLICATE), roleArn=ROLE)
    assert _error(err) == ("InvalidDefinition", DUPLICATE_MESSAGE)
    assert sfn.list_state_machines()["stateMachines"] == []


def test_an_invalid_definition_is_rejected_on_update(sfn: Any) -> None:
    arn = sfn.create_state_machine(name="m", definition=json.dumps(GOOD), roleArn=ROLE)[
        "stateMachineArn"
    ]
    with pytest.raises(ClientError) as err:
        sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(DUPLICATE))
    assert _error(err) == ("InvalidDefinition", DUPLICATE_MESSAGE)
    with pytest.raises(ClientError) as err:
        sfn.update_state_machine(stateMachineArn=arn, definition="{not json")
    code, message = _error(err)
    assert code == "InvalidDefinition" and "INVALID_JSON_DESCRIPTION" in message
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == GOOD
    sfn.update_state_machine(stateMachineArn=arn, roleArn=ROLE)  # no definition: nothing checked


def test_validate_state_machine_definition(sfn: Any) -> None:
    ok = sfn.validate_state_machine_definition(definition=json.dumps(GOOD))
    assert (ok["result"], ok["diagnostics"], ok["truncated"]) == ("OK", [], False)
    bad = sfn.validate_state_machine_definition(definition=json.dumps(DUPLICATE))
    assert bad["result"] == "FAIL" and not bad["truncated"]
    assert bad["diagnostics"] == [
        {
            "severity": "ERROR",
            "code": "DUPLICATE_STATE_NAME",
            "message": "Duplicate State name: A",
            "location": "/States/Each/ItemProcessor/States/A",
        }
    ]
    many = {"StartAt": "A", "States": {f"S{i}": {"Type": "Pass"} for i in range(5)}}
    capped = sfn.validate_state_machine_definition(definition=json.dumps(many), maxResults=2)
    assert capped["result"] == "FAIL" and capped["truncated"]
    assert len(capped["diagnostics"]) == 2


@pytest.mark.parametrize(
    ("name", "logical_id"),
    [
        ("backup", "BackupStateMachine"),
        ("restore", "RestoreStateMachine"),
        ("changes", "ChangeBackupStateMachine"),
    ],
)
def test_the_real_machines_are_accepted_as_deployed(name: str, logical_id: str) -> None:
    """The real template deploys (its machines pass the checks once substituted) and the
    deployed definitions validate OK."""
    lambdas.clear_hooks()
    try:
        with mock_aws(config=SAM_CONFIG):
            session = boto3.Session(region_name=REGION)
            deployment = deploy(ROOT / "template.yaml", aws=session, save=False)
            sfn = session.client("stepfunctions")
            described = sfn.describe_state_machine(
                stateMachineArn=deployment.physical_id(logical_id)
            )
            assert "${" not in described["definition"]
            result = sfn.validate_state_machine_definition(definition=described["definition"])
            assert (result["result"], result["diagnostics"]) == ("OK", [])
    finally:
        lambdas.clear_hooks()


def test_a_local_deploy_of_a_machine_with_a_duplicate_name_fails_clearly(tmp_path: Path) -> None:
    shutil.copytree(MINI, tmp_path / "mini")
    path = tmp_path / "mini" / "statemachine" / "mini.asl.json"
    asl = json.loads(path.read_text())
    asl["States"]["Settings"]["Next"] = "Each"
    asl["States"]["Each"] = {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}},
        "Next": "Fail on purpose",
    }
    path.write_text(json.dumps(asl))
    lambdas.clear_hooks()
    try:
        with mock_aws(config=SAM_CONFIG):
            session = boto3.Session(region_name=REGION)
            with pytest.raises(DeployFailed) as err:
                deploy(tmp_path / "mini" / "template.yaml", aws=session, save=False)
            assert session.client("stepfunctions").list_state_machines()["stateMachines"] == []
    finally:
        lambdas.clear_hooks()
    message = str(err.value)
    assert message.startswith("creating Machine (AWS::StepFunctions::StateMachine) failed")
    assert "is invalid, and AWS rejects it too" in message
    assert (
        "Invalid State Machine Definition: 'DUPLICATE_STATE_NAME: Duplicate State name: Echo "
        "at /States/Each/ItemProcessor/States/Echo'"
    ) in message
    assert "may not support it" not in message
