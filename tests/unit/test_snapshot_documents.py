"""Snapshot documents (snapshot.py): build, checksum, JSON and YAML, and reading bad input.

Everything here is pure: listeners come from the ELBv2 model or are literal, files are bytes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from albrules.errors import InvalidInput, SnapshotInvalid
from albrules.models import Snapshot
from albrules.snapshot import (
    MAX_DOCUMENT_BYTES,
    build_snapshot,
    canonicalize,
    content_checksum,
    dumps,
    expected_checksum,
    format_for,
    loads,
    parse_document,
    snapshot_from_data,
    to_document,
)
from corpus_cases import CASES, CORPUS
from rule_builders import fixed, forward, header, host, path, redirect

from .elbv2_model import Elbv2Model, capture_state
from .strategies import GROUPS, TG_PREFIX


def listener_with(*rules: tuple, **options: object) -> Elbv2Model:
    model = Elbv2Model(**options)  # type: ignore[arg-type]
    for priority, conditions, actions, *rest in rules:
        kwargs = {
            "ListenerArn": model.listener_arn,
            "Priority": priority,
            "Conditions": conditions,
            "Actions": actions,
        }
        if rest and rest[0]:
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in rest[0].items()]
        if len(rest) > 1:
            kwargs["Transforms"] = rest[1]
        model.create_rule(**kwargs)
    return model


def snapshot_of(model: Elbv2Model, **kwargs: object) -> Snapshot:
    return build_snapshot(capture_state(model, model.listener_arn), **kwargs)  # type: ignore[arg-type]


def refusal(data: bytes, name: str) -> str:
    """Everything a refusal says: its sentence and each problem."""
    with pytest.raises(InvalidInput) as excinfo:
        loads(data, name)
    problems = getattr(excinfo.value, "problems", [])
    return "\n".join([str(excinfo.value), *(str(p) for p in problems)])


# --- the same assertions as tests/test_snapshot.py, on the model ---------------------------------


def test_two_captures_of_the_same_routing_have_the_same_checksum() -> None:
    model = listener_with(
        (
            20,
            [path("/b/*"), header("X-Env", "prod", "canary")],
            [forward((GROUPS[0], 2))],
            {"team": "a"},
        ),
        (10, [host("a.example.com")], [redirect(Host="b.example.com")]),
    )
    first = snapshot_of(model)
    second = snapshot_of(model)
    assert first.checksum == second.checksum
    assert [r.priority for r in first.rules] == [10, 20]
    as_yaml, as_json = loads(dumps(first, "yaml"), "s.yaml"), loads(dumps(first, "json"), "s.json")
    assert as_yaml == as_json == first


def test_snapshot_records_everything_a_restore_needs() -> None:
    transforms = [
        {
            "Type": "url-rewrite",
            "UrlRewriteConfig": {"Rewrites": [{"Regex": "^/a", "Replace": "/"}]},
        }
    ]
    default_group = f"{TG_PREFIX}/default/3123456789abcdef"
    b_group = f"{TG_PREFIX}/b/4123456789abcdef"
    app_group = f"{TG_PREFIX}/app/5123456789abcdef"
    model = listener_with(
        (
            5,
            [path("/a*")],
            [forward((app_group, 3), (b_group, 1), sticky=60)],
            {"owner": "x"},
            transforms,
        ),
        name="shop",
        port=8080,
        default_actions=[forward(default_group)],
    )
    document = json.loads(dumps(snapshot_of(model)))
    assert document["schema_version"] == 2
    assert document["listener"] == {
        "protocol": "HTTP",
        "port": 8080,
        "certificates": [],
        "attributes": {},
        "tags": {},
        "default_rule_tags": {},
    }
    assert document["source"]["listener_arn"] == model.listener_arn
    assert document["source"]["load_balancer_name"] == "shop"
    assert document["source"]["port"] == 8080
    assert (
        document["default_actions"][0]["ForwardConfig"]["TargetGroups"][0]["TargetGroupName"]
        == "default"
    )
    rule = document["rules"][0]
    assert rule["transforms"] == transforms
    assert rule["tags"] == {"owner": "x"}
    groups = rule["actions"][0]["ForwardConfig"]["TargetGroups"]
    assert {g["TargetGroupName"]: g.get("Weight", 1) for g in groups} == {"app": 3, "b": 1}
    assert rule["actions"][0]["ForwardConfig"]["TargetGroupStickinessConfig"] == {
        "Enabled": True,
        "DurationSeconds": 60,
    }
    assert "arn" not in rule and "RuleArn" not in json.dumps(document)


# --- the checksum ---------------------------------------------------------------------------------


def test_the_checksum_ignores_when_and_by_which_version_and_covers_the_routing() -> None:
    model = listener_with((10, [path("/a")], [fixed()]))
    early = snapshot_of(model, created_at=datetime(2026, 1, 1, tzinfo=UTC))
    late = snapshot_of(model, created_at=datetime(2026, 6, 1, 12, 30, tzinfo=UTC))
    assert early.checksum == late.checksum
    assert late.model_copy(update={"tool_version": "9.9.9"}).checksum == early.checksum
    model.modify_rule(RuleArn=model.listener_rules()[0].arn, Actions=[fixed("503")])
    assert snapshot_of(model).checksum != early.checksum
    assert early.checksum == expected_checksum(early)
    assert early.checksum == content_checksum(json.loads(dumps(early)))


def test_a_changed_document_fails_its_checksum() -> None:
    snapshot = snapshot_of(listener_with((10, [path("/a")], [fixed()])))
    document = json.loads(dumps(snapshot))
    document["rules"][0]["actions"][0]["FixedResponseConfig"]["StatusCode"] = "503"
    with pytest.raises(SnapshotInvalid) as excinfo:
        snapshot_from_data(document, "s.json")
    assert [str(p) for p in excinfo.value.problems] == [
        "checksum: does not match the content: the document was changed after it was written"
    ]


def test_a_document_in_another_but_equal_form_reads_as_the_same_snapshot() -> None:
    snapshot = snapshot_of(listener_with((10, [path("/b", "/a")], [forward(GROUPS[0])])))
    document = json.loads(dumps(snapshot))
    rule = document["rules"][0]
    rule["conditions"][0]["PathPatternConfig"]["Values"].reverse()  # a set: order is no content
    rule["actions"][0]["ForwardConfig"]["TargetGroups"][0]["Weight"] = 1  # the default weight
    assert loads(json.dumps(document).encode(), "s.json") == snapshot
    assert canonicalize(snapshot) == snapshot


def test_the_document_puts_metadata_first() -> None:
    document = to_document(snapshot_of(listener_with()))
    assert list(document) == [
        "schema_version",
        "created_at",
        "tool_version",
        "checksum",
        "source",
        "listener",
        "default_actions",
        "rules",
    ]
    assert document["created_at"].endswith("Z")


# --- bad input ------------------------------------------------------------------------------------


# The corpus's cases (tests/corpus_cases.py), read without the CLI or AWS.
@pytest.mark.parametrize(("name", "fragments"), CASES, ids=[c[0] for c in CASES])
def test_each_corpus_file_is_refused_with_its_problem(name: str, fragments: list[str]) -> None:
    said = refusal((CORPUS / name).read_bytes(), name)
    for fragment in fragments:
        assert fragment in said, said


def test_the_valid_corpus_file_reads() -> None:
    snapshot = loads((CORPUS / "valid_other_listener.json").read_bytes(), "v.json")
    assert snapshot.source.load_balancer_name == "prod-web"
    assert [r.priority for r in snapshot.rules] == [10, 20]


def test_an_oversized_document_is_refused_before_it_is_parsed() -> None:
    data = (
        b'{"schema_version": 1, "rules": ['
        + b'{"priority": 1},' * (MAX_DOCUMENT_BYTES // 16)
        + b"]}"
    )
    assert len(data) > MAX_DOCUMENT_BYTES
    with pytest.raises(InvalidInput, match=r"MiB; a snapshot is at most 10 MiB"):
        parse_document(data, "big.json")


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"\xff\xfe\x00garbage", "s.json", "is not a text file (not UTF-8)"),
        (b'{"a": "\x00"}', "s.json", "is binary, not a JSON or YAML snapshot"),
        (
            b'{"a": ' + b"[" * 3_000 + b"]" * 3_000 + b"}",
            "s.json",
            "is nested too deeply to be a snapshot",
        ),
        (b"a:\n" + b"- " * 5000 + b"x", "s.yaml", "is nested too deeply to be a snapshot"),
        (b'{"a": 1,}', "s.json", "is not valid JSON: line 1, column 9"),
        (b"a: [1, 2", "s.yaml", "is not valid YAML: line 2, column 1"),  # libyaml: at the end
    ],
)
def test_unreadable_input_is_one_clear_sentence(data: bytes, name: str, words: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse_document(data, name)
    assert words in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


def test_a_byte_order_mark_and_a_format_by_content_are_accepted() -> None:
    snapshot = snapshot_of(listener_with((10, [path("/a")], [fixed()])))
    assert loads(b"\xef\xbb\xbf" + dumps(snapshot, "json"), "no-extension") == snapshot
    assert loads(dumps(snapshot, "yaml"), "no-extension") == snapshot
    assert format_for("x.YML") == "yaml" and format_for("x.json") == "json"
    assert format_for("x") is None and format_for("x.json", "yaml") == "yaml"
    with pytest.raises(InvalidInput, match="--format must be json or yaml"):
        format_for("x", "xml")


def test_a_huge_priority_is_a_range_problem_not_a_crash() -> None:
    document = json.loads(dumps(snapshot_of(listener_with((10, [path("/a")], [fixed()])))))
    document["rules"][0]["priority"] = 10**40
    said = refusal(json.dumps(document).encode(), "s.json")
    assert f"rules[0].priority: priority {10**40} is outside 1..50000" in said


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b'{"schema_version": 1, "rules": [{"priority": ' + b"9" * 5000 + b"}]}", "s.json"),
        (b"schema_version: 1\nrules:\n- priority: " + b"9" * 5000 + b"\n", "s.yaml"),
    ],
)
def test_an_integer_too_long_to_convert_is_invalid_input(data: bytes, name: str) -> None:
    with pytest.raises(InvalidInput, match="number too long"):
        parse_document(data, name)
