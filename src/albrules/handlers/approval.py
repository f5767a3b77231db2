"""The approval function (a Lambda function URL): the links in an approval request land here.

``GET ?token=...`` checks the signed token and shows a page with one button; only the
``POST`` that button sends takes the decision, so a mail scanner that follows links cannot
approve anything. A forged, expired or used link shows a page that says so and does nothing.
"""

from __future__ import annotations

import base64
import html
from typing import Any
from urllib.parse import parse_qs

from .. import approval
from ..errors import AlbRulesError
from .common import MetricUnit, Settings, logger, metrics, task

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}}
button{{font-size:1.1em;padding:.5em 1.5em}}textarea{{width:100%}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""


def _page(status: int, title: str, body: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
        "body": PAGE.format(title=html.escape(title), body=body),
    }


def _form(event: dict[str, Any]) -> dict[str, str]:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body).items()}


@task
def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    method = event.get("requestContext", {}).get("http", {}).get("method", "GET").upper()
    settings = Settings.load()
    fields = _form(event) if method == "POST" else dict(event.get("queryStringParameters") or {})
    token = fields.get("token", "")
    try:
        claim = approval.verify_token(settings.signing_key(), token)
    except AlbRulesError as err:
        return _page(403, "This link does nothing", f"<p>{html.escape(str(err))}</p>")
    what = html.escape(claim.execution_arn)
    if method != "POST":
        reason = (
            '<p><label>Reason<br><textarea name="reason" required></textarea></label></p>'
            if claim.decision == "reject"
            else ""
        )
        return _page(
            200,
            f"{claim.decision.capitalize()} this restore?",
            f"<p>Execution <code>{what}</code></p>"
            f'<form method="post"><input type="hidden" name="token" '
            f'value="{html.escape(token)}">{reason}'
            f"<button type=submit>{claim.decision.capitalize()}</button></form>",
        )
    source = event.get("requestContext", {}).get("http", {}).get("sourceIp", "unknown address")
    try:
        decided = approval.decide(
            settings.home(),
            settings.catalog(),
            claim.execution_arn,
            claim.decision,
            by=f"approval link from {source}",
            reason=fields.get("reason", ""),
            nonce=claim.nonce,
        )
    except AlbRulesError as err:
        return _page(409, "Nothing was done", f"<p>{html.escape(str(err))}</p>")
    logger.info("approval decided", extra=decided)
    metrics.add_metric(name=f"Approvals.{decided['decision']}", unit=MetricUnit.Count, value=1)
    return _page(200, f"Restore {decided['decision']}", f"<p>Execution <code>{what}</code></p>")
