"""The approval function (a Lambda function URL): the links in an approval request land here.

``GET ?token=...`` checks the signed token and shows the review page (what the restore will
change, who asked, when the request expires) with an Approve and a Reject button; only the
``POST`` those buttons send (the token and the decision) decides, so a mail scanner that
follows links cannot approve anything. A forged or expired link (403), or one already used or
replaced (409), shows a page that says so and does nothing. The pages are
:mod:`albrules.approval_page`.
"""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import parse_qs

from .. import approval, approval_page
from ..errors import AlbRulesError, ApprovalError
from .common import MetricUnit, Settings, logger, metrics, task


def _form(event: dict[str, Any]) -> dict[str, str]:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body).items()}


@task
def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    http = event.get("requestContext", {}).get("http", {})
    method = str(http.get("method", "GET")).upper()
    fields = _form(event) if method == "POST" else dict(event.get("queryStringParameters") or {})
    settings = Settings.load()
    try:
        claim = approval.verify_token(settings.signing_key(), fields.get("token", ""))
    except approval.LinkExpired as err:
        return approval_page.expired_page(err.claim)
    except AlbRulesError as err:
        return approval_page.invalid_page(str(err))
    if method != "POST":  # GET (and anything else) only ever shows
        return _review(settings, claim, fields.get("token", ""))
    return _decide(settings, claim, fields, str(http.get("sourceIp") or "unknown address"))


def _review(settings: Settings, claim: approval.LinkClaim, token: str) -> dict[str, Any]:
    try:
        review = approval.load_review(settings.home(), settings.catalog(), claim)
    except approval.AlreadyDecided as err:
        return approval_page.decided_page(err.record, claim.execution_arn)
    except ApprovalError as err:
        return approval_page.message(409, "Nothing was done", str(err))
    except AlbRulesError as err:
        logger.error("the approval page could not load", extra={"error": str(err)})
        return approval_page.message(
            502, "The approval page could not load", f"{err}. Try again in a minute."
        )
    return approval_page.review_page(review, token, time.time())


def _decide(
    settings: Settings, claim: approval.LinkClaim, fields: dict[str, str], source: str
) -> dict[str, Any]:
    decision = fields.get("decision") or claim.default_decision
    if decision not in approval.DECIDED:
        return approval_page.message(
            400, "Nothing was done", "Choose Approve or Reject on the approval page."
        )
    reason = fields.get("reason", "").strip()[: approval_page.REASON_MAX]
    if decision == "reject" and not reason:
        return approval_page.message(
            400, "Nothing was done", "A rejection needs a reason: go back and write one."
        )
    by = f"approval link from {source}"
    catalog = settings.catalog()
    try:
        decided = approval.decide(
            settings.home(),
            catalog,
            claim.execution_arn,
            decision,  # type: ignore[arg-type]
            by=by,
            reason=reason,
            nonce=claim.nonce,
        )
    except ApprovalError as err:
        try:  # a second click: say who decided, from the record
            approval.pending(catalog, claim)
        except approval.AlreadyDecided as done:
            return approval_page.decided_page(done.record, claim.execution_arn)
        except ApprovalError:
            pass
        return approval_page.message(409, "Nothing was done", str(err))
    logger.info("approval decided", extra=decided)
    metrics.add_metric(name=f"Approvals.{decided['decision']}", unit=MetricUnit.Count, value=1)
    return approval_page.done_page(decision, claim.execution_arn, by, reason)
