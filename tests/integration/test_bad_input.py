"""The bad-input corpus: each file gives exit 2, one clear message, and no mutating call."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from albrules.cli import app
from corpus_cases import CASES, CORPUS
from rule_builders import forward, path


@pytest.fixture
def target(world):
    """A real listener with rules, so 'no change' can be checked."""
    listener = world.listener(world.load_balancer())
    world.rule(listener, 10, [path("/api/*")], [forward(world.target_group("api"))])
    return listener


def run(args: list[str]):
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.stdout + result.stderr


def check_refused(code: int, output: str, fragments: list[str], calls, before, world, target):
    assert code == 2, output
    for fragment in fragments:
        assert fragment in output, output
    assert "Traceback" not in output
    assert output.strip().startswith("error:") or "\nerror:" in output
    assert calls.mutating == []
    assert world.state(target) == before


@pytest.mark.parametrize(("name", "fragments"), CASES, ids=[c[0] for c in CASES])
def test_corpus_file_is_refused_before_any_change(name, fragments, world, target, calls):
    before = world.state(target)
    for command in (["validate"], ["restore", "--yes", "--target-listener-arn", target]):
        code, output = run([command[0], str(CORPUS / name), *command[1:]])
        check_refused(code, output, fragments, calls, before, world, target)


def test_snapshot_of_another_listener_needs_target_listener_arn(world, target, calls):
    before = world.state(target)
    code, output = run(
        ["restore", str(CORPUS / "valid_other_listener.json"), "--listener-arn", target, "--yes"]
    )
    check_refused(
        code, output, [f"pass --target-listener-arn {target}"], calls, before, world, target
    )


def test_missing_target_group_is_named_with_its_path(world, target, calls):
    before = world.state(target)
    code, output = run(
        [
            "restore",
            str(CORPUS / "missing_target_group.yaml"),
            "--target-listener-arn",
            target,
            "--yes",
        ]
    )
    check_refused(
        code,
        output,
        [
            "rules[0].actions[0].ForwardConfig.TargetGroups[0]: target group gone-tg",
            "does not exist in account 123456789012, region us-east-1",
            "--map-target-groups-by-name",
        ],
        calls,
        before,
        world,
        target,
    )
    code, output = run(
        [
            "restore",
            str(CORPUS / "missing_target_group.yaml"),
            "--target-listener-arn",
            target,
            "--map-target-groups-by-name",
            "--yes",
        ]
    )
    check_refused(code, output, ["no target group named 'gone-tg'"], calls, before, world, target)


def test_a_20_mb_file_is_refused(tmp_path, world, target, calls):
    big = tmp_path / "big.json"
    with open(big, "wb") as out:
        out.write(
            b'{"schema_version": 1, "rules": ['
            + b'{"priority": 1},' * (20 * 1024 * 1024 // 16)
            + b"]}"
        )
    before = world.state(target)
    code, output = run(["restore", str(big), "--target-listener-arn", target, "--yes"])
    check_refused(code, output, ["MiB; a snapshot is at most 10 MiB"], calls, before, world, target)


def test_binary_garbage_is_refused(tmp_path, world, target, calls):
    garbage = tmp_path / "snapshot.json"
    garbage.write_bytes(os.urandom(4096) + b"\xff\xfe\x00")
    before = world.state(target)
    code, output = run(["restore", str(garbage), "--target-listener-arn", target, "--yes"])
    check_refused(code, output, ["is not a text file"], calls, before, world, target)


def test_a_missing_file_and_a_directory_are_refused(tmp_path, world, target, calls):
    before = world.state(target)
    code, output = run(["restore", str(tmp_path / "nope.json"), "--yes"])
    check_refused(code, output, ["does not exist; check the path"], calls, before, world, target)
    code, output = run(["show", str(tmp_path)])
    check_refused(code, output, ["is a directory"], calls, before, world, target)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--mode", "full", "--priority", "3"], "drop them for a full restore"),
        (["--mode", "selective"], "needs at least one --priority"),
        (["--match", "cookie=a"], "is not FIELD=VALUE"),
        (["--priority", "0"], "--priority 0 is outside 1..50000"),
        (["--oidc-secret", "abc"], "must be CLIENT_ID=SECRET_ARN"),
        (["--mode", "partial"], "--mode must be full or selective"),
    ],
)
def test_bad_options_are_refused(args, fragment, world, target, calls, tmp_path):
    from albrules.snapshot import build_snapshot, dumps

    snapshot = tmp_path / "s.json"
    snapshot.write_bytes(dumps(build_snapshot(world.state(target))))
    before = world.state(target)
    code, output = run(["restore", str(snapshot), "--yes", *args])
    check_refused(code, output, [fragment], calls, before, world, target)


def test_unknown_listener_is_refused(world, target, calls, tmp_path):
    from albrules.snapshot import build_snapshot, dumps

    snapshot = tmp_path / "s.json"
    snapshot.write_bytes(dumps(build_snapshot(world.state(target))))
    ghost = target[:-16] + "0123456789abcdef"
    before = world.state(target)
    code, output = run(["restore", str(snapshot), "--target-listener-arn", ghost, "--yes"])
    check_refused(code, output, [f"listener {ghost} does not exist"], calls, before, world, target)
