"""Restoring a whole load balancer with one command (``restore --load-balancer NAME``): every
listener to its snapshot, one plan, and on any failure every changed listener rolled back.
Outcomes are asserted on the listeners' real state afterwards."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from albrules.cli import app
from albrules.local import faults
from albrules.local.faults import MUTATING
from albrules.resolve import desired_from_snapshot
from albrules.restore import differences
from albrules.snapshot import build_snapshot
from albrules.store import read_snapshot
from rule_builders import fixed, forward, host, path

PORTS = (80, 8080, 8081)


def run(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def shop(world, tmp_path):
    """Load balancer "shop": three listeners of three rules each, backed up to a directory."""
    lb = world.load_balancer("shop")
    tg = world.target_group("app")
    listeners = []
    for n, port in enumerate(PORTS):
        listener = world.listener(lb, port)
        world.rule(listener, 10, [path(f"/{n}/a/*")], [forward(tg)], {"owner": f"{n}"})
        world.rule(listener, 20, [host(f"{n}.example.com")], [fixed("200")])
        world.rule(listener, 30, [path(f"/{n}/c/*")], [fixed("404")])
        listeners.append(listener)
    out = tmp_path / "backups"
    code, _, stderr = run("backup", "--load-balancer", "shop", "--out", str(out))
    assert code == 0, stderr
    good = {arn: build_snapshot(world.state(arn)).checksum for arn in listeners}
    return lb, listeners, out, good


def break_listener(world, listener: str) -> None:
    """Two calls to undo: a deleted rule and a rule whose actions changed."""
    rules = world.rules(listener)
    world.elb.delete_rule(RuleArn=rules[0]["RuleArn"])
    world.elb.modify_rule(RuleArn=rules[1]["RuleArn"], Actions=[fixed("503")])


def checksums(world, listeners: list[str]) -> dict[str, str]:
    return {arn: build_snapshot(world.state(arn)).checksum for arn in listeners}


def restore_shop(out: Path, *more: str):
    return run("restore", "--load-balancer", "shop", "--from", str(out), "--no-lock", *more)


def test_one_command_restores_every_broken_listener(world, shop, calls):
    _, listeners, out, good = shop
    for listener in listeners:
        break_listener(world, listener)
    calls.clear()
    code, stdout, stderr = restore_shop(out, "--yes")
    assert code == 0, stderr
    assert checksums(world, listeners) == good
    assert len(calls.mutating) == 6  # two calls per listener, nothing sent that changes nothing
    assert "RESTORED: restored 3 listener(s) of load balancer shop" in stdout
    for port in PORTS:
        assert f"[{PORTS.index(port) + 1}/3] listener port {port}" in stdout
    code, stdout, _ = restore_shop(out, "--yes")  # again: nothing to do
    assert code == 0 and "NO_CHANGES" in stdout


def test_a_failure_in_the_third_listener_rolls_back_all_three(world, shop, tmp_path):
    _, listeners, out, _good = shop
    for listener in listeners:
        break_listener(world, listener)
    broken = checksums(world, listeners)
    # Listeners one and two make two calls each; the third's first call fails.
    faults.inject(",".join(MUTATING), nth=5, code="InternalFailure")
    pre = tmp_path / "pre"
    code, stdout, stderr = restore_shop(out, "--yes", "--json", "--pre-restore-to", str(pre))
    assert code == 3, stderr
    assert checksums(world, listeners) == broken  # every listener as it was before
    result = json.loads(stdout)
    assert result["status"] == "ROLLED_BACK"
    assert [(o["port"], o["status"]) for o in result["listeners"]] == [
        (80, "rolled back"),
        (8080, "rolled back"),
        (8081, "rolled back"),
    ]
    assert "the restore failed here" in result["listeners"][2]["note"]
    assert "InternalFailure" in result["message"]  # why, once
    assert "was restored, then rolled back" in result["listeners"][0]["note"]
    # each listener's journal tells its story: restore calls, then the rollback's
    first = json.loads(Path(result["listeners"][0]["journal_location"]).read_text())
    assert [e["phase"] for e in first] == ["restore", "restore", "rollback", "rollback"]


def test_the_text_outcome_names_each_listener(world, shop):
    _, listeners, out, _good = shop
    for listener in listeners:
        break_listener(world, listener)
    faults.inject(",".join(MUTATING), nth=5, code="InternalFailure")
    code, _, stderr = restore_shop(out, "--yes")
    assert code == 3
    assert "ROLLED_BACK: the restore of load balancer shop failed at port 8081" in stderr
    for listener in listeners:
        assert listener in stderr
    assert stderr.count("rolled back") >= 3


def test_a_rollback_that_fails_exits_4_and_names_the_listener(world, shop):
    _, listeners, out, _good = shop
    for listener in listeners:
        break_listener(world, listener)
    faults.inject(",".join(MUTATING), nth=5, times=0, code="InternalFailure")  # and every undo
    code, stdout, stderr = restore_shop(out, "--yes", "--json")
    assert code == 4, stderr
    result = json.loads(stdout)
    assert result["status"] == "ROLLBACK_FAILED"
    assert [o["status"] for o in result["listeners"]] == [
        "rollback failed",
        "rollback failed",
        "rolled back",  # the third's only call failed: nothing of it to undo
    ]
    assert "by hand from its pre-restore snapshot" in result["listeners"][0]["note"]


def test_plan_shows_each_listener_and_changes_nothing(world, shop, calls):
    _, listeners, out, _good = shop
    break_listener(world, listeners[0])
    break_listener(world, listeners[2])
    broken = checksums(world, listeners)
    calls.clear()
    code, stdout, stderr = run("plan", "--load-balancer", "shop", "--from", str(out))
    assert code == 0, stderr
    assert calls.mutating == []
    assert checksums(world, listeners) == broken
    assert "Plan for load balancer shop" in stdout and "3 listener(s), 4 change(s)" in stdout
    assert "No changes: the listener already matches the snapshot." in stdout  # the middle one
    code, stdout, _ = restore_shop(out, "--dry-run", "--json")
    result = json.loads(stdout)
    assert result["status"] == "DRY_RUN"
    assert [o["status"] for o in result["listeners"]] == ["planned", "unchanged", "planned"]


def test_a_missing_listener_is_refused_before_any_change(world, shop, calls):
    _, listeners, out, _good = shop
    break_listener(world, listeners[0])
    world.elb.delete_listener(ListenerArn=listeners[2])
    broken = build_snapshot(world.state(listeners[0])).checksum
    calls.clear()
    code, _, stderr = restore_shop(out, "--yes")
    assert code == 2
    assert "no longer exist (port 8081" in stderr and "--recreate-listener" in stderr
    assert calls.mutating == []
    assert build_snapshot(world.state(listeners[0])).checksum == broken


def test_a_recreated_load_balancer_is_found_by_name(world, shop):
    lb, _listeners, out, _good = shop
    world.elb.delete_load_balancer(LoadBalancerArn=lb)
    again = world.load_balancer("shop")  # a pipeline recreated it: new ARN, empty listeners
    fresh = [world.listener(again, port) for port in PORTS]
    code, stdout, stderr = restore_shop(out, "--yes", "--json")
    assert code == 0, stderr
    result = json.loads(stdout)
    assert [o["listener_arn"] for o in result["listeners"]] == fresh
    assert "no longer exists" in result["listeners"][0]["note"]
    for outcome in result["listeners"]:  # each new listener holds its old one's routing
        snapshot = read_snapshot(outcome["snapshot"], None)
        assert outcome["status"] == "restored"
        assert (
            differences(desired_from_snapshot(snapshot), world.state(outcome["listener_arn"])) == []
        )


def test_at_chooses_each_listener_version_then(world, shop):
    _, listeners, out, good = shop
    time.sleep(0.01)
    between = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 1))
    for listener in listeners:  # a later, good-looking change, backed up too
        world.rule(listener, 40, [path("/later/*")], [fixed("200")])
    time.sleep(1.1)
    assert run("backup", "--load-balancer", "shop", "--out", str(out))[0] == 0
    code, _, stderr = restore_shop(out, "--yes", "--at", between, "--json")
    assert code == 0, stderr
    assert checksums(world, listeners) == good


def test_options_of_one_listener_are_refused(world, shop):
    _, _listeners, out, _good = shop
    code, _, stderr = restore_shop(out, "--mode", "selective", "--priority", "10")
    assert code == 2 and "--mode, --priority" in stderr
    code, _, stderr = run("restore", "--load-balancer", "shop", "--no-lock")
    assert code == 2 and "give --from LOCATION" in stderr


def test_two_broken_and_one_deleted_listener_come_back_with_one_command(world, shop, calls):
    _, listeners, out, good = shop
    break_listener(world, listeners[0])
    break_listener(world, listeners[1])
    world.elb.delete_listener(ListenerArn=listeners[2])
    calls.clear()
    code, stdout, stderr = restore_shop(out, "--yes", "--recreate-listener", "--json")
    assert code == 0, stderr
    result = json.loads(stdout)
    assert [o["status"] for o in result["listeners"]] == ["restored"] * 3
    assert checksums(world, listeners[:2]) == {a: good[a] for a in listeners[:2]}
    created = result["listeners"][2]["listener_arn"]
    assert created != listeners[2] and "recreated (was " in result["listeners"][2]["note"]
    snapshot = read_snapshot(result["listeners"][2]["snapshot"], None)
    assert differences(desired_from_snapshot(snapshot), world.state(created)) == []
    assert calls.of("elasticloadbalancing").count("CreateListener") == 1


def test_a_failure_after_the_recreation_deletes_it_and_rolls_back_the_others(world, shop):
    _, listeners, out, _good = shop
    break_listener(world, listeners[0])
    break_listener(world, listeners[1])
    world.elb.delete_listener(ListenerArn=listeners[2])
    before = checksums(world, listeners[:2])
    lb_listeners = len(world.elb.describe_listeners(LoadBalancerArn=shop[0])["Listeners"])
    # Two calls each for the broken two, CreateListener for the third, then its first rule fails.
    faults.inject(",".join((*MUTATING, "CreateListener")), nth=6, code="InternalFailure")
    code, stdout, stderr = restore_shop(out, "--yes", "--recreate-listener", "--json")
    assert code == 3, stderr
    result = json.loads(stdout)
    assert [o["status"] for o in result["listeners"]] == ["rolled back"] * 3
    assert "deleted again" in result["listeners"][2]["note"]
    assert checksums(world, listeners[:2]) == before
    assert len(world.elb.describe_listeners(LoadBalancerArn=shop[0])["Listeners"]) == lb_listeners
