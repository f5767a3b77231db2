"""Restore drills through the CLI on the local AWS (`albrules drill`): a snapshot is restored
into a new listener on a scratch load balancer, verified and deleted; the scratch load
balancer is exactly as it was afterwards, after a failure too."""

from __future__ import annotations

import json

import pytest

from albrules.drill import run_drill, scratch_state
from albrules.errors import RestoreRefused
from albrules.local import faults
from albrules.store import read_snapshot
from cli_runs import cli
from rule_builders import fixed, forward, host, path


@pytest.fixture
def shop(world, tmp_path):
    """A production listener with 5 rules, backed up; and a scratch load balancer with a
    listener of its own on 8000 (so the drill takes 8001)."""
    lb = world.load_balancer("shop")
    listener = world.listener(lb, 80)
    web, api = world.target_group("web"), world.target_group("api")
    for priority, value in ((10, "/a/*"), (20, "/b/*"), (30, "/c/*")):
        world.rule(listener, priority, [path(value)], [forward(web)], {"team": value[1]})
    world.rule(listener, 40, [host("api.example.com")], [forward(api)])
    world.rule(listener, 50, [path("/old/*")], [fixed("410")])
    snapshot = tmp_path / "shop.json"
    assert cli("backup", "--listener-arn", listener, "--out", str(snapshot))[0] == 0
    scratch = world.load_balancer("scratch")
    taken = world.listener(scratch, 8000)
    world.rule(taken, 5, [path("/x/*")], [fixed("200")])
    return snapshot, scratch


def test_a_drill_reports_a_snapshot_restorable_and_leaves_the_scratch_lb_as_it_was(world, shop):
    snapshot, scratch = shop
    before = scratch_state(world.aws, scratch)
    code, out, err = cli("drill", str(snapshot), "--load-balancer", "scratch", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "RESTORABLE" and report["reasons"] == []
    assert report["port"] == 8001 and report["rules"] == 5
    assert report["drill_listener_arn"] and report["scratch_unchanged"]
    calls = [e["call"] for e in report["journal"]]
    assert calls[0] == "CreateListener" and calls[-1] == "DeleteListener"
    assert calls.count("CreateRule") == 5
    assert scratch_state(world.aws, scratch) == before
    code, out, _ = cli("drill", str(snapshot), "--load-balancer", "scratch")
    assert code == 0 and "RESTORABLE" in out and "is restorable" in out


def test_a_missing_target_group_is_a_reason_and_nothing_is_created(world, shop):
    snapshot, scratch = shop
    api = world.elb.describe_target_groups(Names=["api"])["TargetGroups"][0]["TargetGroupArn"]
    for listener in world.elb.describe_listeners(
        LoadBalancerArn=api
        and world.elb.describe_load_balancers(Names=["shop"])["LoadBalancers"][0]["LoadBalancerArn"]
    )["Listeners"]:
        for rule in world.rules(listener["ListenerArn"]):
            if rule["Priority"] == "40":
                world.elb.delete_rule(RuleArn=rule["RuleArn"])
    world.elb.delete_target_group(TargetGroupArn=api)
    before = scratch_state(world.aws, scratch)
    code, out, _ = cli("drill", str(snapshot), "--load-balancer", "scratch", "--json")
    assert code == 5
    report = json.loads(out)
    assert report["status"] == "NOT_RESTORABLE"
    assert any("missing target group" in r and "'api'" in r for r in report["reasons"])
    assert report["journal"] == [] and report["drill_listener_arn"] is None
    assert scratch_state(world.aws, scratch) == before


def test_a_call_aws_refuses_is_a_reason_and_the_scratch_lb_is_put_back(world, shop):
    snapshot, scratch = shop
    before = scratch_state(world.aws, scratch)
    faults.inject("CreateRule", code="TooManyRules", nth=3)
    code, out, _ = cli("drill", str(snapshot), "--load-balancer", "scratch", "--json")
    assert code == 5
    report = json.loads(out)
    assert report["status"] == "NOT_RESTORABLE"
    assert any("AWS refused a call" in r and "TooManyRules" in r for r in report["reasons"])
    assert report["journal"][-1]["call"] == "DeleteListener"
    assert report["scratch_unchanged"]
    assert scratch_state(world.aws, scratch) == before


def test_a_drill_that_cannot_delete_its_listener_says_so(world, shop):
    snapshot, _scratch = shop
    faults.inject("DeleteListener", code="AccessDenied")
    code, out, _ = cli("drill", str(snapshot), "--load-balancer", "scratch", "--json")
    assert code == 6
    report = json.loads(out)
    assert report["status"] == "CLEANUP_FAILED" and not report["scratch_unchanged"]
    assert any("could not delete the drill listener" in r for r in report["reasons"])


def test_an_unknown_scratch_lb_or_no_free_port_is_refused_before_any_change(world, shop):
    snapshot, scratch = shop
    code, _, err = cli("drill", str(snapshot), "--load-balancer", "nope")
    assert code == 2 and "nope" in err
    for port in range(8001, 8004):
        world.listener(scratch, port)
    before = scratch_state(world.aws, scratch)

    with pytest.raises(RestoreRefused, match="every drill port"):
        run_drill(
            world.aws,
            read_snapshot(str(snapshot), None),
            str(snapshot),
            "scratch",
            ports=range(8000, 8004),
        )
    assert scratch_state(world.aws, scratch) == before
