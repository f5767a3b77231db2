"""EventBridge as AWS documents it, where moto 5.2.5 differs: Step Functions' execution status
change events; rules with Lambda, SQS and other buses' targets; PutEvents' reserved sources.

- **Step Functions emits events.** AWS sends a "Step Functions Execution Status Change" event
  (source ``aws.states``) to the account's default event bus each time a Standard workflow's
  execution changes status; Express workflows send none (Step Functions developer guide,
  "EventBridge (CloudWatch Events) for Step Functions execution status changes"). moto's Step
  Functions sends nothing. Here, each Standard execution's start (RUNNING) and end (SUCCEEDED,
  FAILED, TIMED_OUT, ABORTED) is put on the default bus of its account and region, with the
  ``detail`` AWS documents: ``executionArn``, ``stateMachineArn``, ``name``, ``status``,
  ``startDate`` and ``stopDate`` (epoch milliseconds), ``input``, ``output`` (strings),
  ``inputDetails``, ``outputDetails``, ``error`` and ``cause``; ``resources`` is the execution
  ARN. The redrive fields (``redriveCount``...) and PENDING_REDRIVE are not emitted (the local
  AWS does not redrive), nor are the 248 KB payload cuts.
- **Lambda targets.** moto delivers to log groups, SQS, archives, other buses and API
  destinations, and raises NotImplementedError for a Lambda target. Here a Lambda target is
  invoked as EventBridge does, asynchronously (``InvocationType=Event``) with the whole event
  (or its ``Input``, ``InputPath`` or ``InputTransformer`` shape) as the payload; the time is
  an ISO 8601 string, as AWS sends it. A disabled rule delivers nothing.

- **SQS targets** get the whole event (``account`` included; moto's own template drops it),
  or its ``Input``/``InputPath``/``InputTransformer`` shape. The queue's policy is not checked.
- **Other buses as targets** (another account's or Region's, with the target's ``RoleArn``):
  the event arrives as it left, its ``id``, ``account``, ``region`` and ``time`` kept (moto
  re-puts it as a new event of the receiving account). A bus in another account takes it only
  if its resource policy (PutPermission, ``AWS::Events::EventBusPolicy``) allows
  ``events:PutEvents`` on it to the sending account, by account id or root ARN, to the rule's
  role, or to ``*`` under a condition such as ``aws:PrincipalOrgID`` (the sender's
  organization in moto's Organizations); otherwise nothing is delivered and a warning is
  logged, as AWS drops it (visible there only in the rule's FailedInvocations metric).
  PutPermission with ``Principal`` ``*`` is stored as ``"Principal": "*"``, as AWS shows it.
- **PutEvents** entries whose ``Source`` begins with ``aws.`` fail with
  ``NotAuthorizedForSourceException`` (the other entries are put): the ``aws.`` sources are
  AWS services' ("Customer-generated events can have any value here, as long as it doesn't
  begin with 'aws.'"), so no customer can forge a CloudTrail event onto a bus. moto accepts
  them. The error message ("Not authorized for the source.") is not confirmed.

Not confirmed against AWS: whether a forwarded event keeps its ``id`` (here it does), and
that a cross-Region or organization-granted target without ``RoleArn`` is refused (AWS
requires the role there; the local AWS does not check it).

**Event patterns.** moto's matching of ``exists`` (``false``: the field is absent),
``prefix``, ``suffix``, ``anything-but``, ``numeric``, ``equals-ignore-case``, ``wildcard`` and
``$or`` follows EventBridge's documentation; but it treats an array of objects as one opaque
value, where EventBridge matches a field inside the array's objects against every element's
value (``"responseElements": {"rules": {"ruleArn": [...]}}``). Here arrays of objects are
flattened as EventBridge does.

Delivery is synchronous, in the thread that puts the event (CloudTrail's events: its delivery
thread, :mod:`albrules.local.cloudtrail`; status changes: the thread whose change caused it,
right after the status is set): when DescribeExecution first shows an execution ended, its
event's targets may still be running (AWS delivers later still, "best effort"), so tests wait
for the effect. Not reproduced: AWS's retries of failed deliveries and of failed asynchronous
invocations (twice), dead-letter queues, and the resource policy that lets EventBridge invoke
the function (the local AWS enforces no resource policies).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

_installed = False
log = logging.getLogger(__name__)

SOURCE = "aws.states"
DETAIL_TYPE = "Step Functions Execution Status Change"

# The patches below assign to moto's methods on purpose, hence ``ignore[method-assign]``.


def install() -> None:
    global _installed
    if _installed:
        return
    _install_status_change_events()
    _install_lambda_targets()
    _install_put_events_sources()
    _install_any_principal()
    _install_array_matching()
    _installed = True


# --- Step Functions -> EventBridge ---------------------------------------------------------------


def _millis(value: Any) -> int | None:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return None


def status_change_detail(execution: Any) -> dict[str, Any]:
    """The ``detail`` of an execution's status change event, from moto's execution."""
    status = execution.exec_status.value if execution.exec_status else "RUNNING"
    succeeded = status == "SUCCEEDED"
    return {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": status,
        "startDate": _millis(execution.start_date),
        "stopDate": _millis(execution.stop_date),
        "input": json.dumps(execution.input_data, separators=(",", ":")),
        "output": json.dumps(execution.output, separators=(",", ":")) if succeeded else None,
        "inputDetails": {"included": True},
        "outputDetails": {"included": True} if succeeded else None,
        "error": execution.error,
        "cause": execution.cause,
    }


def emit_status_change(execution: Any) -> None:
    """Put the execution's status change event on its default bus (Standard workflows only).
    Never fails the execution: a delivery error is logged."""
    # moto keeps a machine's type in ``type`` (its ``sm_type``, copied to executions, always
    # says STANDARD).
    kind = getattr(execution.state_machine, "type", None) or execution.sm_type
    if str(getattr(kind, "value", kind)) != "STANDARD":
        return
    from moto.events.models import events_backends

    try:
        backend = events_backends[execution.account_id][execution.region_name]
        backend.put_events(
            [
                {
                    "Source": SOURCE,
                    "DetailType": DETAIL_TYPE,
                    "Detail": json.dumps(status_change_detail(execution), default=str),
                    "Resources": [execution.exec_arn],
                }
            ]
        )
    except Exception:  # the execution's own outcome stands, whatever its event's delivery
        log.exception("the status change event of %s was not delivered", execution.exec_arn)


def _install_status_change_events() -> None:
    from moto.stepfunctions.parser.backend.execution import (
        BaseExecutionWorkerCommunication,
        Execution,
    )

    original_terminated = BaseExecutionWorkerCommunication.terminated
    original_start = Execution.start

    def terminated(self: Any) -> None:
        original_terminated(self)
        emit_status_change(self.execution)

    def start(self: Any) -> None:
        # Before the worker thread runs: a quick execution would otherwise send its end first.
        if self.exec_worker is None:
            emit_status_change(self)
        original_start(self)

    BaseExecutionWorkerCommunication.terminated = terminated  # type: ignore[method-assign]
    Execution.start = start  # type: ignore[method-assign]


# --- EventBridge -> Lambda -----------------------------------------------------------------------


def _as_aws_event(event: dict[str, Any]) -> dict[str, Any]:
    """moto's event message as EventBridge hands it to a target: ``time`` in ISO 8601, no
    moto-internal fields."""
    out = {k: v for k, v in event.items() if k != "ingestion-time"}
    when = out.get("time")
    if isinstance(when, int | float):
        out["time"] = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def _target_payload(target: dict[str, Any], event: dict[str, Any]) -> Any:
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        from jsonpath_ng.ext import parse  # type: ignore[attr-defined]

        found = parse(target["InputPath"]).find(event)
        return found[0].value if found else None
    transformer = target.get("InputTransformer")
    if transformer:
        from moto.events.utils import EventTemplateParser

        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,  # type: ignore[arg-type]
        )
    return event


def invoke_lambda_target(target: dict[str, Any], event: dict[str, Any]) -> None:
    """Invoke a Lambda target asynchronously with the event; errors are logged (AWS would
    retry the invocation, then drop it or send it to a dead-letter queue)."""
    from moto.awslambda.utils import get_backend

    parts = target["Arn"].split(":")  # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    region, account, name = parts[3], parts[4], parts[6]
    qualifier = parts[7] if len(parts) > 7 else None
    try:
        payload = json.dumps(_target_payload(target, event))
        get_backend(account, region).invoke(
            name, qualifier, payload, {"x-amz-invocation-type": "Event"}, {}
        )
    except Exception:
        log.exception("the event %s was not delivered to %s", event.get("id"), target["Arn"])


def send_to_queue(target: dict[str, Any], event: dict[str, Any]) -> None:
    """Send the event (or its Input/InputPath/InputTransformer shape) to an SQS target, whole:
    moto's own template drops ``account`` and pastes fields into a JSON string."""
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, name = target["Arn"].split(":", 5)
    group = (target.get("SqsParameters") or {}).get("MessageGroupId")
    try:
        payload = _target_payload(target, event)
        body = payload if isinstance(payload, str) else json.dumps(payload)
        sqs_backends[account][region].send_message(
            queue_name=name, message_body=body, group_id=group
        )
    except Exception:
        log.exception("the event %s was not delivered to %s", event.get("id"), target["Arn"])


