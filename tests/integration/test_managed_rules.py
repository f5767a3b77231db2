"""Rules someone else owns, through the CLI on the local AWS: `albrules plan` and `restore` warn
that the AWS Load Balancer Controller will revert a change to its rule, and `--skip-managed`
leaves that rule exactly as it is on the live listener."""

from __future__ import annotations

import json

import pytest

from cli_runs import cli
from rule_builders import fixed, path

CONTROLLER = {"elbv2.k8s.aws/cluster": "prod", "ingress.k8s.aws/stack": "shop/web"}


@pytest.fixture
def broken(world, tmp_path):
    """A listener with a controller's rule (10) and a person's (20), backed up, then both
    rules' actions changed."""
    lb = world.load_balancer("shop")
    listener = world.listener(lb, 80)
    world.rule(listener, 10, [path("/api/*")], [fixed("200")], CONTROLLER)
    world.rule(listener, 20, [path("/shop/*")], [fixed("200")], {"team": "shop"})
    snapshot = tmp_path / "s.json"
    assert cli("backup", "--listener-arn", listener, "--out", str(snapshot))[0] == 0
    for rule in world.rules(listener):
        world.elb.modify_rule(RuleArn=rule["RuleArn"], Actions=[fixed("503")])
    return listener, snapshot


def _actions_at(world, listener: str) -> dict[str, str]:
    return {
        r["Priority"]: r["Actions"][0]["FixedResponseConfig"]["StatusCode"]
        for r in world.rules(listener)
    }


def test_plan_and_restore_warn_that_the_controller_will_revert_its_rule(world, broken):
    listener, snapshot = broken
    code, out, _ = cli("plan", str(snapshot))
    assert code == 0
    text = " ".join(out.split())
    assert "warning: the rule at priority 10" in text
    assert "AWS Load Balancer Controller (cluster prod, ingress stack shop/web)" in text
    assert "revert the change at its next reconcile unless it is fixed at the source" in text
    code, out, _ = cli("restore", str(snapshot), "--yes", "--no-lock", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["status"] == "RESTORED"
    assert any("AWS Load Balancer Controller" in w for w in result["warnings"])
    assert any("AWS Load Balancer Controller" in w for w in result["plan"]["warnings"])
    assert _actions_at(world, listener) == {"10": "200", "20": "200"}  # it still restores


def test_skip_managed_leaves_the_managed_rule_untouched(world, broken):
    listener, snapshot = broken
    before = {r["RuleArn"]: r for r in world.rules(listener)}
    code, out, _ = cli("restore", str(snapshot), "--yes", "--no-lock", "--skip-managed")
    assert code == 0
    text = " ".join(out.split())
    assert "left out: the rule at priority 10" in text and "is not changed" in text
    assert "RESTORED" in text
    after = {r["RuleArn"]: r for r in world.rules(listener)}
    assert after.keys() == before.keys()
    managed = next(a for a, r in before.items() if r["Priority"] == "10")
    assert after[managed] == before[managed]
    assert _actions_at(world, listener) == {"10": "503", "20": "200"}


def test_a_cloudformation_rule_is_found_by_its_aws_tags_which_capture_leaves_out(world, tmp_path):
    """Capture keeps no aws: tag (a restore could not write one back), so the stack's tag is
    read on its own, for the rules the plan changes; the snapshot never holds it."""
    lb = world.load_balancer("stack")
    listener = world.listener(lb, 80)
    world.rule(
        listener,
        10,
        [path("/api/*")],
        [fixed("200")],
        {"aws:cloudformation:stack-name": "shop-web"},
    )
    snapshot = tmp_path / "s.json"
    assert cli("backup", "--listener-arn", listener, "--out", str(snapshot))[0] == 0
    assert "aws:cloudformation" not in snapshot.read_text()
    [rule] = world.rules(listener)
    world.elb.modify_rule(RuleArn=rule["RuleArn"], Actions=[fixed("503")])
    code, out, _ = cli("plan", str(snapshot), "--json")
    assert code == 0
    [warning] = json.loads(out)["warnings"]
    assert "CloudFormation stack shop-web" in warning and "next update" in warning
    code, out, _ = cli("restore", str(snapshot), "--yes", "--no-lock", "--skip-managed", "--json")
    assert code == 0 and json.loads(out)["status"] == "NO_CHANGES"
    assert world.rules(listener)[0]["Actions"][0]["FixedResponseConfig"]["StatusCode"] == "503"
