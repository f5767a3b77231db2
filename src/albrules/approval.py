"""Approvals: signed, expiring review links, and the decision that resumes a restore.

A restore that needs approval waits on a Step Functions task token. The token itself never
leaves AWS: it is kept in the catalog table with a random nonce. The links in the approval
request carry ``base64url(payload).base64url(HMAC-SHA256(key, payload))`` where the payload
names the execution, the link's kind, the nonce and the expiry. A guessed link fails the HMAC,
an old link fails the nonce or the expiry.

Every link opens the same review page (:mod:`albrules.approval_page`, served by the approval
function): what will change, who started it, when the request expires, and the commands that
decide. The page decides nothing: a public link establishes no identity.

:func:`decide` is what the DecisionFunction (an ``AWS_IAM`` function URL) runs for the IAM
caller it authenticated: four eyes against the requester CloudTrail recorded
(:mod:`albrules.requester`), the decision recorded before it is delivered, delivery retried by
the next identical decision if Step Functions throttled it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .aws import THROTTLING_CODES, Aws, as_albrules_error, error_code
from .catalog import Catalog
from .errors import (
    AlbRulesError,
    ApprovalError,
    DecisionUndelivered,
    RequesterUnknown,
    SelfApproval,
)
from .plan import Plan
from .requester import Principal, started_by
from .store import read_bytes
from .workflows import ExecutionPosition

Decision = Literal["approve", "reject"]
LinkKind = Literal["approve", "reject", "review"]
DECIDED = {"approve": "approved", "reject": "rejected"}
LINK_KINDS: tuple[LinkKind, ...] = ("review", "approve", "reject")


class LinkExpired(ApprovalError):
    """A genuine link whose approval request has expired."""

    def __init__(self, message: str, claim: LinkClaim):
        super().__init__(message)
        self.claim = claim


class AlreadyDecided(ApprovalError):
    """The approval was already approved or rejected; ``record`` says by whom and when."""

    def __init__(self, message: str, record: dict[str, Any]):
        super().__init__(message)
        self.record = record


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class LinkClaim:
    execution_arn: str
    decision: LinkKind
    nonce: str
    expires_at: int

    @property
    def default_decision(self) -> Decision | None:
        """What a POST that names no decision decides (None for a review link)."""
        return self.decision if self.decision in DECIDED else None  # type: ignore[return-value]


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def sign(key: bytes, claim: LinkClaim) -> str:
    payload = json.dumps(
        {"e": claim.execution_arn, "d": claim.decision, "n": claim.nonce, "x": claim.expires_at},
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


class LinkNotSigned(ApprovalError):
    """A well-formed link whose signature does not verify with the key given."""


# A token is base64url(payload) "." base64url(32-byte HMAC): the payload (execution ARN of at
# most ~300 characters, kind, nonce, expiry) is well under 700 characters encoded.
MAX_TOKEN_CHARS = 1024
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,960}\.[A-Za-z0-9_-]{43}$")
_EXECUTION = re.compile(
    r"^arn:aws[a-z-]*:states:[a-z0-9-]{1,32}:\d{12}:execution:[^\s:<>&\"'`]{1,80}:"
    r"[^\s:<>&\"'`]{1,80}$"
)
_NONCE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MALFORMED = "this approval link is malformed; nothing was done"


def screen_token(token: str, *, now: float | None = None) -> tuple[LinkClaim, bytes, bytes]:
    """The claim a token says it carries, checked for shape and expiry only (no key, no AWS
    call, bounded work): ApprovalError if malformed or over-long, LinkExpired if expired.
    The claim is not verified: :func:`verify_token` checks its signature. Returns the claim,
    the payload and the MAC."""
    if len(token) > MAX_TOKEN_CHARS or not _TOKEN.match(token):
        raise ApprovalError(_MALFORMED)
    body, mac = token.split(".", 1)
    try:
        payload, given = _unb64(body), _unb64(mac)
        data = json.loads(payload)
    except (ValueError, TypeError):  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise ApprovalError(_MALFORMED) from None
    if not isinstance(data, dict) or set(data) != {"e", "d", "n", "x"}:
        raise ApprovalError(_MALFORMED)
    execution, kind, nonce, expires = data["e"], data["d"], data["n"], data["x"]
    if (
        not isinstance(execution, str)
        or not _EXECUTION.match(execution)
        or kind not in LINK_KINDS
        or not isinstance(nonce, str)
        or not _NONCE.match(nonce)
        or not isinstance(expires, int)
        or isinstance(expires, bool)
        or not 0 < expires < 2**40
    ):
        raise ApprovalError(_MALFORMED)
    claim = LinkClaim(execution, kind, nonce, expires)
    if claim.expires_at <= (now if now is not None else time.time()):
        raise LinkExpired(
            "this approval link has expired; the restore was not changed by it", claim
        )
    return claim, payload, given


def verify_token(key: bytes, token: str, *, now: float | None = None) -> LinkClaim:
    """The claim in a link token, or ApprovalError if it is malformed (LinkNotSigned if its
    signature does not verify with ``key``; LinkExpired if it is genuine but expired)."""
    try:
        claim, payload, given = screen_token(token, now=now)
    except LinkExpired as expired:
        if not is_signed(key, token):
            raise LinkNotSigned("this approval link is not valid; nothing was done") from None
        raise expired from None
    if not hmac.compare_digest(hmac.new(key, payload, hashlib.sha256).digest(), given):
        raise LinkNotSigned("this approval link is not valid; nothing was done")
    return claim


def is_signed(key: bytes, token: str) -> bool:
    """Whether a token's signature verifies with ``key`` (its shape aside)."""
    body, _, mac = token.partition(".")
    try:
        payload, given = _unb64(body), _unb64(mac)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(hmac.new(key, payload, hashlib.sha256).digest(), given)


