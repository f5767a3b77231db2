"""Reading a snapshot: the time and peak memory of ``albrules validate``, each run in a fresh
process, for the largest snapshot albrules accepts and for the inputs it must refuse cheaply.

- **The largest accepted**: a genuine snapshot of :data:`~albrules.snapshot_bounds.MAX_RULES`
  rules (50,000: one per priority), each a path condition and a fixed response, with a correct
  checksum, written compactly (JSON without whitespace; YAML block style, leaves in flow style)
  so that it fits the 10 MiB file cap. albrules' own writer is roomier: its bytes per rule are
  measured too, to say how many rules of a simple forward shape fit the cap as it writes them.
- **Refused**: a 10 MiB file of ~1.3 million tiny rules (JSON; ~1.05 million in YAML), and a
  5,000-digit integer. Both must exit 2, the first within issue 11's 10 s and 500 MB.

A run is ``albrules validate FILE`` (the console script in this venv, so interpreter start and
imports are included); its peak memory is its maximum resident set size, read by a small
process of its own that starts it (``RUSAGE_CHILDREN``). The inputs are generated
deterministically in a temporary directory. The generators and :func:`run_measured` are shared
with tests/security/test_endpoint.py.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from albrules.models import Snapshot
from albrules.snapshot import MAX_DOCUMENT_BYTES, dumps, expected_checksum
from albrules.snapshot_bounds import MAX_RULES

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3
HEADING = "## Reading a snapshot: bounded time and memory"
TARGET_SECONDS, TARGET_MB = 10, 500  # issue 11: the 10 MB of tiny rules refused within these
LAMBDA_MB, LAMBDA_SECONDS = 512, 120  # LoadSnapshotFunction in template.yaml (Globals' memory)
RESERVED_APPROVALS = 5  # template.yaml's ApprovalReservedConcurrency default
LONG_DIGITS = 5_000
_DIGITS = "LONG_INTEGER_HERE"

ACCOUNT, REGION = "111122223333", "eu-west-1"
_BALANCER = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/big/50dc6c495c0c9188"
_TARGET_GROUP = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/web/73e2d6bc24d8a067"
HEAD: dict[str, Any] = {
    "schema_version": 1,
    "created_at": "2026-11-01T08:00:00Z",
    "tool_version": "0.1.0",
    "checksum": "0" * 64,
    "source": {
        "account": ACCOUNT,
        "region": REGION,
        "load_balancer_arn": _BALANCER,
        "load_balancer_name": "big",
        "listener_arn": _BALANCER.replace(":loadbalancer/", ":listener/") + "/f2f7dc8efc522ab2",
        "port": 80,
        "protocol": "HTTP",
    },
    "default_actions": [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
}


# --- inputs ------------------------------------------------------------------------------------


def tiny_rules(fmt: str) -> str:
    """Just under 10 MiB of tiny rules (1.3 million in JSON, 1.05 million in YAML): a file the
    size cap lets through, which no listener could hold."""
    if fmt == "json":
        return json.dumps(HEAD)[:-1] + ', "rules": [' + ",".join(['{"p":1}'] * 1_300_000) + "]}"
    return yaml.safe_dump(HEAD) + "rules:\n" + "- {p: 1}\n" * 1_050_000


def small_rule(priority: int) -> dict[str, Any]:
    """A real rule of few bytes: a path condition and a fixed response (new objects each time:
    a YAML writer would write shared ones as aliases, which snapshots refuse)."""
    return {
        "priority": priority,
        "conditions": [
            {"Field": "path-pattern", "PathPatternConfig": {"Values": [f"/s{priority}/*"]}}
        ],
        "actions": copy.deepcopy(HEAD["default_actions"]),
    }


def forward_rule(priority: int) -> dict[str, Any]:
    """A simple rule as backups usually hold them: a path condition forwarding to a group."""
    group = {"TargetGroupArn": _TARGET_GROUP, "Weight": 1}
    return {
        **small_rule(priority),
        "actions": [{"Type": "forward", "Order": 1, "ForwardConfig": {"TargetGroups": [group]}}],
    }


def _sealed(rules: list[dict[str, Any]]) -> dict[str, Any]:
    document = {**copy.deepcopy(HEAD), "rules": rules}
    return {**document, "checksum": expected_checksum(Snapshot.model_validate(document))}


@functools.lru_cache(maxsize=2)
def _small_rules_sealed(rules: int) -> dict[str, Any]:
    return _sealed([small_rule(p) for p in range(1, rules + 1)])


def _compact(document: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(document, separators=(",", ":"))
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump(document, Dumper=dumper, sort_keys=False, default_flow_style=None))


def quota_snapshot(fmt: str, rules: int = MAX_RULES) -> str:
    """A genuine snapshot (valid, checksum correct) of ``rules`` small rules, compact."""
    text = _compact(_small_rules_sealed(rules), fmt)
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{rules} rules take {len(text):,} bytes, over the file cap")
    return text


def long_integer(fmt: str, digits: int = LONG_DIGITS) -> str:
    """A one-rule snapshot whose priority is an integer of ``digits`` digits."""
    document = copy.deepcopy(_small_rules_sealed(1))
    document["rules"][0]["priority"] = _DIGITS
    text = _compact(document, fmt)
    return text.replace(f'"{_DIGITS}"', "9" * digits).replace(_DIGITS, "9" * digits)


def writer_bytes_per_rule(fmt: str, rules: int = 1_000) -> float:
    """Bytes per forward rule in a snapshot as albrules writes it (``snapshot.dumps``)."""

    def written(count: int) -> int:
        snapshot = Snapshot.model_validate(_sealed([forward_rule(p) for p in range(1, count + 1)]))
        return len(dumps(snapshot, "yaml" if fmt == "yaml" else "json"))

    return (written(rules) - written(1)) / (rules - 1)


# --- measuring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float  # the child's maximum resident set size
    code: int
    stderr: str


# Runs the command given as its arguments; prints its wall time, its peak RSS (KiB) and exit
# code. A process of its own, small: a child forked from a large parent would count the
# parent's resident pages as its own peak.
_WRAPPER = """
import resource, sys, time
from subprocess import DEVNULL, TimeoutExpired, run
started = time.monotonic()
try:
    code = run(sys.argv[2:], stdout=DEVNULL, timeout=float(sys.argv[1])).returncode
