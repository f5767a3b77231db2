"""The approval function (a Lambda function URL): the links in an approval request land here.

``GET ?token=...`` checks the signed token and shows the review page (what the restore will
change, who asked, when the request expires) with an Approve and a Reject button; only the
``POST`` those buttons send (the token and the decision) decides, so a mail scanner that
follows links cannot approve anything. A forged or expired link (403), or one already used or
replaced (409), shows a page that says so and does nothing. The pages are
:mod:`albrules.approval_page`.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response

from .. import approval, approval_page
from ..errors import AlbRulesError, ApprovalError
from .runtime import MetricUnit, logger, metrics
from .settings import KEY_REFRESH_SECONDS, Settings

MAX_FORM_BYTES = 16 * 1024  # the page's form holds a token and a reason of at most 1,000 chars

app = LambdaFunctionUrlResolver()


def _response(page: dict[str, Any]) -> Response[str]:
    headers = dict(page.get("headers") or {})
    return Response(
        status_code=int(page["statusCode"]),
        content_type=headers.pop("Content-Type", "text/html; charset=utf-8"),
        body=str(page.get("body") or ""),
        headers=headers,
    )


def _claim(settings: Settings, token: str) -> approval.LinkClaim | dict[str, Any]:
    """The link's claim, or the page that says why it cannot be used.

    A malformed, over-long or expired token is refused before any AWS call (its shape and
    expiry are checked first, in bounded time); only a well-formed, unexpired one costs the
    signing key, which is cached across invocations (:meth:`Settings.signing_key`)."""
    try:
        approval.screen_token(token)
    except approval.LinkExpired as err:
        key = settings.cached_signing_key()  # genuine? say more, if it costs no AWS call
        if key is None:
            return approval_page.expired_link_page(err.claim.expires_at)
        if approval.is_signed(key, token):
            return approval_page.expired_page(err.claim)
        return approval_page.invalid_page("this approval link is not valid; nothing was done")
    except AlbRulesError as err:
        return approval_page.invalid_page(str(err))
    try:
        try:
            return approval.verify_token(settings.signing_key(), token)
        except approval.LinkNotSigned:
            if settings.signing_key_age() < KEY_REFRESH_SECONDS:
                raise
            return approval.verify_token(settings.signing_key(refresh=True), token)  # rotated?
    except approval.LinkExpired as err:
        return approval_page.expired_page(err.claim)
    except AlbRulesError as err:
        return approval_page.invalid_page(str(err))


@app.get("/")
def show_review() -> Response[str]:
    """GET only ever shows: the review page of a valid link (a mail scanner decides nothing)."""
    token = str(app.current_event.get_query_string_value("token") or "")
    settings = Settings.load()
    claim = _claim(settings, token)
    if isinstance(claim, dict):
        return _response(claim)
    return _response(_review(settings, claim, token))


@app.post("/")
def take_decision() -> Response[str]:
    """POST of the page's form (the token and the decision) decides, once."""
    body = app.current_event.decoded_body or ""
    if len(body) > MAX_FORM_BYTES:
        return _response(approval_page.message(413, "Nothing was done", "The form is too large."))
    fields = {k: v[0] for k, v in parse_qs(body).items()}
    settings = Settings.load()
    claim = _claim(settings, fields.get("token", ""))
    if isinstance(claim, dict):
        return _response(claim)
    source = str(app.current_event.request_context.http.source_ip or "unknown address")
    return _response(_decide(settings, claim, fields, source))


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
