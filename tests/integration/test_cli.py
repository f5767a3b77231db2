"""The albrules command as a user runs it: backup, list, show, validate, plan, restore."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from albrules.cli import app
from albrules.local import faults
from rule_builders import fixed, forward, host, path


def run(*args: str, input: str | None = None):
    result = CliRunner().invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def site(world):
    lb = world.load_balancer("site")
    listener = world.listener(lb, 80)
    other = world.listener(lb, 8080)
    tg = world.target_group("app")
    for priority, value in ((10, "/a/*"), (20, "/b/*"), (30, "/c/*")):
        world.rule(listener, priority, [path(value)], [forward(tg)], {"owner": value[1]})
    world.rule(other, 1, [host("admin.example.com")], [fixed("403")])
    return listener, other


def backed_up_then_broken(world, listener: str, tmp_path: Path) -> Path:
    """Back the listener up, then delete its first rule and break the second's actions."""
    target = tmp_path / "s.json"
    run("backup", "--listener-arn", listener, "--out", str(target))
    rules = world.rules(listener)
    world.elb.delete_rule(RuleArn=rules[0]["RuleArn"])
    world.elb.modify_rule(RuleArn=rules[1]["RuleArn"], Actions=[fixed("503")])
    return target


def snapshot_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json") if not p.name.endswith(".journal.json"))


def test_backup_to_a_directory_dedups_and_lists_newest_first(world, site, tmp_path):
    listener, _other = site
    out = tmp_path / "backups"
    code, stdout, _ = run("backup", "--listener-arn", listener, "--out", str(out))
    assert code == 0 and "wrote" in stdout
    [first] = snapshot_files(out)
    assert first.relative_to(out).parts[:4] == (
        "123456789012",
        "us-east-1",
        "site",
        listener.rsplit("/", 1)[1],
    )
    code, stdout, _ = run("backup", "--listener-arn", listener, "--out", str(out))
    assert code == 0 and "unchanged" in stdout and "nothing written" in stdout
    assert snapshot_files(out) == [first]
    world.elb.modify_rule(RuleArn=world.rules(listener)[0]["RuleArn"], Actions=[fixed("503")])
    code, stdout, _ = run(
        "backup", "--load-balancer", "site", "--out", str(out), "--format", "yaml"
    )
    assert code == 0 and stdout.count("wrote") == 2
    code, stdout, _ = run("list", str(out), "--json")
    entries = json.loads(stdout)
    assert len(entries) == 3
    stamps = [e["created_at"] for e in entries]
    assert stamps == sorted(stamps, reverse=True)


def test_backup_force_writes_again(world, site, tmp_path):
    listener, _ = site
    target = tmp_path / "one.json"
    assert run("backup", "--listener-arn", listener, "--out", str(target))[0] == 0
    first = target.read_bytes()
    code, stdout, _ = run("backup", "--listener-arn", listener, "--out", str(target))
    assert "unchanged" in stdout
    code, stdout, _ = run("backup", "--listener-arn", listener, "--out", str(target), "--force")
    assert code == 0 and "wrote" in stdout
    assert json.loads(target.read_bytes())["checksum"] == json.loads(first)["checksum"]


def test_backup_to_s3_uses_sse_kms_and_dedups(world, site, session):
    listener, _ = site
    s3 = session.client("s3")
    s3.create_bucket(Bucket="backups")
    key = session.client("kms").create_key()["KeyMetadata"]["Arn"]
    code, stdout, stderr = run(
        "backup", "--listener-arn", listener, "--out", "s3://backups/albrules", "--kms-key-id", key
    )
    assert code == 0, stderr
    [obj] = s3.list_objects_v2(Bucket="backups")["Contents"]
    assert obj["Key"].startswith("albrules/123456789012/us-east-1/site/")
    head = s3.head_object(Bucket="backups", Key=obj["Key"])
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key
    code, stdout, _ = run("backup", "--listener-arn", listener, "--out", "s3://backups/albrules")
    assert "unchanged" in stdout
    assert len(s3.list_objects_v2(Bucket="backups")["Contents"]) == 1
    code, stdout, _ = run("list", "s3://backups/albrules", "--json")
    assert code == 0 and [e["location"] for e in json.loads(stdout)] == [
        f"s3://backups/{obj['Key']}"
    ]
    uri = f"s3://backups/{obj['Key']}"
    code, stdout, _ = run("show", uri)
    assert code == 0 and "/a/*" in stdout
    assert run("restore", uri, "--yes")[0] == 0