except TimeoutExpired:
    code = -9
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(time.monotonic() - started, peak, code)
"""


def run_measured(
    argv: list[str], *, timeout: float = 120, env: dict[str, str] | None = None
) -> Run:
    """Run ``argv`` in a fresh process: wall time, its own peak RSS, exit code and standard
    error. Killed after ``timeout`` seconds (exit code -9)."""
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(timeout), *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    seconds, kib, code = done.stdout.split()
    return Run(float(seconds), int(kib) / 1024, int(code), done.stderr)


def validate_argv(path: Path) -> list[str]:
    return [str(Path(sys.executable).parent / "albrules"), "validate", str(path)]


def cli_env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}


def summary(runs: list[Run], expected_code: int) -> dict[str, Any]:
    """The median time and peak memory of runs that all ended with ``expected_code``."""
    codes = {run.code for run in runs}
    if codes != {expected_code}:
        said = next(r.stderr for r in runs if r.code != expected_code).strip()
        raise RuntimeError(f"expected exit {expected_code}, got {sorted(codes)}: {said[:300]}")
    return {
        "seconds": statistics.median(r.seconds for r in runs),
        "peak_mb": statistics.median(r.peak_mb for r in runs),
        "worst_seconds": max(r.seconds for r in runs),
        "worst_mb": max(r.peak_mb for r in runs),
        "said": runs[0].stderr.strip(),
    }


CASES: list[tuple[str, str, str, int]] = [  # (case, format, file, expected exit)
    *((f"floor-{fmt}", fmt, f"one.{fmt}", 0) for fmt in ("json", "yaml")),
    *((f"quota-{fmt}", fmt, f"quota.{fmt}", 0) for fmt in ("json", "yaml")),
    *((f"tiny-{fmt}", fmt, f"tiny.{fmt}", 2) for fmt in ("json", "yaml")),
    *((f"long-{fmt}", fmt, f"long.{fmt}", 2) for fmt in ("json", "yaml")),
]


def write_inputs(folder: Path) -> dict[str, int]:
    """Every case's file under ``folder``; their sizes in bytes."""
    _small_rules_sealed.cache_clear()
    for fmt in ("json", "yaml"):
        (folder / f"one.{fmt}").write_text(quota_snapshot(fmt, 1))
        (folder / f"quota.{fmt}").write_text(quota_snapshot(fmt))
        (folder / f"tiny.{fmt}").write_text(tiny_rules(fmt))
        (folder / f"long.{fmt}").write_text(long_integer(fmt))
    return {f.name: f.stat().st_size for f in folder.iterdir()}


