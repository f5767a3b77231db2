"""Send a decision to the stack's DecisionFunction URL, signed with the caller's credentials.

The URL's ``AuthType`` is ``AWS_IAM``: Lambda authenticates the SigV4 signature (service
``lambda``, the URL's Region) and checks ``lambda:InvokeFunctionUrl`` and
``lambda:InvokeFunction`` before the function runs, and the function takes the decider from
that authentication. So the request carries only what is decided.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from .errors import AlbRulesError, ApprovalError, AwsCallFailed, DecisionUndelivered, InvalidInput

TIMEOUT = 60.0
_REGION_IN_HOST = re.compile(r"\.lambda-url\.([a-z0-9-]+)\.on\.aws$")
_REGION_IN_LOCAL_PATH = re.compile(r"/_albrules/function-urls/([a-z0-9-]+)/")


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def region_of_url(url: str, default: str | None = None) -> str:
    """The Region a function URL is in: from its host (``<id>.lambda-url.<region>.on.aws``) or
    the local AWS's path, else ``default``."""
    parsed = urlparse(url)
    found = _REGION_IN_HOST.search(parsed.hostname or "") or _REGION_IN_LOCAL_PATH.search(
        parsed.path
    )
    if found:
        return found.group(1)
    if default:
        return default
    raise InvalidInput(f"cannot tell the Region of {url}; pass --region")


def signed_post(url: str, payload: dict[str, Any], credentials: Any, region: str) -> Answer:
    """POST ``payload`` as JSON to ``url``, SigV4-signed for Lambda in ``region``."""
    if credentials is None:
        raise AwsCallFailed(
            "no AWS credentials were found to sign the decision; pass --profile or set AWS "
            "credentials",
            code="NoCredentials",
        )
    body = json.dumps(payload).encode()
    request = AWSRequest(
        method="POST", url=url, data=body, headers={"Content-Type": "application/json"}
    )
    SigV4Auth(credentials, "lambda", region).add_auth(request)
    prepared = urllib.request.Request(
        url, data=body, method="POST", headers=dict(request.headers.items())
    )
    try:
        with urllib.request.urlopen(prepared, timeout=TIMEOUT) as response:
            return Answer(response.status, _json(response.read()))
    except urllib.error.HTTPError as err:
        return Answer(err.code, _json(err.read()))
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise AwsCallFailed(
            f"could not reach the decision URL {url}: {getattr(err, 'reason', err)}; check the "
            "stack's DecisionUrl output (or --decision-url)",
            code="EndpointConnectionError",
        ) from None


def _json(data: bytes) -> dict[str, Any]:
    try:
        found = json.loads(data or b"{}")
    except ValueError:
        return {"message": data.decode("utf-8", "replace")[:500]}
    return found if isinstance(found, dict) else {"message": str(found)}


def send_decision(
    url: str,
    credentials: Any,
    region: str,
    execution_arn: str,
    decision: str,
    reason: str = "",
) -> dict[str, Any]:
    """Decide through the DecisionFunction; its answer, or the typed error its refusal means
    (ApprovalError: exit 2; DecisionUndelivered or a failure: exit 1)."""
    answer = signed_post(
        url,
        {"execution_arn": execution_arn, "decision": decision, "reason": reason},
        credentials,
        region,
    )
    message = str(answer.body.get("message") or answer.body.get("Message") or "")
    if answer.status == 200:
        return answer.body
    if answer.status in (400, 409) or answer.body.get("error") == "SelfApproval":
        raise ApprovalError(message or f"the decision was refused ({answer.status})")
    if answer.status == 503:
        raise DecisionUndelivered(message or "the decision is recorded but not delivered yet")
    if answer.status == 403:
        raise AwsCallFailed(
            f"the decision URL refused your credentials ({message or 'Forbidden'}); an approver "
            "needs lambda:InvokeFunctionUrl and lambda:InvokeFunction on the stack's "
            "DecisionFunction",
            code="AccessDenied",
        )
    raise AlbRulesError(f"the decision URL answered {answer.status}: {message or 'no message'}")
