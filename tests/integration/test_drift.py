"""Drift: a live listener compared with a snapshot of it, by the library and by `albrules drift`.

The listeners are real ones in the local AWS (the ``world`` fixture), changed with ELBv2 calls
the way a person or a deploy would change them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from albrules.cli import app
from albrules.drift import ListenerDrift, compare
from albrules.snapshot import build_snapshot
from albrules.store import read_snapshot
from local_world import World
from rule_builders import fixed, forward, header, host, path

REWRITE = [
    {
        "Type": "url-rewrite",
        "UrlRewriteConfig": {"Rewrites": [{"Regex": "^/a(.*)$", "Replace": "/b$1"}]},
    }
]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def shop(world: World) -> str:
    """A listener with six rules (priorities 10..60), each with a tag."""
    listener = world.listener(world.load_balancer("shop"), 80)
    group = world.target_group("shop-app")
    for i in range(1, 7):
        world.rule(listener, i * 10, [path(f"/p{i}/*")], [forward(group)], tags={"n": str(i)})
    return listener


def rule_at(world: World, listener: str, priority: int) -> str:
    return next(r["RuleArn"] for r in world.rules(listener) if r["Priority"] == str(priority))


def drift_of(world: World, listener: str, snapshot: Any) -> ListenerDrift:
    return compare(world.state(listener), snapshot, "the-snapshot.json")


def kinds(report: ListenerDrift) -> list[tuple[str, int | None, int | None, list[str]]]:
    return [(c.kind, c.old_priority, c.priority, c.fields) for c in report.changes]


# --- the library ------------------------------------------------------------------------------


def test_an_unchanged_listener_has_no_drift(world: World, shop: str) -> None:
    snapshot = build_snapshot(world.state(shop))
    report = drift_of(world, shop, snapshot)
    assert not report.drifted and report.changes == []
    assert report.live_checksum == report.snapshot_checksum == snapshot.checksum
    assert (report.label, report.summary()) == ("shop:80", "no drift")


def test_each_kind_of_change_is_reported_snapshot_to_live(world: World, shop: str) -> None:
    snapshot = build_snapshot(world.state(shop))
    elb = world.elb
    elb.delete_rule(RuleArn=rule_at(world, shop, 10))  # removed
    world.rule(shop, 99, [host("rogue.example.com")], [fixed("418")])  # added
    elb.modify_rule(RuleArn=rule_at(world, shop, 20), Actions=[fixed("503")])  # changed
    elb.set_rule_priorities(  # moved
        RulePriorities=[{"RuleArn": rule_at(world, shop, 30), "Priority": 35}]
    )
    elb.remove_tags(ResourceArns=[rule_at(world, shop, 40)], TagKeys=["n"])  # changed tags
    elb.modify_rule(RuleArn=rule_at(world, shop, 50), Transforms=REWRITE)  # changed transforms
    elb.modify_rule(  # a different rule at the same priority: its conditions changed
        RuleArn=rule_at(world, shop, 60), Conditions=[header("x-canary", "yes")]
    )

    report = drift_of(world, shop, snapshot)

    assert kinds(report) == [
        ("removed", 10, None, []),
        ("changed", 20, 20, ["actions"]),
        ("moved", 30, 35, []),
        ("changed", 40, 40, ["tags"]),
        ("changed", 50, 50, ["transforms"]),
        ("changed", 60, 60, ["conditions"]),
        ("added", None, 99, []),
    ]
    assert report.counts() == {
        "added": 1,
        "removed": 1,
        "changed": 4,
        "moved": 1,
        "default_actions": 0,
    }
    assert report.summary() == "1 added, 1 removed, 4 changed, 1 moved"
    # "before" is the snapshot, "after" is live.
    removed, changed = report.changes[0], report.changes[1]
    assert removed.before is not None and removed.after is None
    assert removed.before["conditions"][0]["PathPatternConfig"]["Values"] == ["/p1/*"]
    assert changed.before["actions"][0]["Type"] == "forward"  # type: ignore[index]
    assert changed.after["actions"][0]["Type"] == "fixed-response"  # type: ignore[index]
    assert [c.line() for c in report.changes] == [
        "removed priority 10 (path-pattern=/p1/*)",
        "changed priority 20 (path-pattern=/p2/*): actions",
        "moved priority 30 -> 35 (path-pattern=/p3/*)",
        "changed priority 40 (path-pattern=/p4/*): tags",
        "changed priority 50 (path-pattern=/p5/*): transforms",
        "changed priority 60 (http-header=x-canary:yes): conditions",
        "added priority 99 (host-header=rogue.example.com)",
    ]
    assert report.changes[1].details() == ["actions: forward shop-app -> fixed-response 503"]
    assert report.changes[3].details() == ["tags: n=4 -> (none)"]


def test_a_rule_changed_and_moved_is_one_change(world: World, shop: str) -> None:
    snapshot = build_snapshot(world.state(shop))
    arn = rule_at(world, shop, 20)
    world.elb.modify_rule(RuleArn=arn, Actions=[fixed("503")])
    world.elb.set_rule_priorities(RulePriorities=[{"RuleArn": arn, "Priority": 25}])

    [change] = drift_of(world, shop, snapshot).changes

    assert (change.kind, change.old_priority, change.priority) == ("changed", 20, 25)
    assert change.line() == "changed priority 20 -> 25 (path-pattern=/p2/*): actions"


def test_default_actions_drift(world: World, shop: str) -> None:
    snapshot = build_snapshot(world.state(shop))
    world.elb.modify_listener(ListenerArn=shop, DefaultActions=[fixed("503")])

    report = drift_of(world, shop, snapshot)

    assert kinds(report) == [("default-actions", None, None, ["actions"])]
    assert report.summary() == "default actions changed"
    assert report.changes[0].details() == ["actions: fixed-response 404 -> fixed-response 503"]


def test_drift_and_the_restore_plan_agree(world: World, shop: str, tmp_path: Path) -> None:
    """Drift is the restore planner read the other way: as many changes as the plan has rules
    to change, and once restored, no drift."""
    out = tmp_path / "s.json"
    assert run("backup", "--listener-arn", shop, "--out", str(out))[0] == 0
    world.elb.delete_rule(RuleArn=rule_at(world, shop, 10))
    world.rule(shop, 99, [host("rogue.example.com")])
    broken = build_snapshot(world.state(shop))
    stored = read_snapshot(str(out), None)

    assert len(drift_of(world, shop, stored).changes) == 2
    code, stdout, _ = run("plan", str(out), "--json")
    assert code == 0 and len(json.loads(stdout)["rules"]) == 2
    assert run("restore", str(out), "--yes")[0] == 0
    assert not drift_of(world, shop, stored).drifted
    assert kinds(drift_of(world, shop, broken)) == [  # from the broken state, the other way
        ("added", None, 10, []),
        ("removed", 99, None, []),
    ]


# --- the command ------------------------------------------------------------------------------


@pytest.fixture
def backups(world: World, shop: str, tmp_path: Path) -> Path:
    """The shop load balancer (two listeners) backed up into a directory."""
    lb = world.elb.describe_listeners(ListenerArns=[shop])["Listeners"][0]["LoadBalancerArn"]
    other = world.listener(lb, 8080)
    world.rule(other, 5, [host("admin.example.com")], [fixed("403")])
    out = tmp_path / "backups"
    assert run("backup", "--load-balancer", "shop", "--out", str(out))[0] == 0
    for file in out.rglob("*.json"):  # taken a while ago (and named as earlier versions did)
        file.rename(file.with_name("20200101T000000Z-" + file.name.split("-", 1)[1]))
    return out


def test_drift_command_no_drift_exits_0(world: World, shop: str, backups: Path) -> None:
    code, stdout, stderr = run("drift", "--load-balancer", "shop", "--against", str(backups))
    assert (code, stderr) == (0, "")
    assert "shop:80  no drift since its snapshot of" in stdout
    assert "shop:8080  no drift since its snapshot of" in stdout
    assert "no drift: 2 listener(s) match their latest snapshot" in stdout


def test_drift_command_shows_each_change_and_exits_5(
    world: World, shop: str, backups: Path
) -> None:
    world.elb.delete_rule(RuleArn=rule_at(world, shop, 10))
    world.elb.modify_rule(RuleArn=rule_at(world, shop, 20), Actions=[fixed("503")])
    world.elb.set_rule_priorities(
        RulePriorities=[{"RuleArn": rule_at(world, shop, 30), "Priority": 35}]
    )
    world.rule(shop, 99, [host("rogue.example.com")])

    code, stdout, _ = run("drift", "--listener-arn", shop, "--against", str(backups))

    assert code == 5
    lines = stdout.splitlines()
    assert lines[0].startswith("shop:80  drifted since its snapshot of ")
    assert lines[0].endswith("1 added, 1 removed, 1 changed, 1 moved")
    assert "  - removed  priority 10 (path-pattern=/p1/*)" in lines
    assert "  ~ changed  priority 20 (path-pattern=/p2/*)" in lines
    assert "      actions: forward shop-app -> fixed-response 503" in lines
    assert "  > moved    priority 30 -> 35 (path-pattern=/p3/*)" in lines
    assert "  + added    priority 99 (host-header=rogue.example.com)" in lines
    assert lines[-1] == "drift found on 1 of 1 listener(s)"
    assert "8080" not in stdout  # only the listener asked for

    code, stdout, _ = run("drift", "--load-balancer", "shop", "--against", str(backups), "--json")
    report = json.loads(stdout)
    assert code == 5 and report["drift"] is True
    first, second = report["listeners"]
    assert (first["label"], first["drifted"], second["drifted"]) == ("shop:80", True, False)
    assert first["counts"] == {
        "added": 1,
        "removed": 1,
        "changed": 1,
        "moved": 1,
        "default_actions": 0,
    }
    assert [c["kind"] for c in first["changes"]] == ["removed", "changed", "moved", "added"]


def test_drift_compares_with_the_latest_snapshot(world: World, shop: str, backups: Path) -> None:
    world.elb.delete_rule(RuleArn=rule_at(world, shop, 10))
    assert run("drift", "--listener-arn", shop, "--against", str(backups))[0] == 5
    assert run("backup", "--listener-arn", shop, "--out", str(backups))[0] == 0
    assert run("drift", "--listener-arn", shop, "--against", str(backups))[0] == 0


def test_drift_command_changes_nothing(world: World, shop: str, backups: Path, calls) -> None:
    world.elb.delete_rule(RuleArn=rule_at(world, shop, 10))
    calls.clear()
    assert run("drift", "--load-balancer", "shop", "--against", str(backups))[0] == 5
    assert calls.of("elasticloadbalancing") and calls.mutating == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give the listeners to compare: --listener-arn ARN or --load-balancer"),
        (("--listener-arn", "LISTENER", "--load-balancer", "shop"), "not both"),
        (("--listener-arn", "LISTENER", "--against", "MISSING"), "does not exist"),
        (("--listener-arn", "LISTENER", "--against", "FILE"), "is one file"),
        (("--listener-arn", "LISTENER", "--against", "s3://b/x/s.json"), "one snapshot file"),
        (("--listener-arn", "arn:aws:nope", "--against", "BACKUPS"), "is not a listener ARN"),
    ],
)
def test_drift_command_refuses_bad_input_with_exit_2(
    world: World, shop: str, backups: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    afile = tmp_path / "one.json"
    afile.write_text("{}")
    values = {
        "LISTENER": shop,
        "MISSING": str(tmp_path / "nowhere"),
        "FILE": str(afile),
        "BACKUPS": str(backups),
    }
    argv = [values.get(a, a) for a in args]
    if "--against" not in argv:
        argv += ["--against", str(backups)]
    code, stdout, stderr = run("drift", *argv)
    assert code == 2 and stdout == ""
    assert stderr.startswith("error: ") and message in stderr
    assert "Traceback" not in stderr


def test_a_listener_with_no_snapshot_is_refused_naming_it(
    world: World, shop: str, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, stdout, stderr = run("drift", "--listener-arn", shop, "--against", str(empty))
    assert code == 2 and stdout == ""
    assert f"{empty} has no snapshot of shop:80 (it holds no snapshots at all)" in stderr
    assert f"albrules backup --listener-arn {shop} --out {empty}" in stderr

    other = world.listener(world.load_balancer("api"), 443)
    backups = tmp_path / "backups"
    assert run("backup", "--listener-arn", shop, "--out", str(backups))[0] == 0
    code, _, stderr = run(
        "drift", "--listener-arn", shop, "--listener-arn", other, "--against", str(backups)
    )
    assert code == 2 and "has no snapshot of api:443;" in stderr