def _install_lambda_targets() -> None:
    from moto.events.models import Rule

    original = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if getattr(self, "state", "ENABLED") != "ENABLED":
            return
        lambdas = [t for t in self.targets if t["Arn"].split(":")[2:3] == ["lambda"]]
        queues = [t for t in self.targets if t["Arn"].split(":")[2:3] == ["sqs"]]
        buses = [t for t in self.targets if _is_bus(t["Arn"])]
        mine = lambdas + queues + buses
        others = [t for t in self.targets if t not in mine]
        if others:
            rest = copy.copy(self)
            rest.targets = others
            original(rest, original_event, transform_input)
        if mine and self.event_pattern.matches_event(original_event):
            event = _as_aws_event(copy.deepcopy(original_event))
            for target in lambdas:
                invoke_lambda_target(target, event)
            for target in queues:
                send_to_queue(target, event)
            for target in buses:
                forward_to_bus(self, target, original_event)

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


# --- event buses: delivery, other accounts' and Regions' buses as targets -------------------------


def deliver_to_bus(account: str, region: str, bus_name: str, message: dict[str, Any]) -> None:
    """Hand an event (moto's message: ``time`` in epoch seconds) to every rule of a bus, as
    EventBridge does once it has accepted it (each rule matches and delivers it)."""
    from moto.events.models import events_backends

    bus = events_backends[account][region].describe_event_bus(bus_name)
    message = {**message, "ingestion-time": time.time()}  # moto's own field, never sent
    for rule in list(bus.rules.values()):
        rule.send_to_targets(copy.deepcopy(message))  # type: ignore[arg-type]


