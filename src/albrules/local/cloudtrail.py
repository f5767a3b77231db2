"""CloudTrail's event history in the local AWS: management events recorded as AWS records them,
and ``LookupEvents`` to read them.

moto 5.2 records nothing: it keeps trails and their settings, but no event of any API call, and
does not implement ``LookupEvents``. AWS records every management event in the Region's event
history (90 days, no trail needed) and ``LookupEvents`` returns them, newest first, at most 50
a page, filtered by at most one lookup attribute and a time range.

Here the calls listed in :data:`RECORDED` (service, operation) are recorded when moto answers
them successfully, in the account and Region of the call, with the ``userIdentity`` of the
request's access key (:mod:`albrules.local.identities`), the request parameters and the
response elements. Add an entry to :data:`RECORDED` (and its ``eventSource``) to record another
call; each recorded response handler is wrapped once. Events are kept on moto's CloudTrail
backend, so resetting moto forgets them.

AWS delivers an event to the event history "within an average of about 5 minutes of an API
call; this time is not guaranteed" (CloudTrail User Guide). The local AWS delivers at once; a
test that needs a late delivery holds events back with :func:`delay` (seconds).

Not confirmed against AWS: whether Step Functions keeps the execution ``input`` out of the
StartExecution event (it is sensitive data in the API model, so it is recorded here as
``HIDDEN_DUE_TO_SECURITY_REASONS``), and the exact ``Resources`` AWS lists for it (here the
state machine and the execution). LookupAttributes supported: EventName, EventSource, Username,
ResourceName, AccessKeyId, EventId, ReadOnly.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .identities import access_key_of, caller

#: (service module of moto, API operation) -> eventSource. Add a line to record more calls.
RECORDED: dict[tuple[str, str], str] = {
    ("stepfunctions", "StartExecution"): "states.amazonaws.com",
}
SENSITIVE = {("stepfunctions", "StartExecution"): ("input",)}
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
MAX_RESULTS = 50
ATTRIBUTES = {
    "EventName": lambda e: [e["EventName"]],
    "EventSource": lambda e: [e["EventSource"]],
    "Username": lambda e: [e.get("Username", "")],
    "AccessKeyId": lambda e: [e.get("AccessKeyId", "")],
    "EventId": lambda e: [e["EventId"]],
    "ReadOnly": lambda e: [e["ReadOnly"]],
    "ResourceName": lambda e: [r["ResourceName"] for r in e.get("Resources", [])],
}

_lock = threading.Lock()
_installed = False
_delay = 0.0


def delay(seconds: float) -> None:
    """Deliver events ``seconds`` after their call from now on (0: at once, the default)."""
    global _delay
    _delay = max(0.0, seconds)


def deliver_all() -> None:
    """Deliver every event held back by :func:`delay` now (in every account and Region)."""
    from moto.cloudtrail.models import cloudtrail_backends

    now = time.time()
    with _lock:
        for account in list(cloudtrail_backends):
            for region in list(cloudtrail_backends[account]):
                for event in getattr(cloudtrail_backends[account][region], "_albrules_events", []):
                    event["_visible_at"] = min(event["_visible_at"], now)


def _events(account: str, region: str) -> list[dict[str, Any]]:
    from moto.cloudtrail.models import cloudtrail_backends

    backend = cloudtrail_backends[account][region]
    found: list[dict[str, Any]] | None = getattr(backend, "_albrules_events", None)
    if found is None:
        found = []
        setattr(backend, "_albrules_events", found)  # noqa: B010  (moto's class has no such slot)
    return found


def _resources(service: str, params: dict[str, Any], answer: dict[str, Any]) -> list[Any]:
    if service == "stepfunctions":
        found = [
            {"ResourceType": "AWS::StepFunctions::StateMachine", "ResourceName": value}
            for value in [params.get("stateMachineArn")]
            if value
        ]
        if answer.get("executionArn"):
            found.append(
                {
                    "ResourceType": "AWS::StepFunctions::Execution",
                    "ResourceName": answer["executionArn"],
                }
            )
        return found
    return []


def record(
    *,
    service: str,
    operation: str,
    account: str,
    region: str,
    access_key: str,
    params: dict[str, Any],
    answer: dict[str, Any],
    source_ip: str = "127.0.0.1",
    user_agent: str = "",
) -> dict[str, Any]:
    """Record one management event; returns it as LookupEvents will."""
    who = caller(access_key)
    now = time.time()
    identity: dict[str, Any] = (
        who.user_identity()
        if who
        else {"type": "Unknown", "principalId": "", "accessKeyId": access_key}
    )
    hidden = SENSITIVE.get((service, operation), ())
    request = {k: (HIDDEN if k in hidden else v) for k, v in params.items()}
    event_id = str(uuid.uuid4())
    detail = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": RECORDED[(service, operation)],
        "eventName": operation,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
        "requestParameters": request,
        "responseElements": json.loads(json.dumps(answer, default=_when)),
        "requestID": str(uuid.uuid4()),
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    event = {
        "EventId": event_id,
        "EventName": operation,
        "ReadOnly": "false",
        "AccessKeyId": access_key,
        "EventTime": now,
        "EventSource": detail["eventSource"],
        "Username": (who.user_name or who.arn.rsplit("/", 1)[-1]) if who else "",
        "Resources": _resources(service, params, answer),
        "CloudTrailEvent": json.dumps(detail),
        "_visible_at": now + _delay,
    }
    with _lock:
        _events(account, region).append(event)
    return event


def _when(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%b %d, %Y, %I:%M:%S %p")
    return str(value)


def lookup(
    account: str, region: str, params: dict[str, Any], now: float | None = None
) -> dict[str, Any]:
    """LookupEvents over the recorded events, as AWS answers it."""
    moment = time.time() if now is None else now
    attributes = params.get("LookupAttributes") or []
    if len(attributes) > 1:
        raise _invalid("InvalidLookupAttributesException", "only one lookup attribute is allowed")
    start, end = params.get("StartTime"), params.get("EndTime")
    if start is not None and end is not None and float(start) > float(end):
        raise _invalid("InvalidTimeRangeException", "StartTime must be before EndTime")
    limit = int(params.get("MaxResults") or MAX_RESULTS)
    if not 1 <= limit <= MAX_RESULTS:
        raise _invalid("InvalidMaxResultsException", "MaxResults must be from 1 to 50")
    with _lock:
        events = [e for e in _events(account, region) if e["_visible_at"] <= moment]
    for attribute in attributes:
        key, value = attribute.get("AttributeKey"), attribute.get("AttributeValue")
        if key not in ATTRIBUTES:
            raise _invalid("InvalidLookupAttributesException", f"unknown AttributeKey {key}")
        events = [e for e in events if value in ATTRIBUTES[key](e)]
    if start is not None:
        events = [e for e in events if e["EventTime"] >= float(start)]
    if end is not None:
        events = [e for e in events if e["EventTime"] <= float(end)]
    events.sort(key=lambda e: e["EventTime"], reverse=True)
    offset = 0
    if params.get("NextToken"):
        try:
            offset = int(base64.b64decode(params["NextToken"]).decode())
        except ValueError:
            raise _invalid("InvalidNextTokenException", "the NextToken is not valid") from None
    page = events[offset : offset + limit]
    answer: dict[str, Any] = {
        "Events": [{k: v for k, v in e.items() if not k.startswith("_")} for e in page]
    }
    if offset + limit < len(events):
        answer["NextToken"] = base64.b64encode(str(offset + limit).encode()).decode()
    return answer


def _invalid(code: str, message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(code, message)


def _recording(service: str, operation: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(handler)
    def handle(self: Any) -> Any:
        result = handler(self)
        answer = getattr(result, "result", None)
        if answer is None and isinstance(result, str):
            try:
                answer = json.loads(result)
            except ValueError:
                answer = {}
        try:
            params = json.loads(self.body or "{}") if isinstance(self.body, str | bytes) else {}
        except ValueError:
            params = {}
        record(
            service=service,
            operation=operation,
            account=self.current_account,
            region=self.region,
            access_key=access_key_of(str(self.headers.get("Authorization") or "")) or "",
            params=params if isinstance(params, dict) else {},
            answer=answer if isinstance(answer, dict) else {},
            source_ip=str(self.headers.get("X-Forwarded-For") or "127.0.0.1"),
            user_agent=str(self.headers.get("User-Agent") or ""),
        )
        return result

    handle._albrules_recorded = True  # type: ignore[attr-defined]
    return handle


def _response_class(service: str) -> Any:
    if service == "stepfunctions":
        from moto.stepfunctions.responses import StepFunctionResponse

        return StepFunctionResponse
    raise ValueError(f"no recorder for {service} yet: add its response class here")


def install() -> None:
    """Record the calls in :data:`RECORDED` and answer LookupEvents (idempotent). Run after the
    other patches of those response handlers, so that only a call that succeeded is recorded."""
    global _installed
    from moto.cloudtrail.responses import CloudTrailResponse
    from moto.core.utils import camelcase_to_underscores

    for service, operation in RECORDED:
        cls = _response_class(service)
        name = camelcase_to_underscores(operation)
        handler = getattr(cls, name)
        if not getattr(handler, "_albrules_recorded", False):
            setattr(cls, name, _recording(service, operation, handler))
    if _installed:
        return

    def lookup_events(self: Any) -> str:
        params = json.loads(self.body or "{}")
        return json.dumps(lookup(self.current_account, self.region, params))

    CloudTrailResponse.lookup_events = lookup_events  # type: ignore[attr-defined]
    _installed = True
