"""Lambda function URLs, served by the local AWS.

moto 5.2.5 creates a function URL's configuration (``CreateFunctionUrlConfig`` returns an
``https://<url-id>.lambda-url.<region>.on.aws/`` address) but serves nothing there. This module
is the missing HTTP side, as AWS documents it ("Invoking Lambda function URLs", request and
response payloads, which follow API Gateway's payload format version 2.0):

- an HTTP request to ``<local AWS>/_albrules/function-urls/<region>/<function>/<path>`` becomes
  the function URL event (``version`` 2.0, ``rawPath``, ``rawQueryString``, ``cookies``,
  lower-cased ``headers``, ``queryStringParameters`` with repeated names joined by commas,
  ``requestContext`` with ``http.method``/``path``/``protocol``/``sourceIp``/``userAgent``,
  ``body`` and ``isBase64Encoded``);
- the function is invoked through the local Lambda API (``Invoke``), so the project's
  in-process runtime (:mod:`albrules.local.lambdas`) runs the real handler with the function's
  own environment;
- its result becomes the HTTP response: ``statusCode``, ``headers``, ``cookies`` (one
  ``Set-Cookie`` each), ``body`` (base64-decoded when ``isBase64Encoded``); a result without
  ``statusCode`` is sent as JSON with status 200; a function error is a 502;
- a throttled invocation (the function's reserved concurrency in use:
  ``TooManyRequestsException`` from ``Invoke``, see :mod:`albrules.local.lambdas`) is a 429,
  and is not retried (the Lambda client here makes one attempt, as the URL front end does).

An ``AWS_IAM`` URL takes only SigV4-signed requests (service ``lambda``), as AWS does: the
signature is checked with the secret of the request's access key (an IAM user's, an assumed
role's, or the local default credentials: :mod:`albrules.local.identities`), and the caller's
identity policies must allow ``lambda:InvokeFunctionUrl`` and ``lambda:InvokeFunction`` on the
function (both are required since October 2025). Unsigned or not allowed: 403 ``Forbidden``
(``AccessDeniedException``); an unknown access key: 403 ``The security token included in the
request is invalid`` (``UnrecognizedClientException``); a wrong signature: 403
``InvalidSignatureException``; a timestamp more than 5 minutes off: 403 ``Signature expired``.
The function then gets ``requestContext.authorizer.iam`` (``accessKey``, ``accountId``,
``callerId``, ``userArn``, ``userId``) as AWS documents for function URL events. Not modelled:
the function's resource-based policy (a same-account caller needs an identity policy here),
cross-account callers, and the exact wording of AWS's 403 bodies other than ``Forbidden``.

Not confirmed against AWS (documented only loosely): which request content types arrive as
text rather than base64. Here ``text/*`` and JSON, XML and JavaScript types arrive as text and
everything else (``application/x-www-form-urlencoded`` included, as public reports say AWS
does) base64-encoded. Nor the body of a throttled URL's 429 (here ``{"Message": "Rate
Exceeded."}``); a request rate limit of ten times the reserved concurrency (reported, not
found in AWS's reference) is not modelled.

The local server (:mod:`albrules.local.server`) routes ``/_albrules/function-urls/`` here, and
``albrules local deploy`` gives each function URL that address (:func:`served_url`). In a test
process under ``mock_aws`` the same WSGI app can be served by any threaded WSGI server.
"""

from __future__ import annotations

import base64
import calendar
import hmac
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

PREFIX = "/_albrules/function-urls/"
TEXT_TYPES = ("text/", "json", "xml", "javascript")
MAX_BODY = 6 * 1024 * 1024  # Lambda's synchronous invocation payload limit

Headers = list[tuple[str, str]]
Response = tuple[int, Headers, bytes]


def served_url(endpoint: str | None, region: str, function_name: str) -> str | None:
    """Where the local AWS at ``endpoint`` serves a function's URL; None when ``endpoint`` is
    not a local AWS server (real AWS, or moto in-process, whose clients name AWS's hosts)."""
    if not endpoint:
        return None
    parsed = urlparse(endpoint)
    host = parsed.hostname or ""
    if (
        parsed.scheme not in ("http", "https")
        or not host
        or host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".on.aws"))
    ):
        return None
    return f"{endpoint.rstrip('/')}{PREFIX}{quote(region)}/{quote(function_name)}/"


# --- HTTP request -> function URL event -------------------------------------------------------


def is_text(content_type: str) -> bool:
    lowered = content_type.lower()
    return any(kind in lowered for kind in TEXT_TYPES)


