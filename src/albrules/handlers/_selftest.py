"""Test-only handlers: they prove the local Lambda seam (``albrules.local.lambdas``) end to end.

Not referenced by ``template.yaml``; the tests' fixture template uses them.
"""

from __future__ import annotations

from typing import Any

from ..runtime_env import getenv


class SelfTestFailure(Exception):
    """Raised on request, so a Catch on its class name can be exercised."""


def echo(event: Any, context: Any) -> dict[str, Any]:
    """Return the event, the function's name and the settings it sees."""
    names = (event or {}).get("env", []) if isinstance(event, dict) else []
    return {
        "event": event,
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "env": {name: getenv(name) for name in names},
    }


def fail(event: Any, context: Any) -> None:
    """Raise :class:`SelfTestFailure` with the event's ``message``."""
    message = event.get("message", "asked to fail") if isinstance(event, dict) else "asked to fail"
    raise SelfTestFailure(message)


def list_buckets(event: Any, context: Any) -> list[str]:
    """Make an AWS call from inside the handler (it must reach the same local AWS)."""
    import boto3

    return [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
