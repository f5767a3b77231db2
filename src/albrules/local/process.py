"""Start and stop the local AWS server in the background (``albrules local up|down``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, cast

from ..errors import AlbRulesError, InvalidInput
from ..store import albrules_home

DEFAULT_PORT = 4566
DEFAULT_REGION = "us-east-1"


def _pidfile(port: int) -> Path:
    return albrules_home() / "local" / f"{port}.pid"


def endpoint(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def environment(port: int) -> dict[str, str]:
    """The environment that points boto3 (and albrules) at the local AWS."""
    return {
        "AWS_ENDPOINT_URL": endpoint(port),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
    }


def admin(
    port: int, name: str, method: str = "GET", body: dict[str, Any] | None = None
) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{endpoint(port)}/_albrules/{name}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return cast(dict[str, Any], json.loads(response.read()))
    except urllib.error.HTTPError as err:
        raise InvalidInput(f"the local AWS refused {name}: {err.read().decode()}") from None
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        # Exit 2, as every local command says it (a command given before its set-up step).
        raise InvalidInput(
            f"no local AWS on port {port}; start it with `albrules local up --port {port}`"
        ) from None


def running(port: int) -> bool:
    try:
        admin(port, "health")
        return True
    except AlbRulesError:
        return False


def up(
    port: int = DEFAULT_PORT, timeout: float = 30.0, *, throttle_mutating: float | None = None
) -> int:
    """Start the server in the background; returns its pid. Idempotent (a server already
    running gets the throttle set). ``throttle_mutating``: mutating ELBv2 calls a second
    (:mod:`albrules.local.throttle`)."""
    if running(port):
        if throttle_mutating is not None:
            admin(port, "config", "POST", {"throttle_mutating": throttle_mutating})
        return int(admin(port, "health").get("pid", 0))
    env = dict(os.environ)
    if throttle_mutating is not None:
        env["ALBRULES_LOCAL_THROTTLE_MUTATING"] = str(throttle_mutating)
    log = albrules_home() / "local" / f"{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "albrules.local.server", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AlbRulesError(
                f"the local AWS exited at start (code {process.returncode}); see {log}"
            )
        if running(port):
            _pidfile(port).write_text(str(process.pid))
            return process.pid
        time.sleep(0.2)
    process.terminate()
    raise AlbRulesError(f"the local AWS did not answer within {timeout:.0f}s; see {log}")


def down(port: int = DEFAULT_PORT) -> bool:
    """Stop the server started by ``up``; False if none was running."""
    pidfile = _pidfile(port)
    pid = None
    if pidfile.exists():
        pid = int(pidfile.read_text().strip() or 0)
    elif running(port):
        pid = int(admin(port, "health").get("pid", 0))
    if not pid:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pidfile.unlink(missing_ok=True)
        return False
    for _ in range(50):
        if not running(port):
            break
        time.sleep(0.1)
    pidfile.unlink(missing_ok=True)
    return True
