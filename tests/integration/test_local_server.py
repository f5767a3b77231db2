"""End to end, as a new user: the local AWS server in its own process and the albrules command."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from albrules.local import process
from local_world import local_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path, monkeypatch):
    port = free_port()
    monkeypatch.setenv("ALBRULES_HOME", str(tmp_path / "home"))
    process.up(port)
    env = {**os.environ, **process.environment(port), "ALBRULES_HOME": str(tmp_path / "home")}
    env.pop("AWS_PROFILE", None)
    yield port, env
    process.down(port)
    assert not process.running(port)


def albrules(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "albrules.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_seed_backup_break_plan_restore_and_rollback(server, tmp_path):
    port, env = server
    seeded = albrules(env, "local", "seed", "--port", str(port), "--json")
    assert seeded.returncode == 0, seeded.stderr
    listeners = json.loads(seeded.stdout)["listeners"]
    assert sum(item["rules"] for item in listeners.values()) >= 30
    web = listeners["shop-web:80"]["arn"]

    backups = tmp_path / "backups"
    done = albrules(
        env,
        "backup",
        "--load-balancer",
        "shop-web",
        "--load-balancer",
        "shop-api",
        "--out",
        str(backups),
    )
    assert done.returncode == 0 and done.stdout.count("wrote") == 4, done.stderr
    [snapshot] = list(
        (backups / "123456789012" / "us-east-1" / "shop-web" / web.rsplit("/", 1)[1]).glob("*.json")
    )

    broken = albrules(env, "local", "break", "--port", str(port), "--listener-arn", web)
    assert broken.returncode == 0 and "deleted" in broken.stdout
    plan = albrules(env, "plan", str(snapshot), "--json")
    assert plan.returncode == 0 and json.loads(plan.stdout)["changes"] > 0

    fault = albrules(env, "local", "fault", "CreateRule", "--nth", "2", "--port", str(port))
    assert fault.returncode == 0
    failed = albrules(env, "restore", str(snapshot), "--yes")
    assert failed.returncode == 3, failed.stdout + failed.stderr
    assert "ROLLED_BACK" in failed.stderr
    still_broken = albrules(env, "plan", str(snapshot), "--json")
    assert json.loads(still_broken.stdout)["changes"] == json.loads(plan.stdout)["changes"]

    restored = albrules(env, "restore", str(snapshot), "--yes")
    assert restored.returncode == 0 and "RESTORED" in restored.stdout, restored.stderr
    again = albrules(env, "backup", "--listener-arn", web, "--out", str(backups))
    assert "unchanged" in again.stdout
    assert Path(env["ALBRULES_HOME"], "pre-restore").is_dir()


def test_local_notifications_show_what_the_topics_sent_newest_last(server):
    port, env = server
    empty = albrules(env, "local", "notifications", "--port", str(port))
    assert empty.returncode == 0 and empty.stdout == ""
    assert empty.stderr.strip() == "no message has been sent to any topic of the local AWS yet"

    sns = local_client(port, "sns")
    first = sns.create_topic(Name="first")["TopicArn"]
    second = sns.create_topic(Name="second")["TopicArn"]
    sns.publish(TopicArn=first, Subject="one", Message="the first body")
    sns.publish(TopicArn=second, Subject="two", Message="the second body\nApprove: http://x/")
    sns.publish(TopicArn=first, Subject="three", Message="the third body")

    shown = albrules(env, "local", "notifications", "--port", str(port), "--last", "2")
    assert shown.returncode == 0, shown.stderr
    assert "Subject: one" not in shown.stdout
    assert shown.stdout.index("Subject: two") < shown.stdout.index("Subject: three")
    assert "Approve: http://x/" in shown.stdout and "to second" in shown.stdout
    assert shown.stderr.strip() == "2 of 3 message(s); --last 0 shows them all"

    every = albrules(env, "local", "notifications", "--port", str(port), "--last", "0", "--json")
    assert [m["subject"] for m in json.loads(every.stdout)] == ["one", "two", "three"]
    only = albrules(
        env, "local", "notifications", "--port", str(port), "--topic-arn", first, "--json"
    )
    assert [(m["subject"], m["message"]) for m in json.loads(only.stdout)] == [
        ("one", "the first body"),
        ("three", "the third body"),
    ]


def test_local_commands_find_the_local_aws_through_aws_endpoint_url(server):
    """After `eval "$(albrules local up --port N)"`, every `albrules local ...` command finds
    the local AWS without --port; and `local deploy` needs no parameters."""
    port, env = server
    assert env["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{port}"
    status = albrules(env, "local", "status")
    assert status.returncode == 0 and f"running on http://127.0.0.1:{port}" in status.stdout
    other = free_port()
    elsewhere = albrules(env, "local", "status", "--port", str(other))  # --port comes first
    assert elsewhere.returncode == 1 and f"no local AWS on port {other}" in elsewhere.stdout

    seeded = albrules(env, "local", "seed", "--json")
    assert seeded.returncode == 0, seeded.stderr
    assert "shop-web:80" in json.loads(seeded.stdout)["listeners"]

    deployed = albrules(env, "local", "deploy", "--json")
    assert deployed.returncode == 0, deployed.stderr
    deployment = json.loads(deployed.stdout)
    made_up = deployment["local_defaults"]["MemberExternalId"]
    assert made_up.startswith("local-")
    assert (
        f"MemberExternalId: local default {made_up} (pass --parameter-overrides "
        "MemberExternalId=... to choose)"
    ) in deployed.stderr
    lam = local_client(port, "lambda")
    functions = [
        r["physical_id"]
        for r in deployment["resources"].values()
        if r["type"] == "AWS::Lambda::Function"
    ]
    external_ids = {
        lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"].get(
            "ALBRULES_EXTERNAL_ID"
        )
        for name in functions
    }
    assert made_up in external_ids  # what the functions present when they assume a role

    again = albrules(env, "local", "deploy")
    assert again.returncode == 0, again.stderr
    assert f"MemberExternalId: local default {made_up} " in again.stderr  # the same one
    assert f"on port {port}" in again.stderr
    chosen = albrules(
        env, "local", "deploy", "--parameter-overrides", "MemberExternalId=my-own-external-id"
    )
    assert chosen.returncode == 0, chosen.stderr
    assert "my-own-external-id" not in chosen.stdout + chosen.stderr  # NoEcho: never shown
    assert "local default" not in chosen.stderr

    sns = local_client(port, "sns")
    topic = sns.create_topic(Name="endpoint-url")["TopicArn"]
    sns.publish(TopicArn=topic, Subject="found", Message="through AWS_ENDPOINT_URL")
    shown = albrules(env, "local", "notifications", "--topic-arn", topic)
    assert shown.returncode == 0, shown.stderr
    assert "Subject: found" in shown.stdout and "through AWS_ENDPOINT_URL" in shown.stdout


def test_the_server_delivers_elb_changes_to_eventbridge_as_cloudtrail_would(server):
    import urllib.request

    port, _ = server
    sqs, events = local_client(port, "sqs"), local_client(port, "events")
    url = sqs.create_queue(QueueName="changes")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    pattern = {"source": ["aws.elasticloadbalancing"], "detail": {"eventName": ["CreateRule"]}}
    events.put_rule(Name="changes", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="changes", Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])
    ec2, elb = local_client(port, "ec2"), local_client(port, "elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")
        for i, z in ((1, "a"), (2, "b"))
    ]
    lb = elb.create_load_balancer(Name="s", Subnets=[s["Subnet"]["SubnetId"] for s in subnets])
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancers"][0]["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    elb.create_rule(
        ListenerArn=listener,
        Priority=1,
        Conditions=[{"Field": "path-pattern", "Values": ["/x"]}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
    )
    request = urllib.request.Request(
        f"{process.endpoint(port)}/_albrules/cloudtrail/drain", data=b'{"timeout": 10}'
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert json.loads(answer.read()) == {"drained": True}
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    detail = json.loads(message["Body"])["detail"]
    assert detail["eventName"] == "CreateRule"
    assert detail["requestParameters"]["listenerArn"] == listener


def test_local_up_throttles_mutating_calls_when_asked(tmp_path, monkeypatch):
    """``albrules local up --throttle-mutating RATE``: the server's mutating ELBv2 calls go
    through a bucket at RATE a second (here one token, refilled every 100 s); an excess call is
    refused with Throttling, and ``/_albrules/config`` says so."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    port = free_port()
    home = str(tmp_path / "home")
    monkeypatch.setenv("ALBRULES_HOME", home)
    env = {**os.environ, "ALBRULES_HOME": home}
    env.pop("AWS_PROFILE", None)
    try:
        up = albrules(env, "local", "up", "--port", str(port), "--throttle-mutating", "0.01")
        assert up.returncode == 0, up.stderr
        assert process.admin(port, "config")["throttle_mutating"] == 0.01
        once = boto3.client(
            "elbv2",
            endpoint_url=process.endpoint(port),
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": 1}),
        )
        once.describe_load_balancers()  # reads are not throttled
        ec2 = local_client(port, "ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}"
            )["Subnet"]["SubnetId"]
            for i, z in ((1, "a"), (2, "b"))
        ]
        lb = once.create_load_balancer(Name="web", Subnets=subnets)["LoadBalancers"][0]
        tags = [{"Key": "team", "Value": "web"}]
        once.add_tags(ResourceArns=[lb["LoadBalancerArn"]], Tags=tags)  # the one token
        with pytest.raises(ClientError) as raised:
            once.add_tags(ResourceArns=[lb["LoadBalancerArn"]], Tags=tags)
        assert raised.value.response["Error"]["Code"] == "Throttling"
        assert process.admin(port, "config")["throttled"] == 1
    finally:
        process.down(port)