def test_backup_input_mistakes(site, tmp_path):
    listener, _ = site
    code, _, stderr = run("backup", "--out", str(tmp_path))
    assert code == 2 and "--listener-arn" in stderr
    code, _, stderr = run("backup", "--load-balancer", "site", "--out", str(tmp_path / "x.json"))
    assert code == 2 and "is one file but 2 listeners" in stderr
    code, _, stderr = run(
        "backup", "--listener-arn", listener, "--out", str(tmp_path), "--kms-key-id", "k"
    )
    assert code == 2 and "applies to S3" in stderr
    code, _, stderr = run("backup", "--load-balancer", "nope", "--out", str(tmp_path))
    assert code == 2 and "no load balancer named 'nope'" in stderr
    code, _, stderr = run(
        "backup",
        "--listener-arn",
        "arn:aws:elasticloadbalancing:us-east-1:1:x",
        "--out",
        str(tmp_path),
    )
    assert code == 2 and "is not a listener ARN" in stderr


def test_show_and_validate(world, site, tmp_path):
    listener, _ = site
    target = tmp_path / "s.yaml"
    run("backup", "--listener-arn", listener, "--out", str(target))
    code, stdout, _ = run("show", str(target))
    assert code == 0 and "3 rules" in stdout and "forward app" in stdout
    code, stdout, _ = run("show", str(target), "--json")
    assert json.loads(stdout)["source"]["listener_arn"] == listener
    code, stdout, _ = run("validate", str(target), "--listener-arn", listener)
    assert code == 0 and "checksum verified" in stdout and "would make 0 change(s)" in stdout


def test_plan_json_and_restore_flow(world, site, tmp_path):
    listener, _ = site
    target = backed_up_then_broken(world, listener, tmp_path)
    code, stdout, _ = run("plan", str(target), "--json")
    plan = json.loads(stdout)
    assert code == 0 and plan["changes"] == 2
    assert [op["op"] for op in plan["operations"]] == ["modify-rule", "create-rule"]
    code, stdout, _ = run("plan", str(target))
    assert (
        "ModifyRule" in stdout
        and "CreateRule" in stdout
        and "delete-and-recreate restore would make" in stdout
    )

    code, stdout, stderr = run("restore", str(target), "--dry-run")
    assert code == 0 and "dry run" in stdout
    assert len(world.rules(listener)) == 2
    code, stdout, stderr = run("restore", str(target))  # no terminal, no --yes
    assert code == 2 and "pass --yes" in stderr and len(world.rules(listener)) == 2

    code, stdout, stderr = run("restore", str(target), "--yes", "--json")
    outcome = json.loads(stdout)
    assert code == 0 and outcome["status"] == "RESTORED" and outcome["changes"] == 2
    assert Path(outcome["pre_restore"]).exists()
    code, stdout, _ = run("restore", str(target), "--yes")
    assert code == 0 and "NO_CHANGES" in stdout


