"""The snapshot-reading benchmark's inputs are what it says they are (bench/snapshot_reading.py,
also the attack suite's): genuine snapshots that validate, refusals that refuse for the reason
named, the same bytes every time; and its section replaces only itself in docs/benchmarks.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from albrules.errors import InvalidInput
from albrules.snapshot import MAX_DOCUMENT_BYTES, loads

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import snapshot_reading  # noqa: E402
from sections import replace_section  # noqa: E402


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_a_generated_snapshot_is_genuine_and_deterministic(fmt: str) -> None:
    text = snapshot_reading.quota_snapshot(fmt, 30)
    snapshot = loads(text.encode(), f"gen.{fmt}", fmt)  # type: ignore[arg-type]
    assert [r.priority for r in snapshot.rules] == list(range(1, 31))
    assert snapshot_reading.quota_snapshot(fmt, 30) == text


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_the_quotas_worth_fits_the_file_cap(fmt: str) -> None:
    rules = snapshot_reading.MAX_RULES
    per_rule = len(snapshot_reading.quota_snapshot(fmt, 200)) / 200
    assert per_rule * rules < MAX_DOCUMENT_BYTES * 0.95  # room for the digits of 50,000


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_the_long_integer_is_refused_as_one(fmt: str) -> None:
    text = snapshot_reading.long_integer(fmt)
    assert "9" * snapshot_reading.LONG_DIGITS in text
    with pytest.raises(InvalidInput, match=r"rules\[0\]\.priority .*5,000 digits"):
        loads(text.encode(), f"long.{fmt}", fmt)  # type: ignore[arg-type]


@pytest.mark.parametrize(("fmt", "rules"), [("json", 1_300_000), ("yaml", 1_050_000)])
def test_the_tiny_rules_fill_the_file_cap(fmt: str, rules: int) -> None:
    text = snapshot_reading.tiny_rules(fmt)  # refused by the CLI: tests/security/test_endpoint
    assert 9.4e6 < len(text) <= MAX_DOCUMENT_BYTES
    assert text.count("{p: 1}" if fmt == "yaml" else '{"p":1}') == rules


def test_its_section_replaces_only_itself() -> None:
    heading = snapshot_reading.HEADING
    old = f"# B\n\n## A\n\na\n\n{heading}\n\nold\n\n### sub\n\nx\n\n## Notes\n\n- n\n"
    new = replace_section(old, heading, [heading, "", "new", ""])
    assert new == f"# B\n\n## A\n\na\n\n{heading}\n\nnew\n\n## Notes\n\n- n\n"
    assert replace_section(new, heading, [heading, "", "new", ""]) == new
    absent = replace_section("# B\n\n## Notes\n", heading, [heading, ""])
    assert absent == f"# B\n\n{heading}\n\n## Notes\n"


def test_a_summary_refuses_an_unexpected_exit() -> None:
    runs = [snapshot_reading.Run(1.0, 50.0, 2, ""), snapshot_reading.Run(3.0, 70.0, 2, "")]
    assert snapshot_reading.summary(runs, 2)["seconds"] == 2.0
    assert snapshot_reading.summary(runs, 2)["worst_mb"] == 70.0
    with pytest.raises(RuntimeError, match="expected exit 0"):
        snapshot_reading.summary([*runs, snapshot_reading.Run(1.0, 1.0, 1, "error: x")], 0)