def url_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Headers,
    body: bytes,
    source_ip: str,
    domain_name: str,
    protocol: str = "HTTP/1.1",
    now: float | None = None,
) -> dict[str, Any]:
    """The function URL event (payload format 2.0) for one HTTP request."""
    moment = time.time() if now is None else now
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        name = name.lower()
        if name == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path or "/",
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    if raw_query:
        params: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    url_id = domain_name.split(".", 1)[0]
    event["requestContext"] = {
        "accountId": "anonymous",  # AuthType NONE: no caller identity
        "apiId": url_id,
        "domainName": domain_name,
        "domainPrefix": url_id,
        "http": {
            "method": method.upper(),
            "path": raw_path or "/",
            "protocol": protocol,
            "sourceIp": source_ip,
            "userAgent": joined.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": "$default",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(moment)),
        "timeEpoch": int(moment * 1000),
    }
    encoded = False
    if body:
        text = None
        if is_text(joined.get("content-type", "")):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        encoded = text is None
        event["body"] = base64.b64encode(body).decode() if encoded else text
    event["isBase64Encoded"] = encoded
    return event


# --- function result -> HTTP response ---------------------------------------------------------


def http_response(payload: bytes, function_error: str | None = None) -> Response:
    """The HTTP response for a function's Invoke result, as a function URL sends it."""
    if function_error:
        return _plain(502, "Internal Server Error")
    try:
        result = json.loads(payload or b"null")
    except (ValueError, UnicodeDecodeError):
        return _plain(502, "Internal Server Error")
    if not isinstance(result, dict) or "statusCode" not in result:
        return 200, [("Content-Type", "application/json")], payload
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        return _plain(502, "Internal Server Error")
    headers: Headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers += [("Set-Cookie", str(c)) for c in result.get("cookies") or []]
    body = result.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        data = json.dumps(body).encode()
    elif result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body)
        except ValueError:
            return _plain(502, "Internal Server Error")
    else:
        data = body.encode("utf-8")
    return status, headers, data


def _plain(status: int, text: str) -> Response:
    if status == 502:  # what a function URL sends when the function fails
        return status, [("Content-Type", "text/plain; charset=utf-8")], text.encode()
    return status, [("Content-Type", "application/json")], json.dumps({"Message": text}).encode()


# --- the WSGI app ------------------------------------------------------------------------------


NO_RETRIES = Config(retries={"total_max_attempts": 1})  # a function URL does not retry a throttle


def _default_client(region: str) -> Any:
    # A session per request: boto3's default session is not safe to share between threads.
    return boto3.session.Session().client("lambda", region_name=region, config=NO_RETRIES)


class FunctionUrls:
    """WSGI app serving ``/_albrules/function-urls/<region>/<function>/...`` by invoking the
    function through the Lambda API that ``client(region)`` returns a client of."""

    def __init__(self, client: Callable[[str], Any] = _default_client):
        self.client = client

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        status, headers, body = self.respond(environ)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        start_response(f"{status} {phrase}".strip(), headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else body]

    def respond(self, environ: dict[str, Any]) -> Response:
        path = environ.get("PATH_INFO", "")
        region, _, rest = path[len(PREFIX) :].partition("/")
        function, slash, raw_path = rest.partition("/")
        region, function = unquote(region), unquote(function)
        if not region or not function:
            return (
                404,
                [("Content-Type", "application/json")],
                json.dumps(
                    {"error": f"no function URL at {path}; use {PREFIX}<region>/<function>/"}
                ).encode(),
            )
        lam = self.client(region)
        try:
            config = lam.get_function_url_config(FunctionName=function)
        except ClientError:
            _log(environ, f"{function} in {region} has no function URL")
            return 403, [("x-amzn-ErrorType", "AccessDeniedException"),
                         ("Content-Type", "application/json")], b'{"Message":null}'  # fmt: skip
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY:
            return _plain(413, "Request must be smaller than 6291456 bytes for the function")
        body = environ["wsgi.input"].read(length) if length else b""
        authorizer = None
        if config.get("AuthType") != "NONE":
            checked = authenticate(environ, body, region, str(config["FunctionArn"]))
            if not isinstance(checked, dict):
                _log(environ, f"{function}'s URL refused the request: {checked[2].decode()}")
                return checked
            authorizer = checked
        event = url_event(
            method=environ.get("REQUEST_METHOD", "GET"),
            raw_path="/" + raw_path if slash else "/",
            raw_query=environ.get("QUERY_STRING", ""),
            headers=request_headers(environ),
            body=body,
            source_ip=environ.get("REMOTE_ADDR", ""),
            domain_name=urlparse(config["FunctionUrl"]).hostname or "",
            protocol=environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        )
        if authorizer is not None:
            event["requestContext"]["authorizer"] = {"iam": authorizer}
            event["requestContext"]["accountId"] = str(config["FunctionArn"]).split(":")[4]
        try:
            answer = lam.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "TooManyRequestsException":
                raise
            _log(environ, f"{function} is throttled (its reserved concurrency is in use)")
            return _plain(429, "Rate Exceeded.")
        payload = answer["Payload"].read()
        error = answer.get("FunctionError")
        if error:
            _log(environ, f"{function} failed: {payload[:2000].decode('utf-8', 'replace')}")
        return http_response(payload, error)


