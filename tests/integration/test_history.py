"""``albrules history``, ``albrules diff`` and ``plan``/``restore --at/--before-change`` on the
local AWS: catalog rows written through Catalog.record_snapshot/record_deletion (as the change
and sweep backups write them) for real snapshots in S3, and snapshot files in a directory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from albrules.catalog import Catalog
from albrules.cli import app
from albrules.models import utc_stamp_iso
from albrules.snapshot import build_snapshot
from albrules.store import Store
from albrules.versions import ChangeEvent
from rule_builders import fixed, forward, path

REGION = "us-east-1"
AWS = ["--aws", "--region", REGION]
ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:iam::123456789012:user/bob"
CAROL = "arn:aws:iam::123456789012:user/carol"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class History:
    """A listener with three versions in the catalog (and as files in a directory):

    - v1, 3 h ago, the sweep: /a, /b, /c;
    - v2, 2 h ago, alice's change (e-add, CreateRule): /d added;
    - v3, 1 h ago, bob's change (e-del-a, e-del-b, DeleteRule): /a and /b removed (now live).
    """

    world: Any
    listener: str
    table: str
    catalog: Catalog
    directory: Path
    locations: list[str]  # v1, v2, v3 in S3
    files: list[str]  # v1, v2, v3 in the directory
    ids: list[str]
    rules: list[set[str]]  # the paths each version routes

    def live(self) -> set[str]:
        return {
            r["Conditions"][0]["PathPatternConfig"]["Values"][0]
            for r in self.world.rules(self.listener)
        }

    @property
    def where(self) -> list[str]:
        return [*AWS, "--table", self.table]


def paths(world: Any, listener: str) -> set[str]:
    return {r["Conditions"][0]["PathPatternConfig"]["Values"][0] for r in world.rules(listener)}


@pytest.fixture
def hist(world, session, tmp_path) -> History:
    ddb = session.client("dynamodb")
    ddb.create_table(
        TableName="catalog",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    session.client("s3").create_bucket(Bucket="snaps")
    catalog = Catalog(world.aws, "catalog")
    bucket = Store("s3://snaps/snapshots", world.aws)
    directory = tmp_path / "backups"
    files = Store(str(directory))
    listener = world.listener(world.load_balancer("web"))
    group = world.target_group("app")
    for priority, value in ((10, "/a"), (20, "/b"), (30, "/c")):
        world.rule(listener, priority, [path(value)], [forward(group)])
    now = datetime.now(UTC)
    locations, stored, ids, routed = [], [], [], []

    def version(hours: int, trigger: str, events: list[ChangeEvent]) -> None:
        snapshot = build_snapshot(world.state(listener), created_at=now - timedelta(hours=hours))
        saved = bucket.save(snapshot, force=True)
        stored.append(files.save(snapshot, force=True).location)
        catalog.record_snapshot(
            snapshot_id=snapshot.checksum[:12],
            listener_arn=listener,
            location=saved.location,
            checksum=snapshot.checksum,
            rules=len(snapshot.rules),
            created_at=utc_stamp_iso(snapshot.created_at),
            trigger=trigger,
            events=events,
        )
        locations.append(saved.location)
        ids.append(snapshot.checksum[:12])
        routed.append(paths(world, listener))

    version(3, "schedule", [])
    world.rule(listener, 40, [path("/d")], [fixed("200")])
    add = ChangeEvent(
        id="e-add", name="CreateRule", time=stamp(now - timedelta(hours=2, seconds=40)), by=ALICE
    )
    version(2, "change", [add])
    for rule in world.rules(listener)[:2]:
        world.elb.delete_rule(RuleArn=rule["RuleArn"])
    deleted = [
        ChangeEvent(
            id=f"e-del-{x}",
            name="DeleteRule",
            time=stamp(now - timedelta(hours=1, seconds=30)),
            by=BOB,
        )
        for x in "ab"
    ]
    version(1, "change", deleted)
    return History(world, listener, "catalog", catalog, directory, locations, stored, ids, routed)


# --- history -------------------------------------------------------------------------------


def test_history_json_lists_versions_newest_first_with_who_and_what_changed(hist):
    code, out, err = run("history", "--listener-arn", hist.listener, *hist.where, "--json")
    assert code == 0, err
    entries = json.loads(out)
    assert [e["snapshot"] for e in entries] == hist.locations[::-1]
    newest, middle, oldest = entries
    for entry in entries:
        assert {"snapshot", "taken_at", "trigger", "changed_by", "events", "kind"} <= set(entry)
        assert "execution_arn" in entry and entry["listener_arn"] == hist.listener
    assert newest["trigger"] == "change" and newest["changed_by"] == [BOB]
    assert [(e["id"], e["name"], e["by"]) for e in newest["events"]] == [
        ("e-del-a", "DeleteRule", BOB),
        ("e-del-b", "DeleteRule", BOB),
    ]
    assert set(newest["events"][0]) >= {"id", "name", "time", "by"}
    assert newest["counts"]["removed"] == 2 and newest["counts"]["added"] == 0
    assert {c["kind"] for c in newest["changes"]} == {"removed"}
    assert middle["changed_by"] == [ALICE] and middle["counts"]["added"] == 1
    assert [c["kind"] for c in middle["changes"]] == ["added"]
    assert middle["changes"][0]["after"]["conditions"][0]["PathPatternConfig"]["Values"] == ["/d"]
    assert oldest["trigger"] == "schedule" and oldest["changed_by"] == []
    assert oldest["changes"] is None and oldest["events"] == []


def test_history_text_says_who_changed_what_through_which_calls(hist):
    code, out, err = run("history", "--listener-arn", hist.listener, *hist.where)
    assert code == 0, err
    assert "3 version(s) in the catalog table catalog, newest first" in out
    assert f"change by {BOB} (DeleteRule)" in out
    assert f"DeleteRule by {BOB} at" in out and "(event e-del-a)" in out
    assert "2 removed" in out and "1 added" in out
    assert "removed  priority 10 (path-pattern=/a)" in out
    assert "the first version here: nothing before it to compare with" in out
    assert out.index(f"change by {BOB}") < out.index(f"change by {ALICE}") < out.index("schedule")


def test_history_text_lists_the_first_events_of_a_busy_version_and_counts_the_rest(hist):
    """A burst of 12 calls: the text view names 8 and counts the rest; --json lists all 12."""
    now = datetime.now(UTC)
    burst = [
        ChangeEvent(id=f"e-burst-{n:02d}", name="ModifyRule", time=stamp(now), by=ALICE)
        for n in range(12)
    ]
    snapshot = build_snapshot(hist.world.state(hist.listener), created_at=now)
    hist.catalog.record_snapshot(
        snapshot_id=snapshot.checksum[:12],
        listener_arn=hist.listener,
        location=hist.locations[-1],
        checksum=snapshot.checksum,
        rules=len(snapshot.rules),
        created_at=utc_stamp_iso(snapshot.created_at),
        trigger="change",
        events=burst,
    )
    code, out, err = run("history", "--listener-arn", hist.listener, *hist.where)
    assert code == 0, err
    assert "(event e-burst-07)" in out and "(event e-burst-08)" not in out
    assert "and 4 more event(s) (--json lists them)" in out
    code, out, err = run("history", "--listener-arn", hist.listener, *hist.where, "--json")
    assert code == 0, err
    assert [e["id"] for e in json.loads(out)[0]["events"]] == [e.id for e in burst]


def test_history_since_keeps_the_later_versions_and_their_changes(hist):
    code, out, _ = run(
        "history", "--listener-arn", hist.listener, *hist.where, "--since", "150m", "--json"
    )
    entries = json.loads(out)
    assert code == 0 and [e["snapshot"] for e in entries] == hist.locations[:0:-1]
    assert entries[-1]["counts"]["added"] == 1  # still compared with the version before it


def test_history_by_load_balancer_and_a_deletion_as_an_entry(hist):
    gone = ChangeEvent(id="e-gone", name="DeleteListener", time=stamp(datetime.now(UTC)), by=CAROL)
    hist.catalog.record_deletion(
        listener_arn=hist.listener, deleted_at=utc_stamp_iso(datetime.now(UTC)), events=[gone]
    )
    balancer = hist.listener.replace(":listener/", ":loadbalancer/").rsplit("/", 1)[0]
    for name in ("web", balancer):
        code, out, err = run("history", "--load-balancer", name, *hist.where, "--json")
        assert code == 0, err
        entries = json.loads(out)
        assert len(entries) == 4 and entries[0]["kind"] == "deletion"
        assert entries[0]["snapshot"] is None and entries[0]["changed_by"] == [CAROL]
        assert entries[0]["changes"] is None
        assert entries[1]["counts"]["removed"] == 2  # the deletion is not what it is compared with
    code, out, _ = run("history", "--listener-arn", hist.listener, *hist.where)
    assert f"deletion by {CAROL} (DeleteListener)" in out and "the listener was deleted" in out
    # --at after the deletion: the last snapshot before it, and the choice says so
    code, out, err = run("plan", "--listener-arn", hist.listener, "--at", "0m", *hist.where)
    assert code == 0, err
    assert f"{hist.locations[2]}, taken " in out.split("\n")[0]
    assert "the listener was deleted at" in out.split("\n")[0]


def test_history_from_a_directory_says_it_has_no_attribution(hist):
    code, out, err = run("history", "--listener-arn", hist.listener, "--from", str(hist.directory))
    assert code == 0, err
    assert out.startswith("no attribution: snapshot files record no attribution")
    assert "2 removed" in out and "1 added" in out
    code, out, _ = run("history", "--load-balancer", "web", "--from", str(hist.directory), "--json")
    entries = json.loads(out)
    assert [e["snapshot"] for e in entries] == hist.files[::-1]
    assert all(e["trigger"] is None and e["attributed"] is False for e in entries)
    assert entries[0]["counts"]["removed"] == 2


def test_history_from_an_s3_prefix(hist):
    code, out, err = run(
        "history", "--listener-arn", hist.listener, "--from", "s3://snaps/snapshots", *AWS, "--json"
    )
    assert code == 0, err
    entries = json.loads(out)
    assert [e["snapshot"] for e in entries] == hist.locations[::-1]
    assert entries[0]["counts"]["removed"] == 2 and entries[0]["trigger"] is None


# --- diff ----------------------------------------------------------------------------------


def test_diff_exit_codes_and_the_changes_like_drift(hist):
    code, out, err = run("diff", hist.files[0], hist.files[2])
    assert code == 5, err
    assert out.startswith("A -> B: 1 added, 2 removed")
    assert "removed  priority 10 (path-pattern=/a)" in out
    code, out, _ = run("diff", hist.ids[0], hist.ids[1], *hist.where, "--json")  # catalog ids
    report = json.loads(out)
    assert code == 5 and report["same"] is False and report["counts"]["added"] == 1
    assert report["before"] == hist.locations[0] and report["after"] == hist.locations[1]
    code, out, _ = run("diff", hist.locations[2], hist.files[2], *AWS)  # S3 URI and path
    assert code == 0 and "the same routing" in out
    code, out, _ = run("diff", hist.files[1], hist.files[1], "--json")
    assert code == 0 and json.loads(out)["same"] is True


# --- plan and restore, by time and by event ---------------------------------------------------


def test_restore_at_brings_back_the_version_of_that_moment(hist, calls):
    assert hist.live() == hist.rules[2] == {"/c", "/d"}
    code, out, err = run("plan", "--listener-arn", hist.listener, "--at", "90m", *hist.where)
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("chose the latest snapshot at or before ")
    assert f"{hist.locations[1]}, taken " in first and f"change by {ALICE} (CreateRule)" in first
    assert calls.mutating == []
    code, out, err = run(
        "restore", "--listener-arn", hist.listener, "--at", "90m", "--yes", *hist.where, "--json"
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "RESTORED" and result["choice"]["snapshot"] == hist.locations[1]
    assert result["choice"]["changed_by"] == [ALICE] and "at" in result["choice"]
    assert result["lock"]["locked"] is True  # the stack's lock of the listener, as today
    assert hist.live() == hist.rules[1] == {"/a", "/b", "/c", "/d"}


def test_restore_at_an_iso_time_from_a_directory(hist):
    moment = (datetime.now(UTC) - timedelta(hours=2, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
    code, out, err = run(
        "restore", "--listener-arn", hist.listener, "--at", moment, "--from", str(hist.directory),
        "--yes", "--no-lock",
    )  # fmt: skip
    assert code == 0, err
    assert f"chose the latest snapshot at or before {moment}Z" in out
    assert f"{hist.files[0]}, taken" in out and "(no attribution)" in out
    assert hist.live() == hist.rules[0] == {"/a", "/b", "/c"}


def test_restore_before_change_brings_back_the_version_before_that_event(hist):
    code, out, err = run("plan", "--before-change", "e-del-b", *hist.where)
    assert code == 0, err
    assert out.startswith(
        f"chose the latest snapshot before CloudTrail event e-del-b (DeleteRule by {BOB} at "
    )
    assert hist.locations[1] in out.splitlines()[0]
    code, out, err = run("restore", "--before-change", "e-add", "--yes", *hist.where)
    assert code == 0, err
    assert hist.locations[0] in out.splitlines()[0]
    assert hist.live() == hist.rules[0]
    code, out, err = run(
        "restore", "--listener-arn", hist.listener, "--before-change", "e-del-a", "--yes",
        *hist.where,
    )  # fmt: skip
    assert code == 0, err
    assert hist.live() == hist.rules[1]


# --- refusals: one sentence, exit 2, nothing changed ----------------------------------------


def refused(hist, calls, args: list[str], fragment: str) -> None:
    before = hist.world.state(hist.listener)
    code, out, err = run(*args)
    assert code == 2, (out, err)
    assert err.startswith("error: ") and fragment in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err + out
    assert calls.mutating == []
    assert hist.world.state(hist.listener) == before


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--at", "tomorrow"], "--at 'tomorrow' is not a time albrules can read; give ISO 8601"),
        (["--at", "2999-01-01T00:00:00Z"], "is 2999-01-01T00:00:00Z, in the future"),
        (["--at", "1w"], "holds no snapshot of arn:aws:elasticloadbalancing"),
        (["--before-change", "e-nope"], "recorded CloudTrail event e-nope; nothing was changed"),
        (["--at", "1h", "--before-change", "e-add"], "give --at TIME or --before-change EVENT_ID"),
        (["SNAPSHOT.json", "--at", "1h"], "give a SNAPSHOT, or --at TIME / --before-change"),
        (
            ["--before-change", "e-add", "--from", "/tmp"],
            "--before-change needs the stack's catalog",
        ),
    ],
)
def test_point_in_time_refusals(hist, calls, args, fragment):
    listener = (
        []
        if "--before-change" in args and "--at" not in args
        else ["--listener-arn", hist.listener]
    )
    for command in ("plan", "restore"):
        extra = ["--yes"] if command == "restore" else []
        refused(hist, calls, [command, *args, *listener, *extra, *hist.where], fragment)


def test_more_refusals(hist, calls):
    refused(hist, calls, ["restore", "--yes", *hist.where], "give a SNAPSHOT (a path or s3:// URI)")
    refused(hist, calls, ["restore", "--at", "1h", "--yes", *hist.where], "--at needs the listener")
    nowhere = [*AWS, "--stack-name", "nope"]
    refused(
        hist, calls, ["plan", "--listener-arn", hist.listener, "--at", "1h", *nowhere],
        "stack nope not found",
    )  # fmt: skip
    refused(hist, calls, ["history", *hist.where], "give --listener-arn ARN (repeatable) or")
    refused(
        hist, calls, ["history", "--listener-arn", "arn:nope", *hist.where], "is not a listener ARN"
    )
    refused(
        hist, calls, ["history", "--listener-arn", hist.listener, "--since", "soon", *hist.where],
        "--since 'soon' is not a time",
    )  # fmt: skip
    refused(
        hist, calls, ["history", "--listener-arn", hist.listener, "--from", hist.files[0]],
        "is one snapshot file",
    )  # fmt: skip
    refused(
        hist,
        calls,
        ["history", "--load-balancer", "nope", *hist.where],
        "no load balancer named 'nope'",
    )
    refused(
        hist,
        calls,
        ["diff", "0123456789ab", hist.files[0], *hist.where],
        "no snapshot with catalog id",
    )
    refused(hist, calls, ["diff", hist.files[0], "/does/not/exist.json"], "does not exist")


def test_diff_names_moved_rules_and_changed_default_actions(hist, tmp_path):
    world, listener = hist.world, hist.listener
    world.elb.modify_listener(ListenerArn=listener, DefaultActions=[fixed("503")])
    rules = {r["Priority"]: r["RuleArn"] for r in world.rules(listener)}
    world.elb.set_rule_priorities(RulePriorities=[{"RuleArn": rules["30"], "Priority": 35}])
    later = Store(str(tmp_path / "later")).save(build_snapshot(world.state(listener)))
    code, out, err = run("diff", hist.files[2], later.location, "--json")
    assert code == 5, err
    report = json.loads(out)
    assert report["counts"] == {
        "added": 0, "removed": 0, "changed": 0, "moved": 1, "default_actions": 1,
    }  # fmt: skip
    moved = next(c for c in report["changes"] if c["kind"] == "moved")
    assert (moved["old_priority"], moved["priority"]) == (30, 35)
    code, out, _ = run("diff", hist.files[2], later.location)
    assert "1 moved, default actions changed" in out and "priority 30 -> 35" in out
