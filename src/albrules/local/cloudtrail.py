"""CloudTrail in the local AWS: management events recorded as AWS records them, ``LookupEvents``
to read them, and their delivery to EventBridge ("AWS API Call via CloudTrail").

moto 5.2 records nothing: it keeps trails and their settings, but no event of any API call, and
does not implement ``LookupEvents``. AWS records every management event in the Region's event
history (90 days, no trail needed) and ``LookupEvents`` returns them, newest first, at most 50
a page, filtered by at most one lookup attribute and a time range.

Recorded here:

- **Step Functions** ``StartExecution`` (:data:`RECORDED`), when moto answers it successfully.
- **ELBv2**: every mutating call (:func:`elbv2_writes`: every operation of the API but
  ``Describe*`` and ``Get*``), successful or not. A failed call carries ``errorCode`` and
  ``errorMessage`` (the API's error code and message) and no ``responseElements``, as AWS
  records failed calls (moto's own access check, when enabled, is inside what is recorded).
  ``requestParameters`` and ``responseElements`` are the request and the answer in the shape
  of the API's model with lowerCamelCase member names (``listenerArn``, ``rulePriorities``,
  ``resourceArns``, ``dNSName``), lists as JSON arrays, timestamps as CloudTrail writes them
  for ELB (``Apr 11, 2016 5:23:50 PM``), members the model marks sensitive, and OIDC client
  secrets (which it does not), as ``HIDDEN_DUE_TO_SECURITY_REASONS``, and
  ``responseElements`` null for calls that answer nothing (DeleteRule), as in the ELB guide's
  DeleteLoadBalancer example; ``apiVersion`` is ``2015-12-01``.

Each event's ``userIdentity`` is that of the request's access key
(:mod:`albrules.local.identities`: an IAM user, or an assumed role's session with its
``sessionContext.sessionIssuer``), in the account and Region of the call. Events are kept on
moto's CloudTrail backend, so resetting moto forgets them.

**Delivery to EventBridge.** AWS puts every management write event on the default event bus of
the account and Region of the call, detail-type ``AWS API Call via CloudTrail``, source ``aws.``
plus the service's prefix (``aws.elasticloadbalancing``, ``aws.states``), ``detail`` the
CloudTrail record, ``resources`` empty; failed calls too (so a rule matching only successful
ones filters on ``"errorCode": [{"exists": false}]``). Read-only calls (Describe*) reach
EventBridge only when a trail records read events; they are not recorded here at all. Here the
events go on a queue that one background thread delivers, in order, to the rules of the
default bus (:func:`albrules.local.events.deliver_to_bus`) within milliseconds: the API call
never waits for, nor fails with, its delivery (AWS: "best effort"). :func:`drain` waits until
everything queued so far is delivered (and its Lambda targets have run: they are invoked in the
delivery thread, so a slow target delays the events behind it). Under ``mock_aws`` an event
queued after the mock stopped is dropped, never delivered to real AWS.

AWS delivers an event to the event history "within an average of about 5 minutes of an API
call; this time is not guaranteed" (CloudTrail User Guide). The local AWS makes it visible at
once; a test that needs a late one holds events back from ``LookupEvents`` with :func:`delay`
(seconds; EventBridge delivery is not delayed).

Not confirmed against AWS: whether Step Functions keeps the execution ``input`` out of the
StartExecution event (it is sensitive data in the API model, so it is recorded here as
``HIDDEN_DUE_TO_SECURITY_REASONS``), and the exact ``Resources`` AWS lists for it (here the
state machine and the execution); the ``errorCode`` of a failed ELBv2 call (here the API's
error code, ``RuleNotFound``, where some services prefix or suffix it); the timestamp format
inside ELBv2 ``responseElements`` beyond the guide's one example; whether AWS hides an
``authenticate-oidc`` action's ``clientSecret`` (hidden here: no secret in any record); which
ELBv2 event ``Resources`` LookupEvents lists (here the ARNs the request and the answer name).
LookupAttributes supported: EventName, EventSource, Username, ResourceName, AccessKeyId,
EventId, ReadOnly.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .identities import access_key_of, caller

log = logging.getLogger(__name__)

#: (service module of moto, API operation) -> eventSource. Add a line to record more calls.
RECORDED: dict[tuple[str, str], str] = {
    ("stepfunctions", "StartExecution"): "states.amazonaws.com",
}
SENSITIVE = {("stepfunctions", "StartExecution"): ("input",)}
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
ELB_SOURCE = "elasticloadbalancing.amazonaws.com"
#: ELBv2 members never recorded, though the API model does not mark them sensitive.
ELB_HIDDEN = frozenset({"ClientSecret"})
ELB_API_VERSION = "2015-12-01"
DETAIL_TYPE = "AWS API Call via CloudTrail"
RESOURCE_TYPES = {  # ELBv2 request parameter naming a resource -> its CloudFormation type
    "loadBalancerArn": "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "listenerArn": "AWS::ElasticLoadBalancingV2::Listener",
    "ruleArn": "AWS::ElasticLoadBalancingV2::ListenerRule",
    "targetGroupArn": "AWS::ElasticLoadBalancingV2::TargetGroup",
}
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
    if service == "elbv2":
        named: list[tuple[str | None, Any]] = [
            (RESOURCE_TYPES[k], v) for k, v in params.items() if k in RESOURCE_TYPES
        ]
        named += [(None, arn) for arn in params.get("resourceArns") or []]
        named += [(None, p.get("ruleArn")) for p in params.get("rulePriorities") or []]
        for key, field in (
            ("rules", "ruleArn"),
            ("listeners", "listenerArn"),
            ("loadBalancers", "loadBalancerArn"),
            ("targetGroups", "targetGroupArn"),
        ):
            named += [(None, item.get(field)) for item in answer.get(key) or []]
        listed: list[Any] = []
        for kind, arn in named:
            if isinstance(arn, str) and arn not in [r["ResourceName"] for r in listed]:
                listed.append({"ResourceType": kind or _elb_type(arn), "ResourceName": arn})
        return listed
    return []


def _elb_type(arn: str) -> str:
    resource = arn.split(":", 5)[-1]
    for prefix, kind in (
        ("listener-rule/", "ListenerRule"),
        ("listener/", "Listener"),
        ("loadbalancer/", "LoadBalancer"),
        ("targetgroup/", "TargetGroup"),
    ):
        if resource.startswith(prefix):
            return f"AWS::ElasticLoadBalancingV2::{kind}"
    return "AWS::ElasticLoadBalancingV2::Resource"


def record(
    *,
    service: str,
    operation: str,
    account: str,
    region: str,
    access_key: str,
    params: dict[str, Any],
    answer: dict[str, Any] | None,
    source_ip: str = "127.0.0.1",
    user_agent: str = "",
    error: tuple[str, str] | None = None,
    shaped: bool = False,
) -> dict[str, Any]:
    """Record one management event (``error``: the failed call's code and message) and queue
    its delivery to the default event bus; returns it as LookupEvents will. ``shaped``: the
    parameters and answer are already in CloudTrail's shape."""
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
    source = RECORDED.get((service, operation)) or ELB_SOURCE
    detail: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": operation,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
    }
    if error is not None:
        detail["errorCode"], detail["errorMessage"] = error
    detail["requestParameters"] = request or None
    if error is None:
        detail["responseElements"] = (
            answer if shaped else json.loads(json.dumps(answer or {}, default=_when))
        ) or None
    detail.update(
        {
            "requestID": str(uuid.uuid4()),
            "eventID": event_id,
            "readOnly": False,
            "eventType": "AwsApiCall",
        }
    )
    if source == ELB_SOURCE:
        detail["apiVersion"] = ELB_API_VERSION
    detail.update(
        {
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
        }
    )
    event = {
        "EventId": event_id,
        "EventName": operation,
        "ReadOnly": "false",
        "AccessKeyId": access_key,
        "EventTime": now,
        "EventSource": source,
        "Username": (who.user_name or who.arn.rsplit("/", 1)[-1]) if who else "",
        "Resources": _resources(service, request, answer or {}),
        "CloudTrailEvent": json.dumps(detail),
        "_visible_at": now + _delay,
    }
    with _lock:
        _events(account, region).append(event)
    _enqueue(account, region, detail, now)
    return event


