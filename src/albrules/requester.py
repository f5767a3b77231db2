"""Who started a restore, as AWS authenticated it: the ``StartExecution`` event in CloudTrail.

Whoever starts an execution, from the CLI, an SDK or the Step Functions console, calls
``StartExecution``; CloudTrail records that management event in the Region's event history
with the caller's ``userIdentity`` and the ``executionArn`` it returned. The restore's input
(``requested_by``) is the requester's own words; this is the identity AWS checked.

``LookupEvents`` (``cloudtrail:LookupEvents``, an action without resource-level permissions)
finds it: EventName ``StartExecution`` within a few minutes of the execution's start, matched
on ``responseElements.executionArn``. CloudTrail "typically delivers logs within an average of
about 5 minutes of an API call; this time is not guaranteed" (CloudTrail User Guide), so a
lookup made right after the start often finds nothing yet: callers try again later (the
approval request, then the decision), and a decision that needs the requester and cannot find
it refuses (fails closed). LookupEvents is limited to two requests per second per account and
Region; botocore's retries absorb its throttling.

An assumed-role session is named by its session ARN
(``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``, as a function URL's IAM context names its
caller); the role itself is kept as ``issuer``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws import as_albrules_error

EVENT_NAME = "StartExecution"
WINDOW = timedelta(minutes=15)  # around the execution's start: clocks and delivery vary
MAX_PAGES = 20  # 1,000 StartExecution events in that window at most


@dataclass(frozen=True)
class Principal:
    """An identity AWS authenticated."""

    arn: str
    kind: str = ""  # CloudTrail's userIdentity.type: IAMUser, AssumedRole, Root, ...
    issuer: str | None = None  # the role of an assumed-role session
    account: str | None = None

    def public(self) -> dict[str, Any]:
        found: dict[str, Any] = {"arn": self.arn, "type": self.kind}
        if self.issuer:
            found["issuer"] = self.issuer
        if self.account:
            found["account"] = self.account
        return found

    @classmethod
    def from_record(cls, value: Any) -> Principal | None:
        """A principal kept in a catalog record (:meth:`public`), or None."""
        if isinstance(value, dict) and value.get("arn"):
            return cls(
                arn=str(value["arn"]),
                kind=str(value.get("type") or ""),
                issuer=value.get("issuer"),
                account=value.get("account"),
            )
        return None


def principal_of(identity: dict[str, Any]) -> Principal | None:
    """The principal of a CloudTrail ``userIdentity``."""
    arn = identity.get("arn")
    if not arn:
        return None
    issuer = ((identity.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
    return Principal(
        arn=str(arn),
        kind=str(identity.get("type") or ""),
        issuer=str(issuer) if issuer else None,
        account=identity.get("accountId"),
    )


def _moment(started_at: datetime | str | None) -> datetime | None:
    if isinstance(started_at, datetime):
        return started_at if started_at.tzinfo else started_at.replace(tzinfo=UTC)
    if isinstance(started_at, str) and started_at:
        try:
            parsed = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def started_by(
    cloudtrail: Any, execution_arn: str, started_at: datetime | str | None = None
) -> Principal | None:
    """Who called StartExecution for ``execution_arn``, or None if CloudTrail has no such event
    (yet). Raises an AlbRulesError if CloudTrail cannot be asked (access denied, ...)."""
    kwargs: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": EVENT_NAME}],
        "MaxResults": 50,
    }
    moment = _moment(started_at)
    if moment is not None:
        kwargs["StartTime"] = moment - WINDOW
        kwargs["EndTime"] = moment + WINDOW
    try:
        for _ in range(MAX_PAGES):
            page = cloudtrail.lookup_events(**kwargs)
            for event in page.get("Events", []):
                found = _match(event, execution_arn)
                if found is not None:
                    return found
            if not page.get("NextToken"):
                return None
            kwargs["NextToken"] = page["NextToken"]
    except (ClientError, BotoCoreError) as err:
        raise as_albrules_error(
            err, service="cloudtrail", where="CloudTrail event history"
        ) from err
    return None


def _match(event: dict[str, Any], execution_arn: str) -> Principal | None:
    try:
        detail = json.loads(event.get("CloudTrailEvent") or "{}")
    except ValueError:
        return None
    answer = detail.get("responseElements") or {}
    if not isinstance(answer, dict) or answer.get("executionArn") != execution_arn:
        return None
    if detail.get("errorCode"):
        return None
    return principal_of(detail.get("userIdentity") or {})