# --- AWS_IAM: SigV4 --------------------------------------------------------------------------

FORBIDDEN = (
    "Forbidden. For troubleshooting Function URL authorization issues, see: "
    "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
)
MAX_SKEW = 5 * 60  # seconds: SigV4 requests must arrive within 5 minutes of their timestamp
INVOKE_ACTIONS = ("lambda:InvokeFunctionUrl", "lambda:InvokeFunction")


def _refuse(kind: str, message: str) -> Response:
    return (
        403,
        [("x-amzn-ErrorType", kind), ("Content-Type", "application/json")],
        json.dumps({"Message": message}).encode(),
    )


def _between(text: str, first: str, second: str) -> str:
    return text.partition(first)[2].partition(second)[0]


def authenticate(
    environ: dict[str, Any],
    body: bytes,
    region: str,
    function_arn: str,
    now: float | None = None,
) -> dict[str, Any] | Response:
    """The ``authorizer.iam`` of a signed request allowed to invoke the function, or the 403
    response AWS would send."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from .identities import access_key_of, allows, caller

    headers = dict(request_headers(environ))
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        return _refuse("AccessDeniedException", FORBIDDEN)
    access_key = access_key_of(authorization) or ""
    scope = _between(authorization, "Credential=", ",").split("/")
    signed = [h for h in _between(authorization, "SignedHeaders=", ",").split(";") if h]
    given = _between(authorization, "Signature=", ",").strip()
    stamp = headers.get("x-amz-date", "")
    who = caller(access_key)
    if who is None:
        return _refuse(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    if len(scope) != 5 or scope[2] != region or scope[3] != "lambda" or "host" not in signed:
        return _refuse("InvalidSignatureException", "Credential should be scoped correctly.")
    try:
        moment = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return _refuse("IncompleteSignatureException", "X-Amz-Date is missing or malformed.")
    if abs((time.time() if now is None else now) - moment) > MAX_SKEW:
        return _refuse("InvalidSignatureException", f"Signature expired: {stamp} is now earlier "
                       "or later than 5 minutes from the current time.")  # fmt: skip
    if who.session_token and headers.get("x-amz-security-token") != who.session_token:
        return _refuse(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    raw = str(
        environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", ""))
    )
    path, _, query = raw.partition("?")
    url = f"{environ.get('wsgi.url_scheme', 'http')}://{headers.get('host', '')}{path}"
    if query:
        url += f"?{query}"
    request = AWSRequest(
        method=environ.get("REQUEST_METHOD", "GET"),
        url=url,
        data=body,
        headers={k: v for k, v in headers.items() if k in signed},
    )
    request.context["timestamp"] = stamp
    auth = SigV4Auth(Credentials(access_key, who.secret_key, who.session_token), "lambda", region)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, given):
        return _refuse(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.",
        )
    if not allows(who, INVOKE_ACTIONS, function_arn):
        return _refuse("AccessDeniedException", FORBIDDEN)
    return who.authorizer_iam()


def request_headers(environ: dict[str, Any]) -> Headers:
    """The request's headers from a WSGI environ, plus the ``x-forwarded-*`` a function URL
    adds."""
    headers: Headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-").lower(), str(value)))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers.append((key.replace("_", "-").lower(), str(value)))
    headers += [
        ("x-forwarded-for", environ.get("REMOTE_ADDR", "")),
        ("x-forwarded-proto", environ.get("wsgi.url_scheme", "http")),
        ("x-forwarded-port", str(environ.get("SERVER_PORT", ""))),
    ]
    return headers


def _log(environ: dict[str, Any], text: str) -> None:
    stream = environ.get("wsgi.errors") or sys.stderr
    stream.write(f"albrules function URL: {text}\n")


#: The app the local server mounts.
app = FunctionUrls()