def test_restore_rolled_back_exits_3_and_rollback_failed_exits_4(world, site, tmp_path):
    listener, _ = site
    target = backed_up_then_broken(world, listener, tmp_path)
    faults.inject("CreateRule", code="InternalFailure")
    code, _, stderr = run("restore", str(target), "--yes")
    assert code == 3 and "ROLLED_BACK" in stderr and "is as it was before" in stderr
    faults.inject("CreateRule", code="InternalFailure")
    faults.inject("ModifyRule", nth=2, times=0, code="InternalFailure")
    code, _stdout, stderr = run(
        "restore", str(target), "--yes", "--pre-restore-to", str(tmp_path / "pre")
    )
    assert code == 4 and "ROLLBACK_FAILED" in stderr and "finish by hand" in stderr
    assert str(tmp_path / "pre") in stderr and "/journal.json" in stderr  # the one location


def test_access_denied_names_the_iam_action(site, tmp_path):
    listener, _ = site
    faults.inject(
        "DescribeRules",
        code="AccessDenied",
        message="User: arn:aws:iam::123456789012:user/ops is not authorized to perform: "
        "elasticloadbalancing:DescribeRules",
    )
    code, _, stderr = run("backup", "--listener-arn", listener, "--out", str(tmp_path))
    assert code == 1
    assert "AWS denied elasticloadbalancing:DescribeRules" in stderr
    assert (
        "grant elasticloadbalancing:DescribeRules to arn:aws:iam::123456789012:user/ops" in stderr
    )
    assert "Traceback" not in stderr


def test_a_throttling_storm_gets_its_own_message(site, tmp_path):
    listener, _ = site
    faults.inject("DescribeListeners", code="Throttling", times=0)
    code, _, stderr = run("backup", "--listener-arn", listener, "--out", str(tmp_path))
    assert code == 1
    assert "AWS kept throttling DescribeListeners" in stderr and "after 3 attempts" in stderr
    assert "wait a minute" in stderr


def test_restore_into_another_listener(world, site, tmp_path):
    listener, other = site
    target = tmp_path / "s.json"
    run("backup", "--listener-arn", listener, "--out", str(target))
    code, _, stderr = run("restore", str(target), "--listener-arn", other, "--yes")
    assert code == 2 and f"pass --target-listener-arn {other}" in stderr
    code, _stdout, stderr = run("restore", str(target), "--target-listener-arn", other, "--yes")
    assert code == 0, stderr
    assert [r["Conditions"][0]["Values"] for r in world.rules(other)] == [
        ["/a/*"],
        ["/b/*"],
        ["/c/*"],
    ]


def test_unexpected_errors_are_one_sentence_unless_debug(monkeypatch, site, tmp_path):
    listener, _ = site

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("albrules.cli.snapshots.build_snapshot", boom)
    code, _, stderr = run("backup", "--listener-arn", listener, "--out", str(tmp_path))
    assert (
        code == 1
        and "unexpected RuntimeError: disk on fire" in stderr
        and "Traceback" not in stderr
    )
    code, _, stderr = run("backup", "--listener-arn", listener, "--out", str(tmp_path), "--debug")
    assert code == 1 and "Traceback" in stderr


# --- the restore lock (issue 11) -----------------------------------------------------------


def test_a_restore_without_a_stack_says_it_has_no_lock(world, site, tmp_path):
    """No stack to hold the lock in: the restore says so (and why), on stderr, and goes on;
    --no-lock says so too; a dry run takes no lock and says nothing about one."""
    listener, _other = site
    target = backed_up_then_broken(world, listener, tmp_path)
    code, stdout, stderr = run("restore", str(target), "--dry-run")
    assert code == 0 and "lock" not in stderr
    code, stdout, stderr = run("restore", str(target), "--yes", "--json")
    assert code == 0, stderr
    assert "restoring without a lock (stack albrules not found: no CloudFormation stack" in stderr
    assert json.loads(stdout)["lock"]["locked"] is False
    world.elb.delete_rule(RuleArn=world.rules(listener)[0]["RuleArn"])
    code, stdout, stderr = run("restore", str(target), "--yes", "--no-lock")
    assert code == 0, stderr
    assert stderr.startswith("restoring without a lock (--no-lock: another restore")
    assert "restored" in stdout
