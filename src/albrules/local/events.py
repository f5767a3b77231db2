"""EventBridge as AWS documents it, where moto 5.2.5 differs: Step Functions' execution status
change events, and rules with Lambda targets.

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

- **Event bus targets in another account.** moto re-puts the event on the other bus as if
  that account had sent it (``account`` becomes the receiver's) and ignores the receiving
  bus's resource policy. AWS keeps the sender's ``account`` (a receiver's rules match
  ``"account": [SENDER]``; "Sending and receiving events between AWS accounts in Amazon
  EventBridge"), and delivers only what the receiving bus's policy allows the sending account
  to put (``events:PutEvents``; principals as account IDs or root ARNs, ``"*"``; conditions on
  ``events:source``, ``events:detail-type``, ``aws:PrincipalAccount``; ``aws:PrincipalOrgID``
  never holds here: the local AWS has no organization). Here such a target is delivered that
  way, to the receiving bus's rules, keeping the event's ``id``, ``time``, ``account``,
  ``region``, ``source``, ``detail-type``, ``resources`` and ``detail``. Not modelled: the rule
  role's own ``events:PutEvents`` permission (IAM is not evaluated), and AWS's refusal to pass
  a received event on to a third account.

- **Sources reserved to AWS.** An ``aws.*`` source is AWS's services' own: a PutEvents entry
  with one is refused (``NotAuthorizedForSourceException``, "You do not have permissions to
  publish events with this source onto this event bus", PutEventsResultEntry), so nobody can
  forge a CloudTrail event by hand; moto accepts it. Here such an entry is refused in the
  API's answer (the other entries go on); the local AWS's own services put their events on
  the buses directly, as AWS's do.

Delivery is synchronous, in the thread whose status change caused the event, right after the
status is set: when DescribeExecution first shows an execution ended, its event's targets may
still be running (AWS delivers later still, "best effort"), so tests wait for the effect.
Not reproduced: AWS's retries of failed deliveries and of failed asynchronous invocations
(twice), dead-letter queues, and the resource policy that lets EventBridge invoke the function
(the local AWS enforces no resource policies).
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from typing import Any, cast

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
    _install_reserved_sources()
    _installed = True


REFUSED_SOURCE = {
    "ErrorCode": "NotAuthorizedForSourceException",
    "ErrorMessage": "Not authorized for the source.",
}


def _install_reserved_sources() -> None:
    from moto.events.responses import EventsHandler

    def put_events(self: Any) -> str:
        entries = self._get_param("Entries") or []
        allowed = [e for e in entries if not str(e.get("Source", "")).startswith("aws.")]
        answers = iter(self.events_backend.put_events(allowed) if allowed else [])
        results = [
            dict(REFUSED_SOURCE) if str(e.get("Source", "")).startswith("aws.") else next(answers)
            for e in entries
        ]
        failed = sum(1 for r in results if "ErrorCode" in r)
        return json.dumps({"FailedEntryCount": failed, "Entries": results})

    EventsHandler.put_events = put_events  # type: ignore[method-assign]


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


def _is_bus(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) > 5 and parts[2] == "events" and parts[5].startswith("event-bus/")


def bus_admits(policy: str | None, bus_arn: str, sender: str, event: dict[str, Any]) -> bool:
    """Whether a bus's resource policy lets account ``sender`` put ``event`` on it."""
    from .policies import Unsupported, evaluate

    if not policy:
        return False
    document = json.loads(policy)
    statements = []
    for statement in document.get("Statement", []):
        statement = dict(statement)
        principal = statement.get("Principal")
        if isinstance(principal, dict) and "AWS" in principal:
            wanted = principal["AWS"] if isinstance(principal["AWS"], list) else [principal["AWS"]]
            statement["Principal"] = {
                "AWS": [f"arn:aws:iam::{w}:root" if str(w).isdigit() else w for w in wanted]
            }
        statements.append(statement)
    context = {
        "aws:PrincipalArn": f"arn:aws:iam::{sender}:root",
        "aws:PrincipalAccount": sender,
        "events:source": str(event.get("source", "")),
        "events:detail-type": str(event.get("detail-type", "")),
    }
    try:
        return evaluate({"Statement": statements}, "events:PutEvents", bus_arn, context) == "Allow"
    except Unsupported:
        log.warning("the policy of %s uses what the local AWS cannot evaluate: refused", bus_arn)
        return False


def deliver_to_bus(target: dict[str, Any], event: dict[str, Any], sender: str) -> None:
    """Put ``event`` (sent by account ``sender``) on the target bus, as EventBridge does."""
    from moto.events.models import events_backends

    parts = target["Arn"].split(":")
    region, account, name = parts[3], parts[4], parts[5].split("/", 1)[1]
    try:
        bus = events_backends[account][region].describe_event_bus(name)
    except Exception:
        log.warning("the event %s was not delivered: no bus %s", event.get("id"), target["Arn"])
        return
    if account != sender and not bus_admits(bus.policy, target["Arn"], sender, event):
        log.warning(
            "the event %s was not delivered: the policy of %s does not admit account %s",
            event.get("id"),
            target["Arn"],
            sender,
        )
        return
    for rule in list(bus.rules.values()):
        rule.send_to_targets(cast(Any, copy.deepcopy(event)))


def _install_lambda_targets() -> None:
    from moto.events.models import Rule

    original = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if getattr(self, "state", "ENABLED") != "ENABLED":
            return
        buses = [t for t in self.targets if _is_bus(t["Arn"])]
        if buses and self.event_pattern.matches_event(original_event):
            for target in buses:
                deliver_to_bus(target, original_event, str(original_event.get("account")))
        lambdas = [t for t in self.targets if t["Arn"].split(":")[2:3] == ["lambda"]]
        others = [t for t in self.targets if t not in lambdas and t not in buses]
        if others:
            rest = copy.copy(self)
            rest.targets = others
            original(rest, original_event, transform_input)
        if lambdas and self.event_pattern.matches_event(original_event):
            event = _as_aws_event(copy.deepcopy(original_event))
            for target in lambdas:
                invoke_lambda_target(target, event)

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]