def links(
    base_url: str, key: bytes, execution_arn: str, nonce: str, expires_at: int
) -> dict[str, str]:
    """The links for one pending approval: ``review`` (the one to send: its page has both
    buttons), and ``approve`` and ``reject``, which open the same page."""
    base = base_url.rstrip("/") + "/"
    return {
        kind: f"{base}?token=" + sign(key, LinkClaim(execution_arn, kind, nonce, expires_at))
        for kind in LINK_KINDS
    }


# --- what the review page shows ---------------------------------------------------------------


@dataclass(frozen=True)
class Review:
    """One pending approval as the review page shows it."""

    claim: LinkClaim
    listener_arn: str
    requested_at: str
    audit: dict[str, Any]  # requested_by, started_at, reason, snapshot
    plan: Plan | None
    warnings: list[str]
    plan_location: str
    plan_problem: str | None = None  # why the plan could not be read
    # a whole load balancer's restore: each listener's plan (its port or id, the plan)
    listener_plans: list[tuple[str, Plan]] = field(default_factory=list)
    requester: dict[str, Any] | None = None  # verified (CloudTrail), when already known
    self_approval_allowed: bool = False  # the stack's AllowSelfApproval


def pending(catalog: Catalog, claim: LinkClaim) -> dict[str, Any]:
    """The approval record the link is for, if it can still be decided; else ApprovalError
    (AlreadyDecided once decided). Never returns a record of another link."""
    record = catalog.approval(claim.execution_arn)
    if record is None:
        raise ApprovalError(
            f"no approval is pending for {claim.execution_arn}; the restore may have ended"
        )
    status = str(record.get("status", ""))
    if status != "pending":
        raise AlreadyDecided(
            f"the restore {claim.execution_arn} was already {status} by "
            f"{record.get('decided_by', '?')}; nothing was done",
            record,
        )
    if record.get("nonce") != claim.nonce:
        raise ApprovalError(
            f"this approval link is not the current one for {claim.execution_arn} (a newer "
            "request replaced it); nothing was done"
        )
    return record


def load_review(
    aws: Aws, catalog: Catalog, claim: LinkClaim, *, self_approval_allowed: bool = False
) -> Review:
    """What the page of a valid link shows: the approval, the audit record and the plan.

    The audit record is the approval item's copy of it (``audit``, written when approval was
    asked): the public function may read approval items only. A plan that cannot be read is
    reported on the page (``plan_problem``), not raised: the approver can still reject, or
    decide from the terminal."""
    record = pending(catalog, claim)
    audit = dict(record.get("audit") or {})
    location = str(record.get("plan_location") or "")
    plan: Plan | None = None
    listener_plans: list[tuple[str, Plan]] = []
    warnings: list[str] = []
    problem = None
    try:
        if not location:
            raise ApprovalError("the approval record names no plan")
        body = read_bytes(location, aws)
        approved = record.get("plan_sha256")
        if approved and hashlib.sha256(body).hexdigest() != approved:
            raise ApprovalError(
                f"the plan document {location} is not the plan this approval asks about (it "
                "was replaced after the request); reject it, the restore will not apply it"
            )
        document = json.loads(body)
        if "plan" not in document and isinstance(document.get("listeners"), list):
            listener_plans = _listener_plans(aws, document["listeners"])
        else:
            plan = Plan.model_validate(document["plan"])
        warnings = [str(w) for w in document.get("warnings") or []]
    except AlbRulesError as err:
        problem = str(err)
    except (ValueError, KeyError, TypeError) as err:
        problem = f"the plan document {location} is not a plan ({type(err).__name__})"
    return Review(
        claim=claim,
        listener_arn=str(record.get("listener_arn") or audit.get("listener_arn") or ""),
        requested_at=str(record.get("requested_at") or ""),
        audit=audit,
        plan=plan,
        warnings=warnings,
        plan_location=location,
        plan_problem=problem,
        listener_plans=listener_plans,
        requester=record.get("requester") if isinstance(record.get("requester"), dict) else None,
        self_approval_allowed=self_approval_allowed,
    )