def _is_bus(arn: str) -> bool:
    parts = arn.split(":", 5)
    return len(parts) == 6 and parts[2] == "events" and parts[5].startswith("event-bus/")


def organization_of(account: str) -> str | None:
    """The id of the AWS Organizations organization ``account`` belongs to (moto's), if any."""
    from moto.organizations.models import organizations_backends

    master, partition = organizations_backends.master_accounts.get(account, (account, "aws"))
    backends: Any = organizations_backends
    found: Any = backends.get(master) or {}
    org = getattr(found.get(partition), "org", None)
    return str(org.id) if org is not None else None


def bus_accepts(
    bus: Any, sender_account: str, role_arn: str | None, event: dict[str, Any] | None = None
) -> bool:
    """Whether a bus in another account takes events from ``sender_account``'s rule: its
    resource policy must allow ``events:PutEvents`` on the bus to that account (by account id
    or root ARN, the rule's role, or any principal under a condition such as
    ``aws:PrincipalOrgID``); no policy, no delivery. The event's ``events:source`` and
    ``events:detail-type`` (EventBridge's condition keys for PutEvents) are in the context."""
    from .policies import Unsupported, evaluate

    if sender_account == bus.account_id:
        return True
    if not bus.policy:
        return False
    principal = role_arn or f"arn:aws:iam::{sender_account}:root"
    context = {"aws:PrincipalArn": principal, "aws:PrincipalAccount": sender_account}
    if event is not None:
        context["events:source"] = str(event.get("source", ""))
        context["events:detail-type"] = str(event.get("detail-type", ""))
    org = organization_of(sender_account)
    if org:
        context["aws:PrincipalOrgID"] = org
    try:
        decision = evaluate(json.loads(bus.policy), "events:PutEvents", bus.arn, context)
    except Unsupported as err:
        log.warning("the policy of %s uses %s, which the local AWS does not model", bus.arn, err)
        return False
    return decision == "Allow"


