"""Run Python Lambda functions in-process, from their own deployment package.

moto 5.2.5 runs a Lambda function in Docker (``LambdaFunction._invoke_lambda``), or, under
``mock_aws(config={"lambda": {"use_docker": False}})``, not at all (``LambdaSimpleBackend``
echoes the payload). :func:`install` patches both so that a Python function whose package
holds its handler's module (``Handler: app.handler`` and an ``app.py`` in the zip, as
``albrules local deploy`` packages each ``functions/<task>/`` folder) is unpacked, its module
imported from there, and its handler called here with the decoded event and a small Lambda
context, as the Lambda runtime would. What a layer would add (albrules and its dependencies)
is the installed package:

- the return value is the JSON payload;
- an exception becomes Lambda's error payload ``{"errorType": <class name>, "errorMessage":
  str(exc), "stackTrace": [...]}`` with ``X-Amz-Function-Error: Unhandled``. moto's Step
  Functions interpreter takes ``errorType`` as the error name that ``Retry``/``Catch`` match
  (``state_task_service_lambda.py`` and ``state_task_lambda.py``), as AWS does;
- the function's configured variables (CreateFunction ``Environment``) plus Lambda's reserved
  ones are visible through :func:`function_environment` and ``albrules.runtime_env.getenv``
  for the duration of the call, never through ``os.environ`` (executions run concurrently in
  threads).

Reserved concurrency (``PutFunctionConcurrency``, CloudFormation's
``ReservedConcurrentExecutions``) is enforced as AWS documents it: a project function runs at
most that many invocations at once, and an invocation beyond them is throttled, ``Invoke``
answering HTTP 429 ``TooManyRequestsException`` (``Reason``
``ReservedFunctionConcurrentInvocationLimitExceeded``) without running the handler; 0
throttles every invocation. moto 5.2.5 stores the setting and ignores it. The account's
concurrency quota is AWS's default, 1,000 (``MOTO_LAMBDA_CONCURRENCY_QUOTA``, set unless
given), so moto's own check of AWS's rule applies: a reservation that would leave fewer than
100 unreserved is refused (``InvalidParameterValueException``). Not modelled: Lambda's
requests-per-second limit (ten times the concurrency) and the scaling rate; an asynchronous
(``Event``) invocation beyond the reservation is throttled here too, where AWS would queue it.

**Execution roles.** AWS runs a function with its execution role's temporary credentials
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN`` in its environment;
the session is ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/FUNCTION``). Here each invocation's
environment carries such a session of the function's role, from moto's STS
(:func:`role_credentials`, one per function, reused until five minutes before it expires), and
``albrules.accounts.home()`` builds its session from them (they are not in ``os.environ``:
other invocations run in other threads). So a function's calls are its role's in CloudTrail
(:mod:`albrules.local.cloudtrail`) and in the bucket policy's ``aws:PrincipalArn``
(:mod:`albrules.local.s3`). moto evaluates no identity policy, so the role's permissions are
not enforced; a boto3 client a handler makes by itself (not through ``accounts``) still uses
the process's default credentials.

Every other function keeps moto's behaviour.

In the server process (``python -m albrules.local.server``) the handler's own boto3 calls must
reach that same server: :func:`configure_server` (called once at server start) points the
process's default endpoint and credentials at it, and each invocation environment carries
the endpoint too (and its role's credentials, above). In-process under ``mock_aws`` moto
intercepts the handler's boto3 calls itself.

**Timeouts.** Each function runs within its ``Timeout`` (template.yaml's, through
CreateFunction; Lambda's default is 3 s), as Lambda enforces it: past it the invocation fails
with Lambda's timeout error (payload ``{"errorType": "Sandbox.Timedout", "errorMessage":
"RequestId: ... Error: Task timed out after N.00 seconds"}``, ``X-Amz-Function-Error:
Unhandled``; Step Functions' task then fails with error ``Sandbox.Timedout``), and the
handler's thread can make no further AWS call (:func:`call_handler` says how, and its limits).
moto 5.2.5 ignores the timeout. Tests shorten it with :func:`set_timeout`.

Tests can run code just before a function runs: :func:`before_invoke` / :func:`clear_hooks`.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import importlib.util
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from types import ModuleType
from typing import Any

from ..runtime_env import INVOCATION_ENV

_installed = False
_lock = threading.Lock()
_hooks: list[tuple[str, Callable[[Any, LambdaContext], None]]] = []
_server_endpoint: str | None = None
_in_flight: dict[str, int] = {}  # function ARN -> invocations running now
ACCOUNT_CONCURRENCY = "1000"  # AWS's default regional quota of concurrent executions


class InvocationAborted(BaseException):
    """Cuts off a Lambda invocation (``faults.inject_lambda``): a BaseException, so the
    handler's ``except Exception`` does not see it (its ``finally`` blocks still run), and
    Invoke answers ``code`` (HTTP 500)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class LambdaContext:
    """The parts of the Lambda context object that handlers and Powertools read."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    timeout_seconds: float = 3
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        left = self.timeout_seconds - (time.monotonic() - self.started)
        return max(0, int(left * 1000))


# --- public API -----------------------------------------------------------------------------


def function_environment() -> Mapping[str, str]:
    """The environment of the function running in this context (empty outside an invocation)."""
    return INVOCATION_ENV.get() or {}


def before_invoke(
    function_name_suffix: str, callback: Callable[[Any, LambdaContext], None]
) -> None:
    """Call ``callback(event, context)`` just before any project function whose name ends with
    ``function_name_suffix`` runs (in-process only; an exception there fails the invocation)."""
    with _lock:
        _hooks.append((function_name_suffix, callback))


def clear_hooks() -> None:
    """Remove the :func:`before_invoke` hooks and :func:`set_timeout` overrides."""
    with _lock:
        _hooks.clear()
        _timeouts.clear()


def configure_server(port: int, host: str = "127.0.0.1") -> None:
    """In the server process, once at start: execute state machines (moto's
    ``execute_state_machine`` setting, as ``/moto-api/config`` would set it) and make the
    handlers' boto3 calls reach this server."""
    global _server_endpoint
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {
        **default_user_config.get("stepfunctions", {}),
        "execute_state_machine": True,
    }
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    _server_endpoint = f"http://{host}:{port}"
    # This process is the local AWS: whatever it inherited, its own AWS calls (the handlers')
    # go to itself, with dummy credentials (never a user's real keys or profile).
    os.environ["AWS_ENDPOINT_URL"] = _server_endpoint
    os.environ["AWS_ACCESS_KEY_ID"] = "test"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "test"
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(name, None)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def serving() -> bool:
    """Whether this process is the local AWS server (:func:`configure_server` ran)."""
    return _server_endpoint is not None