def _listener_plans(aws: Aws, listeners: list[Any]) -> list[tuple[str, Plan]]:
    """Each listener's plan that a whole-load-balancer plan lists, read and checked against
    the SHA-256 the whole plan (itself checked) binds it to."""
    found: list[tuple[str, Plan]] = []
    for item in listeners:
        location = str(item.get("plan_location") or "")
        body = read_bytes(location, aws)
        if hashlib.sha256(body).hexdigest() != item.get("plan_sha256"):
            raise ApprovalError(
                f"the plan document {location} is not the one the whole plan lists (it was "
                "replaced after the request); reject it, the restore will not apply it"
            )
        label = f"port {item['port']}" if item.get("port") else str(item.get("listener_arn"))
        found.append((label, Plan.model_validate(json.loads(body)["plan"])))
    return found


def check_waiting(where: ExecutionPosition | None, *, always_asks: bool = False) -> None:
    """Refuse (ApprovalError, saying where the restore is) a decision on a restore that
    cannot be waiting for one: it has ended, or it asks for approval (its input's
    ``require_approval``, or ``always_asks`` under ApprovalPolicy ``required``) and has not
    reached its approval step yet (no state waiting for a task token entered). No execution
    (``None``), or one at or past that step, passes: :func:`decide` says if one is pending."""
    if where is None:
        return
    arn = where.execution_arn
    if where.finished:
        raise ApprovalError(
            f"no approval is pending for {arn}: the restore already ended, {where.ending()}; "
            "nothing was done"
        )
    asked = always_asks or (
        isinstance(where.input, dict) and where.input.get("require_approval") is True
    )
    if asked and not where.callbacks:
        at = f"it is at '{where.state}'" if where.state else "it has not entered a state yet"
        raise ApprovalError(
            f"no approval is pending for {arn} yet: {at}; try again when the approval "
            "request arrives"
        )


# --- deciding ---------------------------------------------------------------------------------

SELF_APPROVAL = "you started this restore; someone else must approve it"
REQUESTER_UNKNOWN = "the requester is not known from CloudTrail yet; try again in a few minutes"
GONE_CODES = ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist")
SEND_ATTEMPTS = 3  # botocore's standard retries of a throttled SendTask*, then "run it again"


def requester_of(
    aws: Any, catalog: Catalog, execution_arn: str, record: dict[str, Any], started: Any = None
) -> Principal | None:
    """The verified requester of a restore: from its approval record, else CloudTrail's
    StartExecution event (kept in the record once found). None while CloudTrail has no event
    yet, or cannot be asked (logged by the caller's door)."""
    known = Principal.from_record(record.get("requester"))
    if known is not None:
        return known
    try:
        found = started_by(aws.client("cloudtrail"), execution_arn, started)
    except AlbRulesError:
        return None
    if found is not None:
        catalog.update_approval(execution_arn, {"requester": found.public()})
    return found


def plan_digest(aws: Any, record: dict[str, Any]) -> str | None:
    """The SHA-256 of the plan the approval is for: the record's ``plan_sha256`` (bound when
    the approval was requested), else the plan document's bytes as stored now."""
    bound = record.get("plan_sha256")
    if bound:
        return str(bound)
    location = str(record.get("plan_location") or "")
    if not location:
        return None
    try:
        return hashlib.sha256(read_bytes(location, aws)).hexdigest()
    except AlbRulesError:
        return None