def measure(runs: int = RUNS) -> dict[str, Any]:
    """Every case, ``runs`` times round-robin (a passing load touches all), medians kept."""
    with tempfile.TemporaryDirectory(prefix="albrules-snapshot-reading-") as tmp:
        folder = Path(tmp)
        sizes = write_inputs(folder)
        done: dict[str, list[Run]] = {case: [] for case, *_ in CASES}
        for _ in range(runs):
            for case, _fmt, name, _code in CASES:
                done[case].append(run_measured(validate_argv(folder / name), env=cli_env()))
                print(f"measured {case}: {done[case][-1].seconds:.1f} s", file=sys.stderr)
        results = {case: summary(done[case], code) for case, _f, _n, code in CASES}
        for case, _fmt, name, _code in CASES:
            results[case]["bytes"] = sizes[name]
            results[case]["said"] = results[case]["said"].replace(f"{folder}/", "")
    writer = {fmt: writer_bytes_per_rule(fmt) for fmt in ("json", "yaml")}
    return {"runs": runs, "cases": results, "writer_bytes_per_rule": writer}


# --- the section of docs/benchmarks.md ---------------------------------------------------------

_QUOTAS = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html"
)
_PRIORITY = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateRule.html"
)
_RESERVED = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html"
_LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
_INPUTS = {
    "floor": ("one genuine rule (the floor: starting the CLI)", "valid"),
    "quota": (f"{MAX_RULES:,} genuine rules, the most accepted", "valid"),
    "tiny": ("tiny rules up to the 10 MiB cap", "refused"),
    "long": (f"a {LONG_DIGITS:,}-digit integer as a priority", "refused"),
}
_TINY_RULES = {"json": 1_300_000, "yaml": 1_050_000}


def _held_to(case: str, fmt: str, result: dict[str, Any]) -> str:
    if case == "tiny":
        ok = result["worst_seconds"] < TARGET_SECONDS and result["worst_mb"] < TARGET_MB
        return f"{TARGET_SECONDS} s and {TARGET_MB} MB: {'met' if ok else 'NOT MET'}"
    if case == "quota":
        ok = result["worst_seconds"] < LAMBDA_SECONDS and result["worst_mb"] < LAMBDA_MB
        return f"LoadSnapshotFunction's {LAMBDA_MB} MB, {LAMBDA_SECONDS} s: " + (
            "within" if ok else "OVER (see below)"
        )
    return "exit 2" if case == "long" else "(reference)"


def _size(count: int) -> str:
    return f"{count / 1e6:.2f} MB" if count >= 100_000 else f"{count / 1e3:.1f} kB"


