"""The decision function (a Lambda function URL with ``AuthType: AWS_IAM``): where a restore is
approved or rejected.

Lambda authenticates every request (SigV4) and authorizes it (``lambda:InvokeFunctionUrl`` and
``lambda:InvokeFunction`` on this function) before the function runs, and hands the caller's
identity in ``requestContext.authorizer.iam``; its ``userArn`` is the decider. The body names
only what is decided: ``POST /`` with JSON ``{"execution_arn", "decision": "approve" |
"reject", "reason"}``. Nothing in the body says who decides.

The answer is JSON: 200 ``{"execution_arn", "decision", "by", "at", "requester",
"plan_sha256", "delivered": true}``; otherwise ``{"error", "message"}`` with 400 (bad request),
403 (four eyes: ``SelfApproval``; no IAM caller), 409 (nothing pending, already decided,
ended, requester not known yet) or 503 (``DecisionUndelivered``: recorded, not yet delivered;
the same request again delivers it). ``albrules approve`` / ``reject`` send it
(:mod:`albrules.decision_client`).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from botocore.exceptions import ClientError

from .. import approval, workflows
from ..aws import ACCESS_DENIED_CODES, error_code
from ..errors import (
    AlbRulesError,
    ApprovalError,
    DecisionUndelivered,
    InvalidInput,
    SelfApproval,
)
from ..runtime_env import getenv
from .runtime import MetricUnit, logger, metrics
from .settings import Settings

MAX_BODY = 8 * 1024
REASON_MAX = 2000

app = LambdaFunctionUrlResolver()


def _answer(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, default=str),
        headers={"Cache-Control": "no-store"},
    )


def _refused(status: int, err: Exception) -> Response[str]:
    return _answer(status, {"error": type(err).__name__, "message": str(err)})


def _request(text: str) -> tuple[str, approval.Decision, str]:
    """(execution ARN, decision, reason) from the request body, or InvalidInput."""
    if len(text) > MAX_BODY:
        raise InvalidInput(
            "the decision request is too large; send execution_arn, decision, reason"
        )
    try:
        body = json.loads(text or "{}")
    except ValueError:
        raise InvalidInput("the decision request is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("the decision request must be a JSON object")
    arn = body.get("execution_arn")
    decision = body.get("decision")
    reason = body.get("reason") or ""
    if not isinstance(arn, str) or ":execution:" not in arn:
        raise InvalidInput("execution_arn must be a Step Functions execution ARN")
    if decision not in approval.DECIDED:
        raise InvalidInput("decision must be approve or reject")
    if not isinstance(reason, str):
        raise InvalidInput("reason must be a string")
    return arn, decision, reason.strip()[:REASON_MAX]


@app.post("/")
def decide() -> Response[str]:
    """Approve or reject, as the authenticated caller."""
    event = app.current_event
    by = str(event.request_context.authorizer.iam.user_arn or "")
    if not by:  # AuthType AWS_IAM always sets it: without it, nobody is known to decide
        return _answer(403, {"error": "Forbidden", "message": "no IAM caller; sign the request"})
    try:
        arn, decision, reason = _request(event.decoded_body or "")
    except InvalidInput as err:
        return _refused(400, err)
    settings = Settings.load()
    home = settings.home()
    always_asks = getenv("ALBRULES_APPROVAL_POLICY") != "optional"
    try:
        try:
            where = workflows.position(home.client("stepfunctions"), arn)
        except ClientError as err:  # only words the answer: without it, decide still answers
            if error_code(err) not in ACCESS_DENIED_CODES:
                raise
            where = None
        approval.check_waiting(where, always_asks=always_asks)
        decided = approval.decide(
            home,
            settings.catalog(),
            arn,
            decision,
            by=by,
            reason=reason,
            allow_self_approval=getenv("ALBRULES_ALLOW_SELF_APPROVAL") == "true",
            started=where.started if where else None,
        )
    except SelfApproval as err:
        logger.warning("self-approval refused", extra={"execution_arn": arn, "by": by})
        metrics.add_metric(name="Approvals.self_refused", unit=MetricUnit.Count, value=1)
        return _refused(403, err)
    except ApprovalError as err:
        return _refused(409, err)
    except DecisionUndelivered as err:
        logger.warning("decision recorded, not delivered", extra={"execution_arn": arn})
        return _refused(503, err)
    except (AlbRulesError, ClientError) as err:
        logger.exception("decision failed", extra={"execution_arn": arn})
        return _refused(502, err)
    logger.info("approval decided", extra=decided)
    metrics.add_metric(name=f"Approvals.{decided['decision']}", unit=MetricUnit.Count, value=1)
    return _answer(200, decided)