def handler_file(handler: str) -> str:
    """The file a handler's module is in, inside a package: ``app.handler`` -> ``app.py``."""
    module = handler.rpartition(".")[0]
    return module.replace(".", "/") + ".py"


def is_project_function(fn: Any) -> bool:
    """A Python function whose package holds its handler's module (run here, in-process)."""
    if not str(getattr(fn, "run_time", "") or "").startswith("python"):
        return False
    handler = str(getattr(fn, "handler", "") or "")
    code = getattr(fn, "code_bytes", b"") or b""
    if "." not in handler or not code:
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            return handler_file(handler) in archive.namelist()
    except zipfile.BadZipFile:
        return False


_modules: dict[tuple[str, str], ModuleType] = {}


def _code_folder(fn: Any) -> Path:
    """The function's package, unpacked once per code version (its SHA-256)."""
    sha = str(fn.code_sha_256 or hashlib.sha256(fn.code_bytes).hexdigest())
    safe = "".join(c if c.isalnum() else "_" for c in sha)[:64]
    folder = Path(tempfile.gettempdir()) / "albrules-lambda-code" / safe
    if not folder.is_dir():
        staging = folder.with_name(f"{safe}.{uuid.uuid4().hex}")
        with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
            archive.extractall(staging)
        try:
            staging.rename(folder)
        except OSError:  # another thread unpacked it first
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def load_handler(fn: Any) -> Callable[[Any, Any], Any]:
    """Import the handler's module from the function's own package, once per code version.

    Each package is its own module namespace (every function's module is called ``app``)."""
    module_path, _, function_name = str(fn.handler).rpartition(".")
    folder = _code_folder(fn)
    key = (str(folder), module_path)
    with _lock:
        module = _modules.get(key)
        if module is None:
            name = f"_albrules_lambda_{folder.name[:16]}_{module_path.replace('.', '_')}"
            spec = importlib.util.spec_from_file_location(name, folder / handler_file(fn.handler))
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot import {module_path} from {folder}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            _modules[key] = module
    handler: Callable[[Any, Any], Any] = getattr(module, function_name)
    return handler


