"""Approvals: signed, expiring, single-use links, and the decision that resumes a restore.

A restore that needs approval waits on a Step Functions task token. The token itself never
leaves AWS: it is kept in the catalog table with a random nonce. The links in the approval
request carry ``base64url(payload).base64url(HMAC-SHA256(key, payload))`` where the payload
names the execution, the decision, the nonce and the expiry. A guessed link fails the HMAC, an
old link fails the nonce or the expiry, and a used link fails the table's conditional update,
so each does nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from .aws import Aws, error_code, explain
from .catalog import Catalog
from .errors import ApprovalError

Decision = Literal["approve", "reject"]
DECIDED = {"approve": "approved", "reject": "rejected"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class LinkClaim:
    execution_arn: str
    decision: Decision
    nonce: str
    expires_at: int


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


def verify_token(key: bytes, token: str, *, now: float | None = None) -> LinkClaim:
    """The claim in a link token, or ApprovalError if it is forged, malformed or expired."""
    try:
        body, mac = token.split(".", 1)
        payload = _unb64(body)
        given = _unb64(mac)
    except (ValueError, TypeError):
        raise ApprovalError("this approval link is malformed; nothing was done") from None
    if not hmac.compare_digest(hmac.new(key, payload, hashlib.sha256).digest(), given):
        raise ApprovalError("this approval link is not valid; nothing was done") from None
    data = json.loads(payload)
    claim = LinkClaim(data["e"], data["d"], data["n"], int(data["x"]))
    if claim.decision not in DECIDED:
        raise ApprovalError("this approval link is not valid; nothing was done")
    if claim.expires_at <= (now if now is not None else time.time()):
        raise ApprovalError("this approval link has expired; the restore was not changed by it")
    return claim


def links(base_url: str, key: bytes, execution_arn: str, nonce: str, expires_at: int) -> dict:
    """The approve and reject links for one pending approval."""
    base = base_url.rstrip("/") + "/"
    return {
        decision: f"{base}?token="
        + sign(key, LinkClaim(execution_arn, decision, nonce, expires_at))
        for decision in ("approve", "reject")
    }


def decide(
    aws: Aws,
    catalog: Catalog,
    execution_arn: str,
    decision: Decision,
    *,
    by: str,
    reason: str = "",
    nonce: str | None = None,
) -> dict[str, Any]:
    """Record the decision once and resume (approve) or end (reject) the waiting restore.

    ``nonce`` comes from a signed link; the CLI, whose caller IAM already authenticates, reads
    the current one from the table.
    """
    if nonce is None:
        pending = catalog.approval(execution_arn)
        if pending is None:
            raise ApprovalError(
                f"no approval is pending for {execution_arn}; check the execution ARN "
                "(only restores started with require_approval wait for one)"
            )
        nonce = str(pending.get("nonce", ""))
    if decision == "reject" and not reason.strip():
        raise ApprovalError("a rejection needs a reason; pass --reason")
    record = catalog.decide_approval(execution_arn, nonce, DECIDED[decision], by, reason)
    sfn = aws.client("stepfunctions")
    at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        if decision == "approve":
            sfn.send_task_success(
                taskToken=record["task_token"],
                output=json.dumps({"decision": "approved", "by": by, "at": at}),
            )
        else:
            sfn.send_task_failure(
                taskToken=record["task_token"],
                error="ApprovalRejected",
                cause=f"rejected by {by}: {reason}"[:32000],
            )
    except ClientError as err:
        if error_code(err) in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist"):
            raise ApprovalError(
                f"the restore {execution_arn} is no longer waiting for approval (it timed out "
                "or was stopped); nothing was done"
            ) from None
        raise explain(err, service="states", where=execution_arn) from err
    except BotoCoreError as err:
        raise explain(err, service="states", where=execution_arn) from err
    return {"execution_arn": execution_arn, "decision": DECIDED[decision], "by": by, "at": at}
