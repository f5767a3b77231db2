"""The approval function (a Lambda function URL): the links in an approval request land here.

``GET ?token=...`` checks the signed token and shows the review page (what the restore will
change, who started it, when the request expires, and the ``albrules approve`` / ``reject``
commands). The page is review-only: a public URL cannot establish an AWS identity, so a
``POST`` decides nothing and says to use the CLI, whose decisions the DecisionFunction
(AWS_IAM) takes as the signed caller. A forged or expired link (403), or one already decided or
replaced (409), shows a page that says so. The pages are :mod:`albrules.approval_page`.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response

from .. import approval, approval_page
from ..errors import AlbRulesError, ApprovalError
from ..runtime_env import getenv
from .runtime import logger
from .settings import KEY_REFRESH_SECONDS, Settings

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
    """POST decides nothing: the page is review-only (decisions need an AWS identity)."""
    return _response(approval_page.review_only_page())


def _review(settings: Settings, claim: approval.LinkClaim, token: str) -> dict[str, Any]:
    try:
        review = approval.load_review(
            settings.home(),
            settings.catalog(),
            claim,
            self_approval_allowed=getenv("ALBRULES_ALLOW_SELF_APPROVAL") == "true",
        )
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