def section(measured: dict[str, Any]) -> list[str]:
    """The benchmark's section: what was run, the table, the limits, the approval function."""
    cases = measured["cases"]
    writer = measured["writer_bytes_per_rule"]
    lines = [
        HEADING,
        "",
        "`albrules validate FILE` (the venv's console script) on generated inputs, each run in a "
        f"fresh process, {measured['runs']} times round-robin; the median wall time (interpreter "
        "start and imports included) and the median of the process's own peak resident memory "
        "(`ru_maxrss`, read by a small process that starts it). The inputs are written "
        "deterministically by `bench/snapshot_reading.py`: the genuine snapshots have a path "
        "condition and a fixed response per rule and a correct checksum, written compactly "
        "(JSON without whitespace, YAML with its leaves in flow style) so that 50,000 rules fit "
        "the 10 MiB file cap. "
        "Run this part alone with `python bench/run.py --only snapshot-reading`.",
        "",
        "| input | format | size | exit | time (median) | peak memory (median) | held to |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for case, fmt, _name, code in CASES:
        kind = case.split("-")[0]
        result = cases[case]
        what = _INPUTS[kind][0]
        if kind == "tiny":
            what = f"{_TINY_RULES[fmt]:,} {what}"
        lines.append(
            f"| {what} | {fmt.upper()} | {_size(result['bytes'])} | {code} | "
            f"{result['seconds']:.2f} s | {result['peak_mb']:.0f} MB | "
            f"{_held_to(kind, fmt, result)} |"
        )
    floor = max(cases["floor-json"]["peak_mb"], cases["floor-yaml"]["peak_mb"])
    tiny = [cases["tiny-json"], cases["tiny-yaml"]]
    fits = {fmt: int(MAX_DOCUMENT_BYTES // per_rule) for fmt, per_rule in writer.items()}
    lines += [
        "",
        f"- **The bound.** More than {MAX_RULES:,} rules is refused before any rule is read "
        f"further: a rule needs its own priority, 1 to 50,000 ([CreateRule]({_PRIORITY})), so "
        "no listener holds more. The quota itself is lower: 100 rules per Application Load "
        f"Balancer, default rules aside, by default, adjustable ([ELB quotas]({_QUOTAS})).",
        f"- **Refusing 10 MB of tiny rules** took at most "
        f"{max(r['worst_seconds'] for r in tiny):.1f} s and {max(r['worst_mb'] for r in tiny):.0f}"
        f" MB over every run, against issue 11's {TARGET_SECONDS} s and {TARGET_MB} MB "
        "(asserted by `tests/security/test_endpoint.py`; before the issue, 2 minutes and 6 GB). "
        f"Starting the CLI alone costs {floor:.0f} MB of that.",
        f"- **A {LONG_DIGITS:,}-digit integer** is exit 2, one sentence naming the field (exit 1 "
        "before the issue): " + f"`{cases['long-json']['said']}`.",
        f"- **The largest accepted snapshot** ({MAX_RULES:,} rules) is read in the restore by "
        f"LoadSnapshotFunction ({LAMBDA_MB} MB, {LAMBDA_SECONDS} s in template.yaml). The CLI's "
        "process measured here imports more than the function (typer, rich), but the parsing "
        "and validation are the same library code; where the table says OVER, a snapshot that "
        "large would likely not be read within the function's memory (not measured on Lambda).",
        f"- **As albrules writes them** (indented JSON, block YAML), a simple forward rule "
        f"takes {writer['json']:.0f} bytes in JSON and {writer['yaml']:.0f} in YAML (measured "
        f"from `snapshot.dumps`), so the 10 MiB file cap holds about {fits['json']:,} such "
        f"rules in JSON ({fits['yaml']:,} in YAML): for listeners of that shape, the file cap "
        f"binds before the {MAX_RULES:,}-rule bound.",
        "",
        "### The approval function's reserved concurrency",
        "",
        f"`ApprovalReservedConcurrency` (default {RESERVED_APPROVALS}) is both the public approval "
        f"function's share of the account's Lambda concurrency and its ceiling: beyond "
        f"{RESERVED_APPROVALS} at once, its URL answers 429 and the restore and rollback "
        "functions keep the rest (`tests/security/test_endpoint.py` floods it during a restore). "
        "Lambda lets functions reserve only the account's unreserved concurrency minus 100: at "
        "least 100 executions always stay unreserved for functions without a reservation "
        f"([Configuring reserved concurrency]({_RESERVED})). So the default needs an account "
        f"concurrency quota of at least {100 + RESERVED_APPROVALS} (the default quota is 1,000 "
        f"per Region, [Lambda quotas]({_LAMBDA_QUOTAS}); new accounts may start lower, and "
        "`ApprovalReservedConcurrency=0` deploys without a reservation).",
        "",
    ]
    return lines
