"""Bounded cost of reading a snapshot (issue 11, section 5): what is refused before validation.

The 10 MB snapshot of tiny rules, timed and measured in its own process, is in
tests/security/test_endpoint.py; here, each limit and its one sentence.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from albrules import snapshot_bounds, snapshot_yaml
from albrules.errors import InvalidInput, SnapshotInvalid
from albrules.snapshot import dumps, loads
from rule_builders import fixed, path

from .test_snapshot_documents import listener_with, snapshot_of


def good_document() -> dict[str, Any]:
    model = listener_with((10, [path("/a")], [fixed()]), (20, [path("/b")], [fixed()]))
    document: dict[str, Any] = json.loads(dumps(snapshot_of(model)))
    return document


def one_sentence(data: bytes, name: str) -> str:
    with pytest.raises(InvalidInput) as excinfo:
        loads(data, name)
    said = str(excinfo.value)
    assert "\n" not in said and not isinstance(excinfo.value, SnapshotInvalid)
    return said


def as_yaml(document: dict[str, Any]) -> bytes:
    return yaml.safe_dump(document, sort_keys=False).encode()


def test_pyyaml_here_has_the_c_loader_and_the_reader_uses_it() -> None:
    assert snapshot_yaml.WITH_C_LOADER and issubclass(
        snapshot_yaml._BoundedLoader, yaml.CSafeLoader
    )


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_more_rules_than_a_listener_can_hold_is_refused_before_validation(fmt: str) -> None:
    document = good_document()
    document["rules"] = [{} for _ in range(snapshot_bounds.MAX_RULES + 1)]  # 3 problems each
    data = json.dumps(document).encode() if fmt == "json" else as_yaml(document)
    said = one_sentence(data, f"s.{fmt}")
    assert "50,000" in said and "rules" in said and said.startswith(f"s.{fmt} has ")


def test_exactly_the_quota_of_rules_is_validated_not_refused() -> None:
    document = good_document()
    document["rules"] = [{}] * snapshot_bounds.MAX_RULES
    with pytest.raises(SnapshotInvalid) as excinfo:
        loads(json.dumps(document).encode(), "s.json")
    assert len(excinfo.value.problems) == snapshot_bounds.MAX_PROBLEMS
    assert excinfo.value.more == 3 * snapshot_bounds.MAX_RULES - snapshot_bounds.MAX_PROBLEMS
    assert "(150,000 problems)" in str(excinfo.value)


def test_problems_stop_at_100_and_the_rest_are_counted() -> None:
    document = good_document()
    document["rules"] = [{"priority": 0, "conditions": [], "actions": []}] * 60
    with pytest.raises(SnapshotInvalid) as excinfo:
        loads(json.dumps(document).encode(), "s.json")
    err = excinfo.value
    assert len(err.problems) == 100 and err.more > 0
    assert str(err.problems[0]).startswith("rules[0].")


def test_the_cli_says_and_n_more(tmp_path: Any) -> None:
    from cli_runs import cli

    document = good_document()
    document["rules"] = [{}] * 200
    target = tmp_path / "s.json"
    target.write_text(json.dumps(document))
    code, _, err = cli("validate", str(target))
    assert code == 2
    assert "(600 problems)" in err and "and 500 more" in err
    assert err.count("missing required field") == 100


def test_a_rule_of_a_million_values_is_refused_before_validation() -> None:
    document = good_document()
    document["rules"][1]["tags"] = {f"k{i}": "v" for i in range(5_000)}
    for data, name in ((json.dumps(document).encode(), "s.json"), (as_yaml(document), "s.yaml")):
        said = one_sentence(data, name)
        assert "rules[1] holds more than 1,000 values" in said


@pytest.mark.parametrize(
    ("fmt", "literal", "words"),
    [
        ("json", "9" * 5000, "rules[0].priority holds a number too long"),
        ("json", "-" + "9" * 5000, "rules[0].priority holds a number too long"),
        ("json", "NaN", "rules[0].priority holds NaN, which is not a number"),
        ("json", "-Infinity", "rules[0].priority holds -Infinity, which is not a finite"),
        ("json", "1e999", "rules[0].priority holds a number too large"),
        ("yaml", "9" * 5000, "rules[0].priority holds a number too long"),
        ("yaml", "0x" + "f" * 5000, "rules[0].priority holds a number too"),
        ("yaml", "0b" + "1" * 20000, "rules[0].priority holds a number too"),
        ("yaml", ".nan", "rules[0].priority holds .nan, which is not a number"),
        ("yaml", "-.inf", "rules[0].priority holds -.inf, which is not a finite number"),
        ("yaml", "1.0e+999", "rules[0].priority holds a number too large"),
    ],
)
def test_a_malformed_number_is_one_sentence_naming_its_field(
    fmt: str, literal: str, words: str
) -> None:
    document = good_document()
    document["rules"][0]["priority"] = 424242
    text = json.dumps(document) if fmt == "json" else as_yaml(document).decode()
    text = text.replace("424242", literal)
    said = one_sentence(text.encode(), f"s.{fmt}")
    assert words in said and said.startswith(f"s.{fmt}: ")
    assert len(said) < 300


def test_a_malformed_number_in_schema_version_or_a_key_is_named_too() -> None:
    huge = "0x" + "f" * 5000
    text = as_yaml(good_document()).decode()
    said = one_sentence(
        text.replace("schema_version: 2", f"schema_version: {huge}").encode(), "s.yaml"
    )
    assert "schema_version holds a number too" in said
    text = text.replace("tool_version:", f"? {huge}\n: 1\ntool_version:")
    assert "a top-level key holds a number too" in one_sentence(text.encode(), "s.yaml")


def test_a_fraction_where_an_integer_belongs_is_a_problem_naming_the_field() -> None:
    document = good_document()
    document["rules"][0]["priority"] = 10.5
    with pytest.raises(SnapshotInvalid) as excinfo:
        loads(json.dumps(document).encode(), "s.json")
    assert [p.path for p in excinfo.value.problems] == ["rules[0].priority"]


def test_yaml_aliases_are_refused_by_the_event_scan_before_composing() -> None:
    bomb = b'a: &a ["x","x"]\nb: &b [*a,*a]\nc: &c [*b,*b]\nrules: [*c]\n'
    said = one_sentence(bomb, "s.yaml")
    assert "YAML aliases are not allowed in a snapshot" in said and "line 2" in said


def test_many_duplicate_priorities_are_one_pass_and_short() -> None:
    document = good_document()
    rule = document["rules"][0]
    document["rules"] = [rule] * 2_000
    with pytest.raises(SnapshotInvalid) as excinfo:
        loads(json.dumps(document).encode(), "s.json")
    (problem,) = [p for p in excinfo.value.problems if "is used" in p.message]
    assert "priority 10 is used 2000 times" in problem.message and "and 1,995 more" in str(problem)


def test_a_valid_snapshot_still_reads_from_json_and_yaml() -> None:
    document = good_document()
    assert len(loads(json.dumps(document).encode(), "s.json").rules) == 2
    assert len(loads(as_yaml(document), "s.yaml").rules) == 2