# --- delivery to EventBridge ---------------------------------------------------------------------

_queue: queue.Queue[tuple[str, str, dict[str, Any]]] = queue.Queue()
_idle = threading.Condition()
_pending = 0
_worker: threading.Thread | None = None


def event_message(account: str, region: str, detail: dict[str, Any], when: float) -> dict[str, Any]:
    """The EventBridge event for a CloudTrail record (as moto's rules take it: ``time`` in
    epoch seconds; targets see it in ISO 8601)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": "aws." + str(detail["eventSource"]).split(".", 1)[0],
        "account": account,
        "time": int(when),
        "region": region,
        "resources": [],
        "detail": detail,
    }


def _enqueue(account: str, region: str, detail: dict[str, Any], when: float) -> None:
    global _pending, _worker
    with _idle:
        _pending += 1
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_deliver_forever, name="cloudtrail-to-eventbridge")
            _worker.daemon = True
            _worker.start()
    _queue.put((account, region, event_message(account, region, detail, when)))


def _mock_running() -> bool:
    """Whether moto intercepts this process's AWS calls (``mock_aws``) or this process is the
    local AWS server: otherwise a target's calls would go to real AWS."""
    from moto.core.models import botocore_stubber

    from .lambdas import serving

    return bool(getattr(botocore_stubber, "enabled", False)) or serving()


def _deliver_forever() -> None:
    global _pending
    from .events import deliver_to_bus

    while True:
        account, region, message = _queue.get()
        try:
            if _mock_running():
                deliver_to_bus(account, region, "default", message)
            else:
                log.warning("dropped CloudTrail event %s: the local AWS is gone", message["id"])
        except Exception:  # never the caller's failure; AWS delivers "best effort"
            log.exception("the CloudTrail event %s was not delivered", message["id"])
        finally:
            with _idle:
                _pending -= 1
                _idle.notify_all()


