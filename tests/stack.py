"""The SAM application deployed into an in-process local AWS, for the workflow tests.

``template.yaml`` is deployed for real (``albrules.local.deploy``); the state machines run in
moto's interpreter and their Lambda tasks run the project's real handlers in-process.

One stack per test session (per xdist worker): :func:`session_stack` deploys it once and
:meth:`Stack.reset` puts it back as deployed after each test (no load balancers, empty bucket
and table, the machines' deployed definitions, no test queues, subscriptions, secrets or state
machines, no execution left running).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from werkzeug.serving import make_server

from albrules import accounts, workflows
from albrules.local import cloudtrail, faults, lambdas
from albrules.local.deploy import Deployment, deploy
from albrules.local.function_urls import FunctionUrls, served_url
from albrules.snapshot import build_snapshot
from albrules.tasks import settings
from local_world import REGION, World
from rule_builders import fixed, forward, host, path

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
# The workflow tier keeps its assertions about optional approvals and deciding one's own
# restore; tests/security deploys the template's defaults (required, four eyes).
PARAMETERS = {
    "MemberExternalId": "test-external-id",
    "ApprovalTimeoutSeconds": "600",
    "ApprovalPolicy": "optional",
    "AllowSelfApproval": "true",
    # Change-triggered backups settle quickly here (the default is 30 s).
    "ChangeSettleSeconds": "2",
    # The restore drills' function is deployed (its schedule never fires locally: the tests
    # invoke it), on a scratch load balancer the drill tests make.
    "DrillSchedule": "rate(7 days)",
    "DrillLoadBalancer": "scratch",
}


class Stack:
    """The deployed application plus a World to build listeners in."""

    machines: dict[str, str]  # state machine ARN -> definition as deployed (session stack)
    functions: dict[str, dict[str, Any]]  # function name -> its environment, as deployed
    secrets: set[str]  # the deployed secrets' ARNs (session stack)

    def __init__(self, session: boto3.Session, deployment: Deployment):
        self.session = session
        self.deployment = deployment
        self.outputs = deployment.outputs
        self.world = World(session)
        self.sfn = session.client("stepfunctions")
        self.s3 = session.client("s3")
        self.ddb = session.client("dynamodb")
        self.bucket = self.outputs["SnapshotBucketName"]
        self.table = self.outputs["CatalogTableName"]

    def reset(self) -> None:
        """Everything a test may have added or changed, gone: the stack as deployed."""
        cloudtrail.drain(10)  # the test's CloudTrail events delivered before the reset
        self.change_rules(False)  # first: the reset's own ELBv2 calls start no change backup
        lambdas.clear_hooks()
        accounts.forget(keep_function_sessions=True)  # the same local AWS, the same roles
        faults.clear()
        cloudtrail.delay(0)
        _delete_users(self.session)
        settings.forget_signing_keys()
        _stop_executions(self)
        _delete_load_balancers(self.session)
        _empty_bucket(self.s3, self.bucket)
        _empty_table(self.ddb, self.table)
        _restore_machines(self)
        _restore_functions(self)
        _delete_test_resources(self)
        cloudtrail.drain(10)  # and the reset's own (the deleted load balancers)

    def set_setting(self, kind: str, name: str, value: int) -> None:
        """The machine with another value substituted for one of its parameters (read by its
        first state), the way a stack update would. Used for values the template bounds for
        AWS (an approval timeout of at least 60 s) or that need a big fleet to matter."""
        arn = self.outputs[workflows.OUTPUT_KEYS[kind]]
        definition = json.loads(self.sfn.describe_state_machine(stateMachineArn=arn)["definition"])
        first = definition["States"][definition["StartAt"]]
        settings = first["Parameters"]["settings"]
        assert f"{name}.$" in settings, f"{kind} has no setting {name}"
        settings[f"{name}.$"] = f"States.StringToJson('{value}')"
        self.sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(definition))

    def set_approval_timeout(self, seconds: int) -> None:
        self.set_setting("restore", "approval_timeout_seconds", seconds)

    def url(self, logical_id: str) -> str:
        """The function URL of a function of the stack, served over HTTP on 127.0.0.1 (by the
        local AWS's function URL adapter in a thread of this process, as `albrules local
        deploy` serves them from the local AWS server)."""
        if getattr(self, "_served", None) is None:
            server = make_server("127.0.0.1", 0, FunctionUrls(), threaded=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._served = server
        base = f"http://127.0.0.1:{self._served.server_port}"
        found = served_url(base, REGION, self.deployment.physical_id(logical_id))
        assert found is not None
        return found

    def stop_serving(self) -> None:
        server = getattr(self, "_served", None)
        if server is not None:
            server.shutdown()
            self._served = None

    def change_rules(self, enabled: bool) -> None:
        """Turn the change-triggered backups' EventBridge rules on or off. The session stack
        keeps them off between tests: a test's own ELBv2 calls (CloudTrail events, once the
        local AWS emits them) would otherwise start change backups that store snapshots and
        versions beside the ones the test asserts; tests/workflows/test_changes.py turns them
        on."""
        events = self.session.client("events")
        for logical_id, resource in self.deployment.resources.items():
            if resource.type != "AWS::Events::Rule" or "ListenerChange" not in logical_id:
                continue
            kwargs = {"Name": resource.physical_id}
            if "MemberAccount" in logical_id:  # the rule on the changes bus
                kwargs["EventBusName"] = self.outputs["ChangesEventBusArn"]
            (events.enable_rule if enabled else events.disable_rule)(**kwargs)

    def start(self, kind: str, payload: dict[str, Any]) -> str:
        arn = self.outputs[workflows.OUTPUT_KEYS[kind]]
        return workflows.start(self.sfn, arn, payload)

    def finish(
        self, kind: str, execution_arn: str, timeout: float = 60
    ) -> workflows.ExecutionOutcome:
        described = workflows.wait(self.sfn, execution_arn, timeout, poll=0.05)
        return workflows.outcome(self.sfn, kind, execution_arn, described)

    def pending_approval(self, execution_arn: str, timeout: float = 30) -> dict[str, Any]:
        """The restore's pending approval record, once it waits for one (it must not end
        before)."""
        from albrules.aws import Aws
        from albrules.catalog import Catalog

        catalog = Catalog(Aws(self.session), self.table)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = catalog.approval(execution_arn)
            if record and record.get("status") == "pending":
                return record
            status = self.sfn.describe_execution(executionArn=execution_arn)["status"]
            assert status == "RUNNING", f"the restore ended ({status}) before asking for approval"
            time.sleep(0.05)
        raise AssertionError("the restore never asked for approval")

    def run(
        self, kind: str, payload: dict[str, Any], timeout: float = 60
    ) -> workflows.ExecutionOutcome:
        return self.finish(kind, self.start(kind, payload), timeout)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        return workflows.history(self.sfn, execution_arn)

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def read_json(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        found = self.ddb.get_item(TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}})
        return found.get("Item")

    def backup_targets(self, **narrow: Any) -> dict[str, Any]:
        return {"targets": [{"account_id": ACCOUNT, "region": REGION, **narrow}]}


# --- helpers the workflow, handler and sample tests share ------------------------------------


def shop(stack: Stack, name: str = "shop", rules: int = 4) -> str:
    """A load balancer with one listener and ``rules`` rules; the listener's ARN."""
    world = stack.world
    listener = world.listener(world.load_balancer(name))
    group = world.target_group(f"{name}-app")
    for i in range(1, rules + 1):
        world.rule(listener, i * 10, [path(f"/{name}/{i}/*")], [forward(group)], tags={"n": str(i)})
    return listener


def checksum(stack: Stack, listener: str) -> str:
    return build_snapshot(stack.world.state(listener)).checksum


def break_listener(stack: Stack, listener: str) -> None:
    """A bad deploy: two rules deleted, one changed, one added (four changes to undo)."""
    world = stack.world
    rules = world.rules(listener)
    for rule in rules[:2]:
        world.elb.delete_rule(RuleArn=rule["RuleArn"])
    world.elb.modify_rule(RuleArn=rules[2]["RuleArn"], Actions=[fixed("503")])
    world.rule(listener, 99, [host("rogue.example.com")])


def subscribe(stack: Stack, queue: str = "notifications") -> str:
    """An SQS queue subscribed to the stack's topic, to read the notifications sent."""
    sqs = stack.session.client("sqs")
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    stack.session.client("sns").subscribe(
        TopicArn=stack.outputs["NotificationTopicArn"],
        Protocol="sqs",
        Endpoint=attributes["Attributes"]["QueueArn"],
    )
    return url


def received(stack: Stack, queue: str, timeout: float = 10) -> list[dict[str, Any]]:
    """The notifications in the queue, waiting (up to ``timeout``) for at least one."""
    sqs = stack.session.client("sqs")
    deadline = time.monotonic() + timeout
    while True:
        found = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if found:
            return [json.loads(m["Body"]) for m in found]
        if time.monotonic() > deadline:
            raise AssertionError("no notification arrived")
        time.sleep(0.05)


MOCK_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


def deployed_stack(overrides: dict[str, str] | None = None) -> Iterator[Stack]:
    """template.yaml deployed with ``overrides`` for its parameters (as `sam deploy
    --parameter-overrides` would), as a stack of its own: its own in-process local AWS, or,
    inside the session's (tests/workflows/conftest.py), a stack of another name beside it."""
    with mock_aws(config=MOCK_CONFIG):
        session = boto3.Session(region_name=REGION)
        parameters = {**PARAMETERS, **(overrides or {})}
        name = f"albrules-{uuid.uuid4().hex[:8]}" if overrides else "albrules"
        deployment = deploy(
            ROOT / "template.yaml", parameters, aws=session, stack_name=name, save=False
        )
        try:
            made = Stack(session, deployment)
            made.change_rules(False)  # as the session stack keeps them (see change_rules)
            yield made
        finally:
            lambdas.clear_hooks()
            accounts.forget()
            # Inside the session's local AWS the load balancers a test made here would outlive
            # it (moto's backends are the session's): the next test's backup found them.
            _delete_load_balancers(session)


def session_stack(parameters: dict[str, str] | None = None) -> Iterator[Stack]:
    """template.yaml deployed once into the session's in-process local AWS, with
    ``parameters`` (default: the workflow tier's :data:`PARAMETERS`)."""
    mock = mock_aws(config=MOCK_CONFIG)
    mock.start()
    try:
        session = boto3.Session(region_name=REGION)
        values = PARAMETERS if parameters is None else parameters
        deployment = deploy(ROOT / "template.yaml", values, aws=session, save=False)
        stack = Stack(session, deployment)
        keys = [*workflows.OUTPUT_KEYS.values(), "ChangeBackupStateMachineArn"]
        stack.machines = {  # the deployed definitions, to put back after each test
            arn: stack.sfn.describe_state_machine(stateMachineArn=arn)["definition"]
            for arn in (stack.outputs[key] for key in keys)
        }
        stack.secrets = _secret_names(stack)
        stack.functions = _function_settings(stack)
        stack.change_rules(False)
        yield stack
        stack.stop_serving()
    finally:
        lambdas.clear_hooks()
        accounts.forget()
        mock.stop()


# --- the reset ---------------------------------------------------------------------------------


def _stop_executions(stack: Stack) -> None:
    for machine in stack.sfn.list_state_machines()["stateMachines"]:
        pages = stack.sfn.get_paginator("list_executions").paginate(
            stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
        )
        for page in pages:
            for execution in page["executions"]:
                stack.sfn.stop_execution(
                    executionArn=execution["executionArn"], cause="the test ended"
                )


def _delete_load_balancers(session: boto3.Session) -> None:
    elb = session.client("elbv2")
    for lb in elb.describe_load_balancers().get("LoadBalancers", []):
        for listener in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]:
            elb.delete_listener(ListenerArn=listener["ListenerArn"])
        elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    for group in elb.describe_target_groups().get("TargetGroups", []):
        elb.delete_target_group(TargetGroupArn=group["TargetGroupArn"])


def _empty_bucket(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(doomed), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start : start + 1000]})


def _empty_table(ddb: Any, table: str) -> None:
    for page in ddb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="pk, sk"):
        for item in page.get("Items", []):
            ddb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})


def _restore_machines(stack: Stack) -> None:
    for arn, definition in stack.machines.items():
        if stack.sfn.describe_state_machine(stateMachineArn=arn)["definition"] != definition:
            stack.sfn.update_state_machine(stateMachineArn=arn, definition=definition)
    for machine in stack.sfn.list_state_machines()["stateMachines"]:
        if machine["stateMachineArn"] not in stack.machines:
            stack.sfn.delete_state_machine(stateMachineArn=machine["stateMachineArn"])


def _function_settings(stack: Stack) -> dict[str, dict[str, Any]]:
    lam = stack.session.client("lambda")
    return {
        r.physical_id: lam.get_function_configuration(FunctionName=r.physical_id)["Environment"]
        for r in stack.deployment.resources.values()
        if r.type == "AWS::Lambda::Function"
    }


def _restore_functions(stack: Stack) -> None:
    lam = stack.session.client("lambda")
    for name, environment in stack.functions.items():
        if lam.get_function_configuration(FunctionName=name)["Environment"] != environment:
            lam.update_function_configuration(FunctionName=name, Environment=environment)


def _delete_users(session: boto3.Session) -> None:
    """The IAM users a test made to act as people (the deployment makes none)."""
    iam = session.client("iam")
    for user in iam.list_users().get("Users", []):
        name = user["UserName"]
        for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        for policy in iam.list_user_policies(UserName=name)["PolicyNames"]:
            iam.delete_user_policy(UserName=name, PolicyName=policy)
        iam.delete_user(UserName=name)


def _secret_names(stack: Stack) -> set[str]:
    secrets = stack.session.client("secretsmanager")
    return {s["ARN"] for s in secrets.list_secrets().get("SecretList", [])}


def _delete_test_resources(stack: Stack) -> None:
    """Queues, subscriptions and secrets a test made (the deployed ones stay)."""
    sns, sqs = stack.session.client("sns"), stack.session.client("sqs")
    topic = stack.outputs["NotificationTopicArn"]
    for sub in sns.list_subscriptions_by_topic(TopicArn=topic).get("Subscriptions", []):
        if sub["Protocol"] == "sqs":
            sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    deployed_queues = {
        r.physical_id for r in stack.deployment.resources.values() if r.type == "AWS::SQS::Queue"
    }
    for url in sqs.list_queues().get("QueueUrls", []):
        if url not in deployed_queues:
            sqs.delete_queue(QueueUrl=url)
    secrets = stack.session.client("secretsmanager")
    for arn in _secret_names(stack) - stack.secrets:
        secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
