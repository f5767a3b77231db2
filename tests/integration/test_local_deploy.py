"""Deploying the SAM application into the local AWS: albrules.local.deploy.

A miniature fixture template (tests/fixtures/mini/) covers every resource kind of the real
one; the real template.yaml is deployed too, and its functions' handlers must exist.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from albrules import workflows
from albrules.errors import InvalidInput
from albrules.local import deploy as deploy_module
from albrules.local import lambdas
from albrules.local.deploy import (
    DeployFailed,
    Resolver,
    _Deployer,
    deploy,
    deployment_order,
    deployment_path,
    load_deployment,
    local_defaults,
)

REGION = "us-east-1"
ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "fixtures" / "mini" / "template.yaml"
REAL = ROOT / "template.yaml"
SAM_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


@pytest.fixture
def session() -> Iterator[boto3.Session]:
    lambdas.clear_hooks()
    with mock_aws(config=SAM_CONFIG):
        yield boto3.Session(region_name=REGION)
    lambdas.clear_hooks()


@pytest.fixture
def mini(session: boto3.Session):
    return deploy(MINI, aws=session)


def test_the_resources_exist_as_the_template_describes_them(session, mini):
    s3 = session.client("s3")
    bucket = mini.outputs["BucketName"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert (
        rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == mini.outputs["DataKeyArn"]
    )
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Resource"][1] == f"arn:aws:s3:::{bucket}/*"
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]
    assert lifecycle["Expiration"]["Days"] == 7

    ddb = session.client("dynamodb")
    table = mini.outputs["TableName"]
    ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")

    secret = session.client("secretsmanager").get_secret_value(
        SecretId=mini.physical_id("SigningSecret")
    )["SecretString"]
    assert len(secret) == 48 and secret.isalnum()

    lam = session.client("lambda")
    config = lam.get_function_configuration(FunctionName=mini.physical_id("EchoFunction"))
    assert config["Handler"] == "app.echo"
    assert config["Role"].endswith(":role/albrules-EchoFunctionRole")
    assert (config["Timeout"], config["MemorySize"]) == (30, 256)
    env = config["Environment"]["Variables"]
    assert env["ALBRULES_TABLE"] == table
    assert env["ALBRULES_BUCKET"] == bucket
    assert env["ALBRULES_GREETING"] == "hello, us-east-1"
    assert env["ALBRULES_SECRET_ARN"] == mini.physical_id("SigningSecret")
    fail = lam.get_function_configuration(FunctionName=mini.physical_id("FailFunction"))
    assert fail["Environment"]["Variables"]["ALBRULES_ECHO_URL"] == mini.outputs["EchoUrl"]
    assert (
        lam.get_function_url_config(FunctionName=mini.physical_id("EchoFunction"))["FunctionUrl"]
        == mini.outputs["EchoUrl"]
    )

    iam = session.client("iam")
    attached = iam.list_attached_role_policies(RoleName="albrules-FailFunctionRole")
    assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [
        mini.physical_id("UseDataKeyPolicy")
    ]
    assert not iam.list_attached_role_policies(RoleName="albrules-EchoFunctionRole")[
        "AttachedPolicies"
    ]
    version = iam.get_policy_version(PolicyArn=mini.physical_id("UseDataKeyPolicy"), VersionId="v1")
    assert version["PolicyVersion"]["Document"]["Statement"] == [
        {
            "Sid": "UseDataKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": mini.outputs["DataKeyArn"],
        }
    ]
    # SAM's AWS managed policies are not in the local AWS: noted, the customer one is not.
    (note,) = [n for n in mini.notes if "AWS managed policies" in n]
    assert "AWSLambdaBasicExecutionRole" in note and "UseDataKeyPolicy" not in note

    groups = session.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups["logGroups"]] == [
        ("/aws/lambda/albrules-EchoFunction", 7)
    ]
    alarm = session.client("cloudwatch").describe_alarms()["MetricAlarms"][0]
    assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": mini.outputs["MachineArn"]}]
    schedule = session.client("scheduler").get_schedule(Name="MachineHourly")
    assert schedule["Target"]["Arn"] == mini.outputs["MachineArn"]
    assert session.client("sns").get_topic_attributes(
        TopicArn=mini.physical_id("NotificationTopic")
    )["Attributes"]["KmsMasterKeyId"] == mini.physical_id("DataKey")


def test_the_state_machine_is_the_asl_file_with_real_arns(session, mini):
    definition = session.client("stepfunctions").describe_state_machine(
        stateMachineArn=mini.outputs["MachineArn"]
    )["definition"]
    assert "${" not in definition
    states = json.loads(definition)["States"]
    fail_arn = f"arn:aws:lambda:{REGION}:123456789012:function:albrules-FailFunction"
    assert states["Fail on purpose"]["Parameters"]["FunctionName"] == fail_arn
    assert states["Settings"]["Parameters"]["max_concurrency.$"] == "States.StringToJson('4')"
    assert states["Not caught"]["Cause"] == mini.physical_id("NotificationTopic")


def test_outputs_skips_and_the_saved_deployment(mini):
    assert mini.outputs["Joined"] == "a/albrules"
    assert mini.outputs["MachineName"] == "albrules-Machine"
    assert mini.outputs["MachineArn"].endswith(":stateMachine:albrules-Machine")
    kinds = sorted(why.split(": ", 1)[0] for why in mini.skipped.values())
    assert kinds == [
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::Permission",
        "AWS::Lambda::Permission",
    ]
    assert any("layers" in note.lower() for note in mini.notes)
    assert deployment_path("albrules").is_file()
    assert load_deployment("albrules") == mini
    with pytest.raises(InvalidInput, match="never deployed"):
        load_deployment("other")


def test_deploying_again_updates_in_place(session, mini):
    secret = session.client("secretsmanager").get_secret_value(
        SecretId=mini.physical_id("SigningSecret")
    )["SecretString"]
    again = deploy(MINI, {"Greeting": "hi", "MaxConcurrency": 6}, aws=session)
    assert again.physical_id("DataKey") == mini.physical_id("DataKey")
    assert again.outputs == mini.outputs
    env = session.client("lambda").get_function_configuration(
        FunctionName=again.physical_id("EchoFunction")
    )["Environment"]["Variables"]
    assert env["ALBRULES_GREETING"] == "hi, us-east-1"
    definition = session.client("stepfunctions").describe_state_machine(
        stateMachineArn=again.outputs["MachineArn"]
    )["definition"]
    assert "States.StringToJson('6')" in definition
    assert (
        session.client("secretsmanager").get_secret_value(
            SecretId=again.physical_id("SigningSecret")
        )["SecretString"]
        == secret
    )
    assert len(session.client("kms").list_keys()["Keys"]) == 1
    policy = session.client("iam").get_policy(PolicyArn=again.physical_id("UseDataKeyPolicy"))
    assert policy["Policy"]["DefaultVersionId"] == "v1"  # the same document: no new version
    assert policy["Policy"]["AttachmentCount"] == 1
    assert load_deployment().parameters["Greeting"] == "hi"


def test_an_execution_runs_the_deployed_handlers(session, mini):
    seen: list[Any] = []
    lambdas.before_invoke("FailFunction", lambda event, context: seen.append(event))
    sfn = session.client("stepfunctions")
    outcome = workflows.run(sfn, "backup", mini.outputs["MachineArn"], {"message": "m"}, poll=0.02)
    assert outcome.status == "SUCCEEDED"
    assert seen == [{"message": "m"}]
    assert outcome.states == [("Settings", 1), ("Fail on purpose", 1), ("Echo", 1)]
    echo = outcome.output["echo"]
    assert echo["event"]["error"] == "SelfTestFailure"
    assert echo["env"] == {
        "ALBRULES_GREETING": "hello, us-east-1",
        "ALBRULES_TABLE": mini.outputs["TableName"],
    }


def test_roles_and_managed_policies_change_as_cloudformation_changes_them(session):
    """A changed document is a new default version (at most five kept); a role's managed
    policies and inline policies are what the template lists now; a customer managed policy
    that does not exist is an error, an AWS managed one a note."""
    iam = session.client("iam")
    deployer = _Deployer(session, "albrules", REGION, "123456789012", ROOT)

    def document(n: int) -> dict[str, Any]:
        resource = f"arn:aws:s3:::b{n}/*"
        statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": resource}
        return {"Version": "2012-10-17", "Statement": [statement]}

    arn, attributes = deployer.iam_managed_policy("Shared", {"PolicyDocument": document(0)})
    assert arn == "arn:aws:iam::123456789012:policy/albrules-Shared" == attributes["PolicyArn"]
    for n in range(1, 7):
        _, attributes = deployer.iam_managed_policy("Shared", {"PolicyDocument": document(n)})
    assert attributes["DefaultVersionId"] == "v7"
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == ["v3", "v4", "v5", "v6", "v7"]
    default = iam.get_policy_version(PolicyArn=arn, VersionId="v7")["PolicyVersion"]["Document"]
    assert default == document(6)

    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip
    basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    inline = {"PolicyName": "Own", "PolicyDocument": document(9)}
    role = {"AssumeRolePolicyDocument": trust, "Policies": [inline]}
    name, _ = deployer.iam_role("Fn", {**role, "ManagedPolicyArns": [arn, basic]})
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [arn]
    assert deployer.unattached == {"AWSLambdaBasicExecutionRole"}
    deployer.iam_role("Fn", {"AssumeRolePolicyDocument": trust, "ManagedPolicyArns": []})
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []
    missing = "arn:aws:iam::123456789012:policy/albrules-Missing"
    with pytest.raises(DeployFailed, match="albrules-Missing does not exist"):
        deployer.iam_role("Fn", {"AssumeRolePolicyDocument": trust, "ManagedPolicyArns": [missing]})


def test_a_bucket_gets_object_lock_when_the_template_asks_at_creation_or_on_update(session):
    """ObjectLockEnabled at creation: created with Object Lock (so versioned); added by an
    update to a versioned bucket that holds objects: enabled in place, as CloudFormation does
    (ObjectLockEnabled is not create-only); without it, no Object Lock."""
    s3 = session.client("s3")
    deployer = _Deployer(session, "albrules", REGION, "123456789012", ROOT)
    versioned = {"VersioningConfiguration": {"Status": "Enabled"}}
    enabled = {"ObjectLockEnabled": "Enabled"}
    locked = {"ObjectLockEnabled": True, "ObjectLockConfiguration": enabled}

    new, _ = deployer.s3_bucket("LockedBucket", {**versioned, **locked})
    plain, _ = deployer.s3_bucket("PlainBucket", versioned)

    lock = s3.get_object_lock_configuration(Bucket=new)["ObjectLockConfiguration"]
    assert lock == {"ObjectLockEnabled": "Enabled"}
    with pytest.raises(ClientError, match="ObjectLockConfigurationNotFound"):
        s3.get_object_lock_configuration(Bucket=plain)
    s3.put_object(Bucket=plain, Key="snapshots/old.json", Body=b"{}")
    again, _ = deployer.s3_bucket("PlainBucket", {**versioned, **locked})
    assert again == plain
    lock = s3.get_object_lock_configuration(Bucket=plain)["ObjectLockConfiguration"]
    assert lock == {"ObjectLockEnabled": "Enabled"}
    assert s3.get_object(Bucket=plain, Key="snapshots/old.json")["Body"].read() == b"{}"


def test_template_mistakes_are_clear_errors(session, tmp_path):
    with pytest.raises(InvalidInput, match="no parameter Nope"):
        deploy(MINI, {"Nope": "1"}, aws=session)
    with pytest.raises(InvalidInput, match="MaxConcurrency must be a number"):
        deploy(MINI, {"MaxConcurrency": "many"}, aws=session)
    with pytest.raises(InvalidInput, match="no template at"):
        deploy(tmp_path / "missing.yaml", aws=session)
    asl = json.loads((MINI.parent / "statemachine" / "mini.asl.json").read_text())
    asl["States"]["Settings"]["Parameters"]["extra"] = "${NotSubstituted}"
    (tmp_path / "statemachine").mkdir()
    (tmp_path / "statemachine" / "mini.asl.json").write_text(json.dumps(asl))
    (tmp_path / "functions" / "selftest").mkdir(parents=True)
    (tmp_path / "template.yaml").write_text(MINI.read_text())
    with pytest.raises(InvalidInput, match=r"\$\{NotSubstituted\}.*Machine"):
        deploy(tmp_path / "template.yaml", aws=session)


def test_the_resolver_and_the_order():
    template = {
        "Conditions": {"Yes": {"Fn::Equals": [{"Ref": "P"}, "x"]}},
        "Resources": {
            "B": {"Type": "T", "Properties": {"A": {"Fn::Sub": "${A.Arn}/${Other}"}}},
            "A": {"Type": "T", "Properties": {}},
            "C": {"Type": "T", "DependsOn": "B", "Properties": {}},
        },
    }
    assert deployment_order(template["Resources"]) == ["A", "B", "C"]
    resolver = Resolver(template, {"P": "x", "AWS::Region": "eu-west-1"})
    resolver.refs["A"] = "a"
    resolver.attributes["A"] = {"Arn": "arn:a"}
    value = {
        "If": {"Fn::If": ["Yes", "y", "n"]},
        "Gone": {"Fn::If": ["Yes", {"Ref": "AWS::NoValue"}, "n"]},
        "Sub": {"Fn::Sub": ["${A.Arn}:${V}:${!Literal}:${AWS::Region}", {"V": {"Ref": "P"}}]},
        "Parts": {"Fn::Select": [1, {"Fn::Split": ["/", "a/b/c"]}]},
        "List": [{"Ref": "A"}, {"Ref": "AWS::NoValue"}],
        "Join": {"Fn::Join": ["-", [{"Ref": "A"}, {"Fn::GetAtt": ["A", "Arn"]}]]},
    }
    assert resolver.resolve(value, "X") == {
        "If": "y",
        "Sub": "arn:a:x:${Literal}:eu-west-1",
        "Parts": "b",
        "List": ["a"],
        "Join": "a-arn:a",
    }
    with pytest.raises(InvalidInput, match="X uses Fn::ImportValue"):
        resolver.resolve({"Fn::ImportValue": "e"}, "X")
    with pytest.raises(InvalidInput, match=r"X reads A\.Nope"):
        resolver.resolve({"Fn::GetAtt": "A.Nope"}, "X")
    cycle = {"A": {"Properties": {"x": {"Ref": "B"}}}, "B": {"Properties": {"x": {"Ref": "A"}}}}
    with pytest.raises(InvalidInput, match="cycle: A -> B -> A"):
        deployment_order(cycle)


needs_real_template = pytest.mark.skipif(not REAL.exists(), reason="template.yaml not written yet")


@needs_real_template
def test_the_real_templates_function_roles_have_their_managed_policies(session, monkeypatch):
    """template.yaml's shared customer managed policies are created and attached to exactly
    the function roles that list them, with their statements. (The state machines are left
    out of this deploy: no role depends on them.)"""
    monkeypatch.delitem(deploy_module.CREATORS, "AWS::StepFunctions::StateMachine")
    deployment = deploy(REAL, {"MemberExternalId": "local-test"}, aws=session, save=False)
    iam = session.client("iam")
    policies = {
        logical_id: resource.physical_id
        for logical_id, resource in deployment.resources.items()
        if resource.type == "AWS::IAM::ManagedPolicy"
    }
    assert {"UseDataKeyPolicy", "AssumeMemberRolePolicy", "ChangeListenersPolicy"} <= set(policies)

    def attached(function: str) -> dict[str, str]:
        role = deployment.physical_id(f"{function}Role")
        found = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        by_arn = {arn: logical_id for logical_id, arn in policies.items()}
        return {by_arn[p["PolicyArn"]]: p["PolicyArn"] for p in found}

    rollback = attached("RollBackFunction")
    assert set(rollback) == {
        "UseDataKeyPolicy",
        "AssumeMemberRolePolicy",
        "ReadListenersPolicy",
        "ReadAccountLimitsPolicy",
        "ReadPlansPolicy",
        "ChangeListenersPolicy",
        "ReadOidcClientSecretsPolicy",
    }
    policy = iam.get_policy(PolicyArn=rollback["ChangeListenersPolicy"])["Policy"]
    statements = iam.get_policy_version(
        PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"]
    )["PolicyVersion"]["Document"]["Statement"]
    assert [s["Sid"] for s in statements] == [
        "CreateRules",
        "ChangeRules",
        "ChangeDefaultActions",
        "ChangeListenerSettings",
        "RecreateListeners",
        "DeleteRecreatedListeners",
        "WriteJournal",
    ]
    assert statements[0] == {
        "Sid": "CreateRules",
        "Effect": "Allow",
        "Action": "elasticloadbalancing:CreateRule",
        "Resource": "arn:aws:elasticloadbalancing:*:123456789012:listener/app/*",
    }
    bucket = deployment.outputs["SnapshotBucketName"]
    assert statements[-1]["Resource"] == f"arn:aws:s3:::{bucket}/pre-restore/*"
    assert statements[4]["Resource"] == [  # CreateListener: the account's ALBs only
        "arn:aws:elasticloadbalancing:*:123456789012:loadbalancer/app/*",
        "arn:aws:elasticloadbalancing:*:123456789012:listener/app/*",
    ]
    # Least privilege: a function that only reads load balancers gets no more than that, and
    # assumes only the member accounts' read-only role.
    assert set(attached("DiscoverListenersFunction")) == {
        "UseDataKeyPolicy",
        "AssumeMemberReadOnlyRolePolicy",
    }
    for reader in ("SnapshotListeners", "LoadSnapshot", "TakePreRestoreSnapshot", "VerifyListener"):
        policies_of = set(attached(f"{reader}Function"))
        assert "AssumeMemberReadOnlyRolePolicy" in policies_of, reader
        assert "AssumeMemberRolePolicy" not in policies_of, reader
    for writer in ("ComputePlan", "ApplyPlan", "RollBack"):
        assert "AssumeMemberReadOnlyRolePolicy" not in set(attached(f"{writer}Function")), writer
    assert set(attached("ReleaseLockFunction")) == {
        "UseDataKeyPolicy",
        "LockItemsPolicy",
        "WriteAuditItemsPolicy",
    }
    assert set(attached("ApprovalFunction")) == {  # the public page decides nothing
        "UseDataKeyPolicy",
        "ReadApprovalItemsPolicy",
    }
    assert set(attached("DecisionFunction")) == {
        "UseDataKeyPolicy",
        "ReadApprovalItemsPolicy",
        "DecideApprovalItemsPolicy",
    }
    data_key = iam.get_policy_version(PolicyArn=policies["UseDataKeyPolicy"], VersionId="v1")
    assert data_key["PolicyVersion"]["Document"]["Statement"] == [
        {
            "Sid": "UseDataKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": deployment.outputs["DataKeyArn"],
        }
    ]
    roles = [r for r in deployment.resources.values() if r.type == "AWS::IAM::Role"]
    assert len(roles) == 23  # 19 functions, 3 state machines, the schedule: all use the key
    data_key_policy = iam.get_policy(PolicyArn=policies["UseDataKeyPolicy"])["Policy"]
    assert data_key_policy["AttachmentCount"] == len(roles)


@needs_real_template
def test_the_real_template_deploys_and_its_backup_machine_runs(session, world):
    """One deploy of template.yaml (it takes about 2 s): machines with real ARNs, every
    function's handler in its package, the outputs of the contract, then a real backup."""
    deployment = deploy(REAL, {"MemberExternalId": "local-test"}, aws=session)
    sfn = session.client("stepfunctions")
    for output in workflows.OUTPUT_KEYS.values():
        definition = sfn.describe_state_machine(stateMachineArn=deployment.outputs[output])[
            "definition"
        ]
        assert "${" not in definition
        json.loads(definition)
    lam = session.client("lambda")
    functions = [r for r in deployment.resources.values() if r.type == "AWS::Lambda::Function"]
    assert functions
    for resource in functions:
        config = lam.get_function_configuration(FunctionName=resource.physical_id)
        assert config["Handler"] == "app.handler"
        code = lam.get_function(FunctionName=resource.physical_id)
        assert code["Configuration"]["CodeSize"] > 0  # its own package: functions/<task>/
        variables = config["Environment"]["Variables"]
        assert variables["ALBRULES_TABLE"] == deployment.outputs["CatalogTableName"]
    assert not [n for n in deployment.notes if "is not in its code" in n]  # app.py packaged
    assert set(deployment.outputs) >= {
        "BackupStateMachineArn",
        "RestoreStateMachineArn",
        "SnapshotBucketName",
        "CatalogTableName",
        "NotificationTopicArn",
        "ApprovalUrl",
        "DataKeyArn",
    }

    listener = world.listener(world.load_balancer("deployed"))
    world.rule(listener, 10, [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/a"]}}])
    outcome = workflows.run(
        sfn,
        "backup",
        deployment.outputs["BackupStateMachineArn"],
        {"targets": [{"account_id": "123456789012", "region": REGION}]},
        timeout=30,
        poll=0.05,
    )
    assert outcome.status == "SUCCEEDED", (outcome.error, outcome.cause)
    keys = [
        o["Key"]
        for o in session.client("s3").list_objects_v2(
            Bucket=deployment.outputs["SnapshotBucketName"], Prefix="snapshots/"
        )["Contents"]
    ]
    assert len(keys) == 1 and "/deployed/" in keys[0]


def test_required_parameters_get_local_defaults_kept_across_deploys(session):
    """A required parameter nobody gave gets a made-up local value; a given one, or one with
    a default, does not; a redeploy of the stack keeps the value its last deploy made up."""
    template = {
        "Parameters": {
            "Secret": {"Type": "String", "NoEcho": True},
            "Count": {"Type": "Number", "MinValue": 2},
            "Mode": {"Type": "String", "AllowedValues": ["a", "b"]},
            "Given": {"Type": "String"},
            "Defaulted": {"Type": "String", "Default": "x"},
        }
    }
    filled = local_defaults(template, {"Given": "mine"})
    assert set(filled) == {"Secret", "Count", "Mode"}
    assert filled["Secret"].startswith("local-") and len(filled["Secret"]) == len("local-") + 16
    assert (filled["Count"], filled["Mode"]) == ("2", "a")
    assert local_defaults(template, {"Given": "mine"})["Secret"] != filled["Secret"]

    first = deploy(REAL, {}, aws=session, stack_name="defaults")
    made_up = first.local_defaults["MemberExternalId"]
    assert made_up.startswith("local-")
    assert first.parameters["MemberExternalId"] == "****"  # NoEcho: masked among parameters
    again = deploy(REAL, {}, aws=session, stack_name="defaults")
    assert again.local_defaults == {"MemberExternalId": made_up}
    other = deploy(REAL, {}, aws=session, stack_name="other")
    assert other.local_defaults["MemberExternalId"] != made_up
    given = deploy(REAL, {"MemberExternalId": "chosen"}, aws=session, stack_name="defaults")
    assert given.local_defaults == {}


MEMBER = ROOT / "member-account.yaml"


def test_member_account_yaml_deploys_two_roles_with_their_trust(session):
    """member-account.yaml, deployed: a read-only role trusted by the read functions' roles only,
    a read-write role trusted by the plan, apply and rollback roles only, both with the
    external ID; the read-only role has no write and no secret; RestoreTargets' prefixes deny
    writes elsewhere. (The local AWS does not evaluate IAM: what AWS would enforce is asserted
    on the policies as IAM holds them.)"""
    central = "arn:aws:iam::111122223333:role"
    readers = f"{central}/albrules-DiscoverListeners,{central}/albrules-LoadSnapshot"
    writers = f"{central}/albrules-ApplyPlan,{central}/albrules-RollBack"
    deployment = deploy(
        MEMBER,
        {
            "TrustedRoleArns": writers,
            "ReadOnlyTrustedRoleArns": readers,
            "ExternalId": "member-test",
            "RestoreTargets": "shop-,pay",
        },
        aws=session,
        stack_name="member",
        save=False,
    )
    iam = session.client("iam")
    read = iam.get_role(RoleName="albrules-member-read")["Role"]
    write = iam.get_role(RoleName="albrules-member")["Role"]
    assert deployment.outputs == {
        "MemberRoleArn": write["Arn"],
        "MemberReadOnlyRoleArn": read["Arn"],
    }

    def trust(role: dict[str, Any]) -> dict[str, Any]:
        (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
        return statement

    assert trust(read)["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert trust(read)["Condition"] == {
        "StringEquals": {"sts:ExternalId": "member-test"},
        "ArnEquals": {"aws:PrincipalArn": readers.split(",")},
    }
    assert trust(write)["Condition"]["ArnEquals"] == {"aws:PrincipalArn": writers.split(",")}

    def statements(name: str) -> list[dict[str, Any]]:
        (policy,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
        document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
        return list(document["Statement"])

    reads, *certificates = statements("albrules-member-read")
    assert reads["Resource"] == "*" and all(
        action.startswith("elasticloadbalancing:Describe") for action in reads["Action"]
    )
    # and, for a listener to recreate, that its certificates exist (read, never a key)
    assert [s["Action"] for s in certificates] == [
        "acm:DescribeCertificate",
        "iam:GetServerCertificate",
    ]
    written = statements("albrules-member")
    (deny,) = [s for s in written if s["Effect"] == "Deny"]
    assert deny["NotResource"] == [
        "arn:*:elasticloadbalancing:*:*:listener/app/shop-*",
        "arn:*:elasticloadbalancing:*:*:listener/app/pay*",
        "arn:*:elasticloadbalancing:*:*:listener-rule/app/shop-*",
        "arn:*:elasticloadbalancing:*:*:listener-rule/app/pay*",
        "arn:*:elasticloadbalancing:*:*:loadbalancer/app/shop-*",
        "arn:*:elasticloadbalancing:*:*:loadbalancer/app/pay*",
    ]
    assert {"CreateRules", "ChangeRules", "ChangeDefaultActions"} <= {s.get("Sid") for s in written}


def test_member_account_yaml_in_a_further_region_forwards_changes_only(session):
    """CreateRoles "false": no role (they are global, made once per account), only the rule
    that forwards listener changes to the central bus, with a role that may put events on that
    bus only."""
    central = "arn:aws:events:us-east-1:111122223333:event-bus/albrules-changes"
    deployment = deploy(
        MEMBER,
        {"CreateRoles": "false", "CentralEventBusArn": central},
        aws=session,
        stack_name="member-west",
        save=False,
    )
    assert {r.type for r in deployment.resources.values()} == {
        "AWS::IAM::Role",
        "AWS::Events::Rule",
    }
    assert "MemberRole" in deployment.skipped and "MemberReadOnlyRole" in deployment.skipped
    events = session.client("events")
    rule = deployment.physical_id("ForwardChangesRule")
    pattern = json.loads(events.describe_rule(Name=rule)["EventPattern"])
    assert pattern["source"] == ["aws.elasticloadbalancing"]
    assert pattern["detail"]["errorCode"] == [{"exists": False}]
    [target] = events.list_targets_by_rule(Rule=rule)["Targets"]
    role = deployment.physical_id("ForwardChangesRole")
    assert target["Arn"] == central and target["RoleArn"].endswith(f":role/{role}")
    iam = session.client("iam")
    [name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    assert document["Statement"] == [
        {
            "Sid": "PutOnTheCentralChangesBus",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": central,
        }
    ]


def test_member_account_yaml_refuses_roles_without_their_trust(session):
    """The template's Rules, as CloudFormation checks them: roles need the external ID."""
    with pytest.raises(InvalidInput, match="ExternalId is required"):
        deploy(MEMBER, {"CreateRoles": "true"}, aws=session, stack_name="m", save=False)
    assert session.client("iam").list_roles()["Roles"] == []


@needs_real_template
def test_drills_deploy_only_with_their_schedule_and_scratch_load_balancer(session):
    """DrillSchedule and DrillLoadBalancer given: RunDrillsFunction, its role and its
    EventBridge Scheduler schedule (which never fires locally) are deployed, the role with
    the key (seal checks) and the function with the scratch load balancer's name; without
    them (the other tests' defaults) none of it is."""
    parameters = {
        "MemberExternalId": "local-test",
        "DrillSchedule": "rate(7 days)",
        "DrillLoadBalancer": "scratch",
    }
    deployment = deploy(REAL, parameters, aws=session, save=False)
    drills = {k: r.type for k, r in deployment.resources.items() if k.startswith("RunDrills")}
    assert drills["RunDrillsFunction"] == "AWS::Lambda::Function"
    assert drills["RunDrillsFunctionRole"] == "AWS::IAM::Role"
    assert "AWS::Scheduler::Schedule" in drills.values()
    roles = [r for r in deployment.resources.values() if r.type == "AWS::IAM::Role"]
    assert len(roles) == 25  # 20 functions, 3 state machines, 2 schedules (the drills' by SAM)
    config = session.client("lambda").get_function_configuration(
        FunctionName=deployment.physical_id("RunDrillsFunction")
    )
    assert config["Environment"]["Variables"]["ALBRULES_DRILL_LOAD_BALANCER"] == "scratch"
    assert config["Timeout"] == 900
    [schedule] = [
        s
        for s in session.client("scheduler").list_schedules()["Schedules"]
        if s["Target"]["Arn"] == config["FunctionArn"]
    ]
    assert schedule["State"] == "ENABLED"