def decide(
    aws: Any,
    catalog: Catalog,
    execution_arn: str,
    decision: Decision,
    *,
    by: str,
    reason: str = "",
    allow_self_approval: bool = False,
    started: Any = None,
) -> dict[str, Any]:
    """Record the decision of ``by`` (an identity AWS authenticated: the decision function's
    IAM caller), then deliver it: resume (approve) or end (reject) the waiting restore.

    - Four eyes: unless ``allow_self_approval``, the verified requester (CloudTrail) cannot
      approve (:class:`SelfApproval`), and an approval whose requester CloudTrail does not
      show yet is refused (:class:`RequesterUnknown`). Anyone may reject.
    - Durable: the decision is recorded first (status ``approved``/``rejected``,
      ``delivered`` false), then sent; a send that stays throttled raises
      :class:`DecisionUndelivered` with the decision still recorded, and the same call again
      delivers it (:func:`deliver`). A decided and delivered approval is
      :class:`AlreadyDecided`.
    """
    record = catalog.approval(execution_arn)
    if record is None:
        raise ApprovalError(
            f"no approval is pending for {execution_arn}; check the execution ARN "
            "(only restores that wait for approval have one)"
        )
    status = str(record.get("status", ""))
    if status in DECIDED.values():
        if record.get("delivered") is False:  # recorded earlier, never delivered: deliver it
            delivered = deliver(aws, catalog, execution_arn, record)
            if status == DECIDED[decision]:
                return delivered
        raise AlreadyDecided(
            f"the restore {execution_arn} was already {status} by "
            f"{record.get('decided_by', '?')}; nothing was done",
            record,
        )
    if status != "pending":
        raise ApprovalError(
            f"no approval is pending for {execution_arn} (it is {status or 'unknown'}); "
            "nothing was done"
        )
    if decision == "reject" and not reason.strip():
        raise ApprovalError("a rejection needs a reason; pass --reason")
    requester = requester_of(aws, catalog, execution_arn, record, started)
    if decision == "approve" and not allow_self_approval:
        if requester is None:
            raise RequesterUnknown(f"{REQUESTER_UNKNOWN}; nothing was done")
        if requester.arn == by:
            raise SelfApproval(SELF_APPROVAL)
    digest = plan_digest(aws, record)
    recorded = catalog.decide_approval(
        execution_arn,
        str(record.get("nonce", "")),
        DECIDED[decision],
        by,
        reason,
        extra={
            "requester": requester.public() if requester else None,
            "plan_sha256": digest,
        },
    )
    return deliver(aws, catalog, execution_arn, recorded)


def _stepfunctions(aws: Any) -> Any:
    """A Step Functions client whose throttling retries are few: a decision that cannot be
    delivered soon is left recorded for the next attempt, not retried for a minute."""
    session = getattr(aws, "session", None)
    if session is None:
        return aws.client("stepfunctions")
    config = Config(retries={"mode": "standard", "total_max_attempts": SEND_ATTEMPTS})
    return session.client("stepfunctions", config=config)


def deliver(
    aws: Any, catalog: Catalog, execution_arn: str, record: dict[str, Any]
) -> dict[str, Any]:
    """Send a recorded decision to the waiting task, then mark it delivered."""
    status = str(record["status"])
    by = str(record.get("decided_by") or "?")
    reason = str(record.get("reason") or "")
    at = str(record.get("decided_at") or datetime.now(UTC).isoformat(timespec="seconds"))
    requester = Principal.from_record(record.get("requester"))
    outcome = {
        "decision": status,
        "by": by,
        "at": at,
        "requester": requester.arn if requester else None,
        "plan_sha256": record.get("plan_sha256"),
    }
    sfn = _stepfunctions(aws)
    try:
        if status == "approved":
            sfn.send_task_success(taskToken=record["task_token"], output=json.dumps(outcome))
        else:
            sfn.send_task_failure(
                taskToken=record["task_token"],
                error="ApprovalRejected",
                cause=f"rejected by {by}: {reason}"[:32000],
            )
    except ClientError as err:
        code = error_code(err)
        if code in GONE_CODES:
            catalog.update_approval(execution_arn, {"undeliverable": code})
            raise ApprovalError(
                f"the restore {execution_arn} is no longer waiting for approval (it timed out "
                "or was stopped); nothing was done"
            ) from None
        if code in THROTTLING_CODES:
            raise DecisionUndelivered(
                f"the restore {execution_arn} is recorded as {status} by {by}, but Step "
                f"Functions throttled the decision ({code}) {SEND_ATTEMPTS} times; run the "
                "same command again in a minute to deliver it"
            ) from None
        raise as_albrules_error(err, service="states", where=execution_arn) from err
    except BotoCoreError as err:
        raise as_albrules_error(err, service="states", where=execution_arn) from err
    catalog.update_approval(
        execution_arn,
        {"delivered": True, "delivered_at": datetime.now(UTC).isoformat(timespec="seconds")},
    )
    return {"execution_arn": execution_arn, "delivered": True, **outcome}