def forward_to_bus(rule: Any, target: dict[str, Any], event: dict[str, Any]) -> None:
    """Deliver an event to another bus (another account's or Region's), as EventBridge does:
    the event keeps its ``id``, ``account``, ``region`` and ``time``; a bus in another account
    takes it only if its resource policy allows the rule's account. Errors are logged."""
    from moto.events.models import events_backends

    _, _, _, region, account, resource = target["Arn"].split(":", 5)
    name = resource.removeprefix("event-bus/")
    sender = str(rule.account_id)
    try:
        bus = events_backends[account][region].describe_event_bus(name)
        if not bus_accepts(bus, sender, target.get("RoleArn"), event):
            log.warning(
                "the event %s was not delivered to %s: its policy does not allow account %s",
                event.get("id"),
                target["Arn"],
                sender,
            )
            return
        deliver_to_bus(account, region, name, event)
    except Exception:
        log.exception("the event %s was not delivered to %s", event.get("id"), target["Arn"])


# --- PutEvents: the aws. sources are AWS's -------------------------------------------------------

NOT_AUTHORIZED = {
    "ErrorCode": "NotAuthorizedForSourceException",
    "ErrorMessage": "Not authorized for the source.",
}


def _install_put_events_sources() -> None:
    """A customer's PutEvents entry whose Source starts with ``aws.`` fails (moto accepts it):
    only AWS services publish those sources, so no one can forge a CloudTrail event."""
    from moto.events.responses import EventsHandler

    original = EventsHandler.put_events

    def put_events(self: Any) -> Any:
        entries = self._get_param("Entries") or []
        forged = [str(e.get("Source") or "").startswith("aws.") for e in entries]
        if not any(forged):
            return original(self)
        allowed = [e for e, bad in zip(entries, forged, strict=True) if not bad]
        accepted = iter(self.events_backend.put_events(allowed) if allowed else [])
        results = [dict(NOT_AUTHORIZED) if bad else next(accepted) for bad in forged]
        failed = len([r for r in results if "ErrorCode" in r])
        return json.dumps({"FailedEntryCount": failed, "Entries": results})

    EventsHandler.put_events = put_events  # type: ignore[method-assign]


def _install_any_principal() -> None:
    """PutPermission with ``Principal`` ``*`` (with a condition such as aws:PrincipalOrgID)
    grants every principal, ``"Principal": "*"`` in the bus policy, as AWS stores it; moto
    writes ``{"AWS": "arn:aws:iam::*:root"}``."""
    from moto.events.models import EventBus

    original = EventBus.add_permission

    def add_permission(
        self: Any, statement_id: str, action: str, principal: Any, condition: Any
    ) -> None:
        if isinstance(principal, dict) and str(principal.get("AWS", "")).endswith(":iam::*:root"):
            principal = "*"
        original(self, statement_id, action, principal, condition)

    EventBus.add_permission = add_permission  # type: ignore[method-assign]


def _add(found: dict[str, Any], key: str, value: Any) -> None:
    values = value if isinstance(value, list) else [value]
    if key in found:
        before = found[key]
        found[key] = (before if isinstance(before, list) else [before]) + values
    else:
        found[key] = list(values)


def flatten(node: Any, prefix: str = "", found: dict[str, Any] | None = None) -> dict[str, Any]:
    """An event's leaves by dotted path, as EventBridge matches them: the values of a field
    inside an array of objects are collected from every element."""
    found = {} if found is None else found
    if not isinstance(node, dict):
        return found
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value:
            flatten(value, path, found)
        elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
            for item in value:
                if isinstance(item, dict):
                    for inner, leaf in flatten(item, path).items():
                        _add(found, inner, leaf)
                else:
                    _add(found, path, item)
        else:
            found[path] = value
    return found


def _install_array_matching() -> None:
    from moto.events.models import EventPattern

    EventPattern._flatten_dict = staticmethod(flatten)  # type: ignore[assignment]
