"""Powertools for the Lambda functions: one Logger and one Metrics, and the decorator that
applies them to a handler (``functions/<task>/app.py``) the standard way.

No Powertools Tracer: importing the X-Ray SDK it needs took about 145 ms of every cold start
here (bench/lambda_package.py), for boto3 subsegments only. The functions and state machines
still trace with X-Ray (``Tracing: Active`` in template.yaml): Lambda records each
invocation's segment itself.

Handlers never catch an error to hide it: the exception class name is the error name the state
machine's Retry and Catch blocks match (``ListenerLocked``, ``ApplyFailed``, ``AwsThrottled``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ..errors import InvalidInput
from ..records import RestoreRecords

SERVICE = "albrules"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=SERVICE, service=SERVICE)

__all__ = ["MetricUnit", "lambda_handler", "logger", "metrics"]

Handler = Callable[[Any, Any], Any]


def lambda_handler(fn: Handler) -> Handler:
    """A Lambda handler with Powertools Logger (Lambda context, correlation keys) and Metrics
    applied."""

    @functools.wraps(fn)
    def run(event: Any, context: Any) -> Any:
        # Correlation keys: every log line of a task names its execution and listener, found
        # in the event or one level down (request_approval's "state", a backup's "listener");
        # the event's own keys win, so they are applied last.
        sources = [*event.values(), event] if isinstance(event, dict) else []
        for source in sources:
            if isinstance(source, dict):
                for key in ("execution_arn", "listener_arn"):
                    if isinstance(source.get(key), str):
                        logger.append_keys(**{key: source[key]})
        try:
            return fn(event, context)
        except Exception as err:
            # The full traceback goes to the log; the error Step Functions carries (and a
            # Map's results keep per failed listener) stays short: type, message, few frames.
            details = {"error_type": type(err).__name__, "error": str(err)}
            if isinstance(err, InvalidInput):  # refused input: a sentence, not a stack
                logger.warning("task refused its input", extra=details)
            else:
                logger.exception("task failed", extra=details)
            raise err.with_traceback(None) from None

    return logger.inject_lambda_context(clear_state=True)(metrics.log_metrics(run))


def store_journal(records: RestoreRecords, journal: list[dict[str, Any]]) -> str | None:
    """Store a restore's journal; where it went, or None. A journal that could not be stored
    is logged, never raised: the step's own outcome (or error) is what the machine needs, and
    the journal goes on in the step's output."""
    warnings: list[str] = []
    journal_at = records.try_write_journal(journal, warnings)
    for warning in warnings:
        logger.error("could not store the journal", extra={"error": warning})
    return journal_at
