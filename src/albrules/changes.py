"""Changes seen in CloudTrail: which listeners an ELBv2 management event names, and who made it.

EventBridge delivers CloudTrail management events as ``detail-type`` "AWS API Call via
CloudTrail", ``source`` ``aws.elasticloadbalancing``, with the CloudTrail record as ``detail``
(``eventID``, ``eventName``, ``eventTime``, ``eventSource``, ``awsRegion``,
``recipientAccountId``, ``userIdentity``, ``requestParameters``, ``responseElements``,
``errorCode`` for a failed call). CloudTrail writes ``requestParameters`` with the API's
parameter names in lower camel case (``listenerArn``, ``ruleArn``, ``rulePriorities``,
``resourceArns``, ``loadBalancerArn``), and ``responseElements`` likewise (``listeners``).

The event says only WHICH listeners to read again; what they hold is always read fresh from
ELBv2, never taken from the request. Dropped, with a log line: failed calls (``errorCode``),
calls that change nothing a snapshot holds, events whose listener is not in the event's
``account`` (a member account forwarding to the central bus cannot speak for another account),
and shapes this module does not know.

Not confirmed against AWS here: that CloudTrail keeps ``responseElements.listeners`` for
CreateListener (when it is absent the new listener is left to the daily sweep), and the exact
``userIdentity`` of calls made through AWS services on a user's behalf (``invokedBy``); the
shapes follow the ELBv2 API reference and the CloudTrail record contents page.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .versions import ChangeEvent

log = logging.getLogger(__name__)

SOURCE = "aws.elasticloadbalancing"
DETAIL_TYPE = "AWS API Call via CloudTrail"
EVENT_SOURCE = "elasticloadbalancing.amazonaws.com"

#: The calls that change what a snapshot holds (rules, their priorities and tags, the
#: listener's default actions and, from format 2, its settings: certificates, attributes,
#: its own and its default rule's tags), and those that delete listeners.
CHANGE_NAMES = (
    "CreateRule",
    "ModifyRule",
    "DeleteRule",
    "SetRulePriorities",
    "AddTags",
    "RemoveTags",
    "ModifyListener",
    "AddListenerCertificates",
    "RemoveListenerCertificates",
    "ModifyListenerAttributes",
    "CreateListener",
    "DeleteListener",
    "DeleteLoadBalancer",
)
DELETIONS = ("DeleteListener", "DeleteLoadBalancer")

_ELB = (
    r"arn:(?P<partition>aws[a-z-]*):elasticloadbalancing:(?P<region>[a-z0-9-]+):"
    r"(?P<account>\d{12}):"
)
_LISTENER = re.compile(_ELB + r"listener/app/(?P<path>[^/]+/[0-9a-f]+/[0-9a-f]+)$")
_RULE = re.compile(_ELB + r"listener-rule/app/(?P<path>[^/]+/[0-9a-f]+/[0-9a-f]+)/[0-9a-f]+$")
_BALANCER = re.compile(_ELB + r"loadbalancer/app/[^/]+/[0-9a-f]+$")


class CloudTrailRecord(BaseModel):
    """The CloudTrail record of one management event (an EventBridge event's ``detail``)."""

    model_config = ConfigDict(extra="ignore")

    eventID: str = Field(min_length=1)
    eventName: str = Field(min_length=1)
    eventTime: str = Field(min_length=1)
    eventSource: str
    awsRegion: str
    recipientAccountId: str | None = None
    userIdentity: dict[str, Any] = Field(default_factory=dict)
    requestParameters: dict[str, Any] | None = None
    responseElements: dict[str, Any] | None = None
    errorCode: str | None = None


class CloudTrailEvent(BaseModel):
    """An EventBridge event carrying a CloudTrail record."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = ""
    account: str = Field(pattern=r"^\d{12}$")
    region: str
    source: Literal["aws.elasticloadbalancing"]
    detail_type: Literal["AWS API Call via CloudTrail"] = Field(alias="detail-type")
    detail: CloudTrailRecord


@dataclass(frozen=True)
class Noted:
    """What an event asks for: read these listeners again (or the catalogued listeners of
    these load balancers), and whether the call deletes them."""

    event: ChangeEvent
    listener_arns: list[str] = field(default_factory=list)
    load_balancer_arns: list[str] = field(default_factory=list)
    deletes: bool = False


@dataclass(frozen=True)
class Ignored:
    """An event that names no listener to read, and why (for the log)."""

    reason: str
    event_id: str = "?"


def listener_of(arn: str) -> str | None:
    """The listener ARN of a listener or listener rule ARN (None for anything else)."""
    value = str(arn).strip()
    found = _LISTENER.match(value)
    if found:
        return value
    found = _RULE.match(value)
    if found:
        head = value.split(":listener-rule/", 1)[0]
        return f"{head}:listener/app/{found['path']}"
    return None


def _strings(values: Any) -> list[str]:
    return [str(v) for v in values] if isinstance(values, list) else []


def _named(record: CloudTrailRecord) -> tuple[list[str], list[str]]:
    """(listeners or rules, load balancers) the record's parameters name, by call."""
    params = record.requestParameters or {}
    answer = record.responseElements or {}
    name = record.eventName
    if name in (
        "CreateRule",
        "ModifyListener",
        "AddListenerCertificates",
        "RemoveListenerCertificates",
        "ModifyListenerAttributes",
        "DeleteListener",
    ):
        return _strings([params.get("listenerArn")] if params.get("listenerArn") else []), []
    if name in ("ModifyRule", "DeleteRule"):
        return _strings([params.get("ruleArn")] if params.get("ruleArn") else []), []
    if name == "SetRulePriorities":
        pairs = params.get("rulePriorities")
        pairs = pairs if isinstance(pairs, list) else []
        return [
            str(p.get("ruleArn")) for p in pairs if isinstance(p, dict) and p.get("ruleArn")
        ], []
    if name in ("AddTags", "RemoveTags"):
        return _strings(params.get("resourceArns")), []
    if name == "CreateListener":
        made = answer.get("listeners")
        made = made if isinstance(made, list) else []
        return [
            str(m["listenerArn"]) for m in made if isinstance(m, dict) and m.get("listenerArn")
        ], []
    if name == "DeleteLoadBalancer":
        balancer = params.get("loadBalancerArn")
        return [], [str(balancer)] if balancer and _BALANCER.match(str(balancer)) else []
    return [], []


def _account(arn: str) -> str:
    return arn.split(":")[4] if arn.count(":") >= 5 else ""


def read_event(event: Any) -> Noted | Ignored:
    """The listeners an EventBridge event from CloudTrail names (or why it names none)."""
    try:
        parsed = CloudTrailEvent.model_validate(event)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "the event"
        event_id = str(event.get("id", "?")) if isinstance(event, dict) else "?"
        return Ignored(f"not a CloudTrail event of ELBv2 ({where}: {first.get('msg')})", event_id)
    record = parsed.detail
    if record.errorCode:
        return Ignored(
            f"{record.eventName} failed ({record.errorCode}): nothing changed", parsed.id
        )
    if record.eventSource != EVENT_SOURCE or record.eventName not in CHANGE_NAMES:
        return Ignored(f"{record.eventName} changes nothing a snapshot holds", parsed.id)
    if record.recipientAccountId and record.recipientAccountId != parsed.account:
        return Ignored(
            f"the record's account {record.recipientAccountId} is not the event's {parsed.account}",
            parsed.id,
        )
    named, balancers = _named(record)
    listeners: list[str] = []
    for arn in named:
        listener = listener_of(arn)
        if listener is None:
            continue  # a target group's or a load balancer's tags: not a listener's
        if _account(listener) != parsed.account or listener.split(":")[3] != parsed.region:
            return Ignored(
                f"{record.eventName} names {listener}, not in the event's account "
                f"{parsed.account} and region {parsed.region}",
                parsed.id,
            )
        listeners.append(listener)
    for balancer in balancers:
        if _account(balancer) != parsed.account or balancer.split(":")[3] != parsed.region:
            return Ignored(
                f"{record.eventName} names {balancer}, not in the event's account "
                f"{parsed.account} and region {parsed.region}",
                parsed.id,
            )
    if not listeners and not balancers:
        return Ignored(f"{record.eventName} names no listener", parsed.id)
    change = ChangeEvent.from_cloudtrail(record.model_dump())
    if change.account is None or change.region is None:
        change = change.model_copy(update={"account": parsed.account, "region": parsed.region})
    return Noted(
        event=change,
        listener_arns=list(dict.fromkeys(listeners)),
        load_balancer_arns=list(dict.fromkeys(balancers)),
        deletes=record.eventName in DELETIONS,
    )


def by_restore(
    event: ChangeEvent, listener_arn: str, writer_roles: list[str], member_role_name: str | None
) -> bool:
    """Whether the event was made by one of albrules's own restore writers: the stack's apply
    and roll-back function roles, or the member write role in the listener's account (the
    session's issuer, as CloudTrail records it)."""
    if not event.issuer:
        return False
    roles = {r for r in writer_roles if r}
    if member_role_name:
        partition = listener_arn.split(":")[1] if listener_arn.count(":") >= 5 else "aws"
        roles.add(f"arn:{partition}:iam::{_account(listener_arn)}:role/{member_role_name}")
    return event.issuer in roles


def log_ignored(ignored: Ignored) -> None:
    log.info("CloudTrail event %s ignored: %s", ignored.event_id, ignored.reason)
