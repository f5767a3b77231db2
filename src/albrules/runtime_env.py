"""Settings of a Lambda function: its configured environment, wherever it runs.

On AWS a function's environment variables are the process environment. On the embedded local
AWS the project's functions run in-process (``albrules.local.lambdas``), several at once in
threads, so their variables cannot go into ``os.environ``: each invocation gets its own mapping,
held in a context variable. Handlers read their settings through :func:`getenv`, which looks
there first and then in ``os.environ``; on AWS the first lookup is always empty.

Kept free of moto (and of anything heavy) so the Lambda package can import it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar

# The current invocation's environment; set by albrules.local.lambdas around a handler call.
INVOCATION_ENV: ContextVar[Mapping[str, str] | None] = ContextVar(
    "albrules_invocation_env", default=None
)


def getenv(name: str, default: str | None = None) -> str | None:
    """The value of ``name`` for the running function: its invocation environment (local AWS),
    else the process environment, else ``default``."""
    invocation = INVOCATION_ENV.get()
    if invocation is not None and name in invocation:
        return invocation[name]
    return os.environ.get(name, default)


def invocation_credentials() -> tuple[str, str, str | None] | None:
    """The credentials the local AWS gave the running function (its execution role's session:
    access key, secret, session token), or None (on AWS: they are the process environment's,
    which boto3 finds by itself)."""
    invocation = INVOCATION_ENV.get() or {}
    key, secret = invocation.get("AWS_ACCESS_KEY_ID"), invocation.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        return None
    return key, secret, invocation.get("AWS_SESSION_TOKEN")
