"""The Lambda package: the layer's size and the time to import each function's handler.

The layer is built by the Makefile's own ``build-EngineLayer`` target (what ``sam build`` runs),
for this machine's platform so it can be imported here (the deployed one is the same list of
packages for aarch64). Each ``functions/<task>/app.py`` is then imported in a fresh Python 3.13
with only the function's folder and the layer on its path (``-S``: no site-packages), as the
Lambda runtime would at a cold start; the median of several runs is kept, with the breakdown
by top-level package of the slowest function from ``-X importtime``.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNS = 7
_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def python313() -> str | None:
    """Python 3.13 (the Lambda runtime's): on PATH, else pyenv's, as the Makefile finds it."""
    found = subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", str(ROOT), "print-py313"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{found}/bin/python3.13" if found else None


def build_layer(out: Path) -> Path:
    """The layer for this machine's platform, built by ``make build-EngineLayer``."""
    arch = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}[platform.machine()]
    subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "-C",
            str(ROOT),
            "build-EngineLayer",
            f"ARTIFACTS_DIR={out}",
            f"LAYER_PLATFORM=manylinux2014_{arch}",
        ],
        check=True,
    )
    return out / "python"


def size_of(folder: Path) -> int:
    """Bytes of the files under ``folder`` (unpacked)."""
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def sizes_by_package(folder: Path, top: int = 8) -> list[tuple[str, int]]:
    sizes = Counter[str]()
    for entry in folder.iterdir():
        name = entry.name.split("-")[0] if entry.name.endswith(".dist-info") else entry.name
        size = size_of(entry) if entry.is_dir() else entry.stat().st_size
        sizes[name.removesuffix(".py")] += size
    return sizes.most_common(top)


# What every function imports before any code of ours: the SDK, pydantic and Powertools' logger
# and metrics. The handlers' import time cannot go below this on the same machine.
FLOOR = "import boto3, pydantic; from aws_lambda_powertools import Logger, Metrics"


def _import_once(
    py: str, function: Path, layer: Path, statement: str = "import app", trace: bool = False
) -> tuple[float, str]:
    """Seconds to run ``statement`` in a fresh interpreter (and ``-X importtime``'s trace, in
    a run of its own: tracing slows the import it measures)."""
    code = (
        "import sys, time; sys.path[:0] = [sys.argv[1], sys.argv[2]]; t = time.perf_counter(); "
        f"{statement}; print(time.perf_counter() - t)"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": f"albrules-{function.name}",
        "POWERTOOLS_SERVICE_NAME": "albrules",
        "POWERTOOLS_METRICS_NAMESPACE": "albrules",
    }
    done = subprocess.run(
        [py, "-S", *(["-X", "importtime"] if trace else []), "-c", code, str(function), str(layer)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1]), done.stderr


def breakdown(importtime: str, top: int = 8) -> list[tuple[str, float]]:
    """Milliseconds of import by top-level package (self times summed)."""
    spent = Counter[str]()
    for match in _IMPORTTIME.finditer(importtime):
        spent[match[4].split(".")[0]] += int(match[1]) / 1000
    return [(name, round(ms, 1)) for name, ms in spent.most_common(top)]


def measure(py: str, layer: Path, functions: list[Path]) -> dict[str, Any]:
    """Median import time of each function's handler module, and the slowest's breakdown."""
    for function in functions:  # one warm-up each: the page cache, and any bytecode to write
        _import_once(py, function, layer)
    runs: dict[str, list[float]] = {f.name: [] for f in functions}
    floor: list[float] = []
    for _ in range(RUNS):  # round-robin, so a passing load on the machine touches every function
        for function in functions:
            runs[function.name].append(_import_once(py, function, layer)[0])
        floor.append(_import_once(py, functions[0], layer, FLOOR)[0])
    times = {name: statistics.median(done) * 1000 for name, done in runs.items()}
    slowest = max(times, key=lambda name: times[name])
    slowest_function = next(f for f in functions if f.name == slowest)
    slowest_trace = _import_once(py, slowest_function, layer, trace=True)[1]
    return {
        "times_ms": {k: round(v, 1) for k, v in sorted(times.items())},
        "fastest_ms": {k: round(min(v) * 1000, 1) for k, v in sorted(runs.items())},
        "floor_ms": round(statistics.median(floor) * 1000, 1),
        "slowest": slowest,
        "breakdown": breakdown(slowest_trace),
    }


def run() -> dict[str, Any] | None:
    """Build the layer, measure it; None when no Python 3.13 is to be found."""
    py = python313()
    if py is None:
        return None
    functions = sorted(p.parent for p in (ROOT / "functions").glob("*/app.py"))
    with tempfile.TemporaryDirectory(prefix="albrules-layer-") as tmp:
        layer = build_layer(Path(tmp))
        result = measure(py, layer, functions)
        result["layer_bytes"] = size_of(layer)
        result["layer_packages"] = sizes_by_package(layer)
    result["python"] = subprocess.run(
        [py, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