def install() -> None:
    """Patch moto's Lambda so the project's functions run here (idempotent)."""
    global _installed
    if _installed:
        return
    from moto.awslambda.models import LambdaFunction
    from moto.awslambda_simple.models import LambdaSimpleBackend

    os.environ.setdefault("MOTO_LAMBDA_CONCURRENCY_QUOTA", ACCOUNT_CONCURRENCY)

    original_invoke = LambdaFunction.invoke
    original_simple = LambdaSimpleBackend.invoke

    def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> Any:
        if not is_project_function(self):
            return original_invoke(self, body, request_headers, response_headers)
        return run(self, body, request_headers, response_headers)

    def simple_invoke(
        self: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> Any:
        fn = self.get_function(function_name, qualifier)
        if not is_project_function(fn):
            return original_simple(self, function_name, qualifier, body, headers, response_headers)
        payload = run(fn, body, headers, response_headers)
        response_headers["Content-Length"] = str(len(payload))
        return payload

    _install_call_guard()
    LambdaFunction.invoke = invoke  # type: ignore[method-assign]
    LambdaSimpleBackend.invoke = simple_invoke  # type: ignore[method-assign]
    _installed = True


# --- one invocation -------------------------------------------------------------------------


def _decode(body: Any) -> Any:
    if body is None or body == b"" or body == "":
        return {}
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if isinstance(body, str):
        return json.loads(body)
    return body


ROLE_SESSION_SECONDS = 3600
_role_sessions: dict[tuple[str, str, str], Any] = {}  # (account, role, function) -> AssumedRole


def role_credentials(fn: Any) -> dict[str, str] | None:
    """The function's execution role's temporary credentials, as Lambda gives a function
    (session ``assumed-role/ROLE/FUNCTION``, from moto's STS), reused until five minutes before
    they expire; None if the role cannot be assumed."""
    role = str(getattr(fn, "role", "") or "")
    if not role.startswith("arn:") or ":role/" not in role:
        return None
    from moto.sts.models import sts_backends

    account = str(fn.account_id)
    backend = sts_backends[account][role.split(":")[1]]
    key = (account, role, str(fn.function_name))
    with _lock:
        session = _role_sessions.get(key)
        fresh = (
            session is not None
            and session in backend.assumed_roles  # not from an earlier (reset) local AWS
            and _expires(session) > time.time() + 300
        )
        if not fresh:
            try:
                session = backend.assume_role(
                    region_name=fn.region,
                    role_session_name=str(fn.function_name)[:64],
                    role_arn=role,
                    policy=None,  # type: ignore[arg-type]
                    duration=ROLE_SESSION_SECONDS,
                    external_id=None,  # type: ignore[arg-type]
                )
            except Exception:  # the function then runs with the local AWS's default credentials
                return None
            _role_sessions[key] = session
    assert session is not None
    return {
        "AWS_ACCESS_KEY_ID": session.access_key_id,
        "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
        "AWS_SESSION_TOKEN": session.session_token,
    }


def _expires(session: Any) -> float:
    when = session.expiration  # moto's: naive UTC
    return float(when.replace(tzinfo=when.tzinfo or UTC).timestamp())


def _environment(fn: Any) -> dict[str, str]:
    env = {
        "AWS_REGION": fn.region,
        "AWS_DEFAULT_REGION": fn.region,
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
        "AWS_LAMBDA_LOG_GROUP_NAME": fn.logs_group_name,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
        "_HANDLER": fn.handler,
    }
    if _server_endpoint:
        env["AWS_ENDPOINT_URL"] = _server_endpoint
        env["AWS_ACCESS_KEY_ID"] = env["AWS_SECRET_ACCESS_KEY"] = "test"
    env.update({k: str(v) for k, v in (fn.environment_vars or {}).items()})
    env.update(role_credentials(fn) or {})  # reserved: a function's variables cannot set them
    return env


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _error_payload(err: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(err).__name__,
        "errorMessage": str(err),
        "stackTrace": [  # the handler's frames, not this runtime's
            line
            for frame, line in zip(
                traceback.extract_tb(err.__traceback__),
                traceback.format_tb(err.__traceback__),
                strict=True,
            )
            if frame.filename != __file__
        ],
    }


class InvocationTimedOut(BaseException):
    """Raised in the thread of an invocation that ran past its timeout, at its next AWS call:
    Lambda has frozen that sandbox, so nothing it would still do may land. A BaseException,
    so the handler's ``except Exception`` does not catch it."""


@dataclass
class _Invocation:
    function_name: str
    request_id: str
    timed_out: bool = False


_CURRENT: contextvars.ContextVar[_Invocation | None] = contextvars.ContextVar(
    "albrules_lambda_invocation", default=None
)
_timeouts: list[tuple[str, float]] = []  # (function name suffix, seconds): tests' overrides


def set_timeout(function_name_suffix: str, seconds: float) -> None:
    """Run project functions whose name ends with ``function_name_suffix`` with this timeout
    instead of their configured one (tests: a short timeout; :func:`clear_hooks` undoes it)."""
    with _lock:
        _timeouts.append((function_name_suffix, float(seconds)))


def timeout_of(fn: Any) -> float:
    """The function's timeout: a test's override, else its configuration (``Timeout`` from
    template.yaml, through CreateFunction), else Lambda's default of 3 seconds."""
    with _lock:
        for suffix, seconds in reversed(_timeouts):
            if str(fn.function_name).endswith(suffix):
                return seconds
    return float(fn.timeout or 3)


def _check_alive(*_: Any, **__: Any) -> None:
    """Before every botocore API call: the invocation this thread runs is not past its
    timeout (else InvocationTimedOut: the call is never sent)."""
    invocation = _CURRENT.get()
    if invocation is not None and invocation.timed_out:
        raise InvocationTimedOut(
            f"{invocation.function_name} ({invocation.request_id}) timed out; its later calls "
            "are not made"
        )


def _install_call_guard() -> None:
    """Every botocore client checks :func:`_check_alive` before it sends a call (in this
    process: the handlers' clients, whichever session made them)."""
    from botocore.client import BaseClient

    original = BaseClient._make_api_call
    if getattr(original, "_albrules_guarded", False):
        return

    def _make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
        _check_alive()
        result = original(self, operation_name, api_params)
        _check_alive()  # a call sent before the timeout lands; the handler goes no further
        return result

    _make_api_call._albrules_guarded = True  # type: ignore[attr-defined]
    BaseClient._make_api_call = _make_api_call


def _timed_out(request_id: str, seconds: float) -> dict[str, Any]:
    """Lambda's error payload for a timeout (Invoke: HTTP 200, ``X-Amz-Function-Error:
    Unhandled``); Step Functions names the task's error after ``errorType``."""
    return {
        "errorType": "Sandbox.Timedout",
        "errorMessage": (
            f"RequestId: {request_id} Error: Task timed out after {seconds:.2f} seconds"
        ),
    }


def call_handler(fn: Any, event: Any) -> tuple[Any, BaseException | None]:
    """Import and call the function's handler, within its timeout; (result, None) or (error
    payload, exception).

    The handler runs in a thread of its own. If it has not returned when its timeout is up,
    the invocation ends there with Lambda's timeout error, and the thread is abandoned: it is
    marked timed out, so its next AWS call (any botocore client, checked before sending)
    raises :class:`InvocationTimedOut` instead of being sent. Limits: a call already sent
    when the timeout strikes still lands (as a request already on its way to AWS would), and
    the thread itself runs on until that next call or its end (Python cannot kill a thread);
    work that makes no AWS call is not stopped."""
    request_id = str(uuid.uuid4())
    timeout = timeout_of(fn)
    context = LambdaContext(
        function_name=fn.function_name,
        function_version=str(fn.version),
        invoked_function_arn=fn.function_arn,
        memory_limit_in_mb=int(fn.memory_size),
        aws_request_id=request_id,
        log_group_name=fn.logs_group_name,
        log_stream_name=f"{time.strftime('%Y/%m/%d')}/[{fn.version}]{request_id.replace('-', '')}",
        timeout_seconds=timeout,
    )
    invocation = _Invocation(str(fn.function_name), request_id)
    environment = {**_environment(fn), "_ALBRULES_REQUEST_ID": request_id}
    outcome: dict[str, Any] = {}

    def work() -> None:
        INVOCATION_ENV.set(environment)
        _CURRENT.set(invocation)
        try:
            with _lock:
                hooks = [cb for suffix, cb in _hooks if fn.function_name.endswith(suffix)]
            for hook in hooks:
                hook(event, context)
            outcome["result"] = load_handler(fn)(event, context)
        except InvocationTimedOut:
            pass  # abandoned: nobody reads this invocation's outcome any more
        except BaseException as err:  # handed to the caller's thread
            outcome["error"] = err

    worker = threading.Thread(
        target=contextvars.copy_context().run,
        args=(work,),
        name=f"lambda-{fn.function_name}-{request_id[:8]}",
        daemon=True,
    )
    worker.start()
    worker.join(max(0.0, timeout - (time.monotonic() - context.started)))
    if worker.is_alive():
        invocation.timed_out = True
        err = TimeoutError(f"Task timed out after {timeout:.2f} seconds")
        return _timed_out(request_id, timeout), err
    if "error" in outcome:
        failure: BaseException = outcome["error"]
        if isinstance(failure, InvocationAborted):  # faults.inject_lambda: the service failed
            raise _service_error(failure.code, str(failure)) from None
        if not isinstance(failure, Exception):
            raise failure
        return _error_payload(failure), failure
    return outcome.get("result"), None


def _reserved(fn: Any) -> int | None:
    value = getattr(fn, "reserved_concurrency", None)
    return None if value is None or value == "" else int(value)


def _service_error(code: str, message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    err = JsonRESTError(code, message)
    err.code = 500
    return err


def _throttled(fn: Any) -> Exception:
    from moto.core.exceptions import JsonRESTError

    err = JsonRESTError("TooManyRequestsException", "Rate Exceeded.")
    err.code = 429
    err.description = json.dumps(
        {
            "__type": "TooManyRequestsException",
            "message": "Rate Exceeded.",
            "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
            "Type": "User",
        }
    )
    return err


def run(fn: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    """Invoke a project function in-process, within its reserved concurrency (else throttled:
    TooManyRequestsException, nothing run); the Lambda Invoke response payload."""
    limit = _reserved(fn)
    key = str(fn.function_arn)
    with _lock:
        running = _in_flight.get(key, 0)
        if limit is not None and running >= limit:
            raise _throttled(fn)
        _in_flight[key] = running + 1
    try:
        return _run(fn, body, request_headers, response_headers)
    finally:
        with _lock:
            _in_flight[key] -= 1


def in_flight(function_arn: str) -> int:
    """How many invocations of a project function are running now (for tests)."""
    with _lock:
        return _in_flight.get(function_arn, 0)


def _run(fn: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    result: Any  # the handler's result, or the error payload
    failed: BaseException | None
    try:
        event = _decode(body)
    except (ValueError, UnicodeDecodeError) as err:
        result, failed = _error_payload(err), err
        result["errorType"] = "Runtime.UnmarshalError"
    else:
        result, failed = call_handler(fn, event)
    try:
        payload = json.dumps(result)
    except (TypeError, ValueError) as err:
        result, failed = _error_payload(err), err
        result["errorType"] = "Runtime.MarshalError"
        payload = json.dumps(result, default=str)
    invocation_type = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
    if failed is not None and invocation_type == "RequestResponse":
        response_headers["x-amz-function-error"] = "Unhandled"
    if invocation_type == "RequestResponse":
        response_headers["x-amz-log-result"] = base64.b64encode(
            f"ran {fn.handler} in-process\n".encode()
        ).decode()
    response_headers["x-amz-executed-version"] = str(fn.version)
    return payload.encode("utf-8")
