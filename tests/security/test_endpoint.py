"""Attacks on the public endpoint and on the snapshot reader (issue 11, section 5).

- A flood of bad tokens (malformed, over-long, expired, forged) at the approval function's URL
  while a restore runs: the restore completes (its functions are never throttled), the flood
  is throttled with 429s beyond the function's reserved concurrency (the template's default,
  5), and its requests make no AWS call (a forged but well-formed one costs at most the
  signing key, once per refresh interval, cached across invocations).
- A 10 MB snapshot of 1.3 million tiny rules is refused by the CLI in under 10 seconds and
  500 MB, measured in a process of its own: exit 2, one sentence, nothing read further. The
  file and the measuring are bench/snapshot_reading.py's (``make bench`` reports the figures).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.client import BaseClient
from botocore.config import Config
from werkzeug.test import Client

from albrules import approval
from albrules.local import lambdas
from albrules.local.function_urls import PREFIX, FunctionUrls
from albrules.snapshot import MAX_DOCUMENT_BYTES
from albrules.tasks.settings import KEY_REFRESH_SECONDS
from local_world import REGION
from security.people import catalog
from stack import Stack, break_listener, checksum, shop

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import snapshot_reading  # noqa: E402  (bench/: the inputs and the measuring, shared with it)

RESERVED = 5  # template.yaml's default ApprovalReservedConcurrency


class CallsBy:
    """Every AWS call made inside an invocation of a function, by function name."""

    def __init__(self) -> None:
        self.made: Counter[tuple[str, str, str]] = Counter()
        self.lock = threading.Lock()

    def __call__(self, client: Any, operation: str) -> None:
        name = lambdas.function_environment().get("AWS_LAMBDA_FUNCTION_NAME")
        if name:
            with self.lock:
                self.made[(name, client.meta.service_model.endpoint_prefix, operation)] += 1

    def of(self, function: str) -> Counter[tuple[str, str]]:
        with self.lock:
            return Counter({(s, o): n for (f, s, o), n in self.made.items() if f == function})


@pytest.fixture
def calls_by(monkeypatch: pytest.MonkeyPatch) -> CallsBy:
    recorder = CallsBy()
    original = BaseClient._make_api_call

    def record(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        recorder(self, operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    return recorder


def bad_tokens(execution_arn: str) -> dict[str, list[str]]:
    nonce = approval.new_nonce()
    later, past = int(time.time()) + 3600, 1
    forged = [
        approval.sign(
            f"guess {i}".encode(), approval.LinkClaim(execution_arn, "approve", nonce, later)
        )
        for i in range(60)
    ]
    expired = [
        approval.sign(
            f"guess {i}".encode(), approval.LinkClaim(execution_arn, "approve", nonce, past)
        )
        for i in range(60)
    ]
    malformed = [
        "",
        "x" * 100_000,  # over-long
        "not.a.token",
        "A" * 900 + "." + "B" * 43,
        approval._b64(b'{"e":"<script>","d":"approve","n":"n","x":9999999999}') + "." + "B" * 43,
        *(f"{i}.{'Z' * 43}" for i in range(60)),
    ]
    return {"forged": forged, "expired": expired, "malformed": malformed}


def flood(stack: Stack, function: str, tokens: list[str]) -> list[int]:
    """Each token at the function's URL, as a link (GET) and as the page's form (POST), from
    40 clients at once; the HTTP statuses."""
    urls = FunctionUrls(
        lambda region: stack.session.client(
            "lambda", region_name=region, config=Config(retries={"total_max_attempts": 1})
        )
    )

    def one(item: tuple[int, str]) -> int:
        i, token = item
        client = Client(urls)
        where = f"{PREFIX}{REGION}/{function}/"
        environ = {"REMOTE_ADDR": f"198.51.100.{i % 250}"}
        if i % 2:
            return int(client.get(where, query_string={"token": token}, environ_base=environ)
                       .status_code)  # fmt: skip
        form = urlencode({"token": token, "decision": "approve"})
        return int(
            client.post(
                where,
                data=form,
                content_type="application/x-www-form-urlencoded",
                environ_base=environ,
            ).status_code
        )

    with ThreadPoolExecutor(max_workers=40) as pool:
        return list(pool.map(one, enumerate(tokens * 2)))


def approve_when_asked(stack: Stack, execution_arn: str, stop: threading.Event) -> None:
    """Under an approval policy that makes this restore wait, approve it as another person."""
    while not stop.is_set():
        record = catalog(stack).approval(execution_arn)
        if record and record.get("status") == "pending":
            from security.people import approve_as_other

            approve_as_other(stack, execution_arn)
            return
        time.sleep(0.05)


def test_a_flood_of_bad_tokens_leaves_the_restore_functions_unaffected(
    stack: Stack, calls_by: CallsBy
) -> None:
    function = stack.deployment.physical_id("ApprovalFunction")
    lam = stack.session.client("lambda")
    assert (
        lam.get_function_concurrency(FunctionName=function)["ReservedConcurrentExecutions"]
        == RESERVED
    )
    function_arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    listener = shop(stack)
    stack.run("backup", stack.backup_targets())
    wanted = checksum(stack, listener)
    break_listener(stack, listener)
    snapshot = sorted(stack.keys("snapshots/"))[-1]

    # Each invocation takes 20 ms (as a warm function with its network calls would), so that
    # 40 clients at once really do exceed the reservation; the most running at once is kept.
    most = [0]

    def slow(event: Any, context: Any) -> None:
        most[0] = max(most[0], lambdas.in_flight(function_arn))
        time.sleep(0.02)

    lambdas.before_invoke(function, slow)
    execution = stack.start("restore", {"snapshot": snapshot})
    stop = threading.Event()
    approver = threading.Thread(target=approve_when_asked, args=(stack, execution, stop))
    approver.start()
    tokens = bad_tokens(execution)
    try:
        statuses: dict[str, list[int]] = {}
        started = time.monotonic()
        for kind in ("malformed", "expired"):
            statuses[kind] = flood(stack, function, tokens[kind])
        refused_without_the_key = calls_by.of(function)
        statuses["forged"] = flood(stack, function, tokens["forged"])
        elapsed = time.monotonic() - started
        result = stack.finish("restore", execution, timeout=120)
    finally:
        stop.set()
        approver.join(30)
        lambdas.clear_hooks()

    # The restore was not starved: it completed, none of its functions was ever throttled.
    assert result.status == "SUCCEEDED", result.cause
    assert checksum(stack, listener) == wanted
    errors = [
        str((e.get("taskFailedEventDetails") or {}).get("error", ""))
        for e in stack.history(execution)
    ]
    assert not [e for e in errors if "TooManyRequests" in e]

    # The flood was refused (403; 405 for a POST, since the page decides nothing; 413 for a
    # form over 16 KB) or throttled (429), never more than the reservation at once.
    every = [s for kind in statuses.values() for s in kind]
    assert set(every) <= {403, 405, 413, 429}, Counter(every)
    assert Counter(every)[429] > 0 and Counter(every)[403] > 0
    assert most[0] <= RESERVED

    # Malformed and expired tokens made no AWS call at all; forged ones at most the key's fetch:
    # cached across invocations, fetched again at most once per refresh interval, by each of
    # the at most RESERVED execution environments (here, invocations starting together).
    assert refused_without_the_key == Counter()
    forged_calls = calls_by.of(function)
    assert set(forged_calls) <= {("secretsmanager", "GetSecretValue")}, forged_calls
    fetches = forged_calls[("secretsmanager", "GetSecretValue")]
    assert fetches <= RESERVED * (1 + elapsed / KEY_REFRESH_SECONDS), fetches


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_the_10_mb_snapshot_of_tiny_rules_is_refused_in_under_10_s_and_500_mb(
    tmp_path: Path, fmt: str
) -> None:
    snapshot = tmp_path / f"tiny.{fmt}"
    snapshot.write_text(snapshot_reading.tiny_rules(fmt))
    assert 9.4e6 < snapshot.stat().st_size <= MAX_DOCUMENT_BYTES
    run = snapshot_reading.run_measured(
        snapshot_reading.validate_argv(snapshot), env=snapshot_reading.cli_env()
    )
    assert run.code == 2
    message = " ".join(run.stderr.splitlines()).strip()
    assert message.startswith("error: ") and "50,000" in message, message
    assert message.count(". ") == 0 and "Traceback" not in run.stderr
    assert run.seconds < 10, f"{run.seconds:.1f} s"
    assert run.peak_mb < 500, f"{run.peak_mb:.0f} MB"