def drain(timeout: float = 10.0) -> bool:
    """Wait until every event queued so far has been delivered to its bus's rules (and their
    Lambda targets have returned); False if ``timeout`` seconds passed first."""
    deadline = time.monotonic() + timeout
    with _idle:
        while _pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            _idle.wait(left)
    return True


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


# --- ELBv2 (a query protocol: XML answers) ------------------------------------------------------


@functools.cache
def _elbv2_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("elbv2")


@functools.cache
def elbv2_writes() -> frozenset[str]:
    """The ELBv2 operations CloudTrail records as write (management) events here."""
    names = _elbv2_model().operation_names
    return frozenset(n for n in names if not n.startswith(("Describe", "Get")))


def _lower(name: str) -> str:
    return name[:1].lower() + name[1:]


def _cloudtrail_time(value: datetime) -> str:
    """ELB's CloudTrail timestamps: ``Apr 11, 2016 5:23:50 PM`` (the guide's example)."""
    return f"{value:%b} {value.day}, {value.year} {int(value.strftime('%I'))}:{value:%M:%S %p}"


def shaped(value: Any, shape: Any) -> Any:
    """A request or answer of the API (member names as in the model) in CloudTrail's shape:
    lowerCamelCase member names, lists, sensitive members hidden, timestamps formatted."""
    if shape is None:
        return value
    if (shape.metadata or {}).get("sensitive") and value is not None:
        return HIDDEN
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {
            _lower(k): HIDDEN if k in ELB_HIDDEN and v is not None else shaped(v, members.get(k))
            for k, v in value.items()
            if k in members
        }
    if kind == "list" and isinstance(value, list | tuple):
        return [shaped(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: shaped(v, shape.value) for k, v in value.items()}
    if kind == "timestamp" and isinstance(value, datetime):
        return _cloudtrail_time(value)
    return value


def _parsed(body: Any, status: int, shape: Any) -> dict[str, Any]:
    from botocore.parsers import QueryParser

    raw = body.encode() if isinstance(body, str) else bytes(body or b"")
    answer: dict[str, Any] = QueryParser().parse(
        {"body": raw, "headers": {}, "status_code": status}, shape
    )
    return answer


def _record_elbv2(response: Any, operation: str, status: int, body: Any) -> None:
    """Record the ELBv2 call ``response`` (moto's ELBV2Response) answered; never raises."""
    try:
        model = _elbv2_model().operation_model(operation)
        params = dict(getattr(response, "params", None) or {})
        request = shaped(params, model.input_shape) or {}
        answer: Any = None
        error = None
        if status >= 300:
            found = _parsed(body, status, model.output_shape).get("Error") or {}
            error = (str(found.get("Code") or "InternalFailure"), str(found.get("Message") or ""))
        else:
            parsed = _parsed(body, status, model.output_shape)
            parsed.pop("ResponseMetadata", None)
            answer = shaped(parsed, model.output_shape) or None
        headers = response.headers
        record(
            service="elbv2",
            operation=operation,
            account=response.current_account,
            region=response.region,
            access_key=access_key_of(str(headers.get("Authorization") or "")) or "",
            params=request,
            answer=answer,
            source_ip=str(headers.get("X-Forwarded-For") or "127.0.0.1"),
            user_agent=str(headers.get("User-Agent") or ""),
            error=error,
            shaped=True,
        )
    except Exception:  # the call's own outcome stands, whatever its recording
        log.exception("the ELBv2 call %s was not recorded in CloudTrail", operation)


def _recording_elbv2(call_action: Callable[..., Any]) -> Callable[..., Any]:
    from .lambdas import InvocationAborted

    @functools.wraps(call_action)
    def handle(self: Any) -> Any:
        operation = self._get_action()
        if operation not in elbv2_writes():
            return call_action(self)
        try:
            status, headers, body = call_action(self)
        except InvocationAborted as aborted:  # faults.inject_lambda: cut off after the call?
            done = getattr(aborted, "response", None)  # what the call answered, if it ran
            if done is not None:
                try:
                    status, _, body = self.serialized(done) if hasattr(done, "result") else done
                except (TypeError, ValueError):  # an answer this recorder cannot read
                    status, body = 200, ""
                _record_elbv2(self, operation, int(status), body)
            raise
        _record_elbv2(self, operation, int(status), body)
        return status, headers, body

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
    from moto.elbv2.responses import ELBV2Response

    if not getattr(ELBV2Response.call_action, "_albrules_recorded", False):
        ELBV2Response.call_action = _recording_elbv2(  # type: ignore[method-assign]
            ELBV2Response.call_action
        )

    def lookup_events(self: Any) -> str:
        params = json.loads(self.body or "{}")
        return json.dumps(lookup(self.current_account, self.region, params))

    CloudTrailResponse.lookup_events = lookup_events  # type: ignore[attr-defined]
    _installed = True
