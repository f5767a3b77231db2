"""Fault injection for the local AWS: make the nth call of an ELBv2 or Step Functions
operation fail, or make a Lambda invocation die after its nth mutating ELBv2 call.

Used by tests, the demo and ``albrules local fault`` to show what a restore does when AWS
fails part-way (the automatic rollback), or what a decision does when Step Functions
throttles ``SendTaskSuccess`` (it stays recorded). Faults live in the emulator process.
Step Functions errors are JSON errors (``ThrottlingException`` for a throttle), HTTP 400.

:func:`inject_lambda` is a Lambda service error after partial work: once an invocation of a
function whose name contains ``function`` has made ``after_calls`` mutating ELBv2 calls
(each took effect), the invocation is cut off there
(:class:`albrules.local.lambdas.InvocationAborted`, which the
handler cannot catch) and ``Invoke`` answers HTTP 500 ``ServiceException``, which Step
Functions names ``Lambda.ServiceException`` and its ``Retry`` retries. (In-process only: the
handler runs in the emulator's thread.)
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

import botocore.session
from moto.core.utils import camelcase_to_underscores
from moto.elbv2 import responses as elbv2_responses
from moto.elbv2.exceptions import ELBClientError

_LOCK = threading.Lock()


@dataclass
class Fault:
    """Fail the ``nth`` call (counted from now) of ``operation``, ``times`` times in a row.

    ``operation`` is an ELBv2 operation name or a comma-separated list of them (calls to any
    of them count); ``times=0`` fails every call from the nth on (a storm). With ``after``
    the call takes effect before the error is returned (a response lost on the way back).
    """

    operation: str
    code: str = "InternalFailure"
    message: str = "injected by albrules local AWS"
    nth: int = 1
    times: int = 1
    after: bool = False
    seen: int = 0
    fired: int = 0

    def hit(self) -> bool:
        self.seen += 1
        if self.seen < self.nth:
            return False
        if self.times and self.fired >= self.times:
            return False
        self.fired += 1
        return True


FAULTS: list[Fault] = []

#: Every ELBv2 operation a restore can make (for "fail the kth mutating call").
MUTATING = (
    "CreateRule",
    "ModifyRule",
    "DeleteRule",
    "SetRulePriorities",
    "AddTags",
    "RemoveTags",
    "ModifyListener",
    "AddListenerCertificates",
    "RemoveListenerCertificates",
    "ModifyListenerAttributes",
    "CreateListener",  # recreating a deleted listener
    "DeleteListener",  # and its rollback
)


@dataclass
class LambdaFault:
    """Cut off the next ``times`` invocations of ``function`` after ``after_calls`` mutating
    ELBv2 calls each; with 0, at its first mutating call, before that call takes effect
    (``code`` is the Invoke API's error: ServiceException, HTTP 500)."""

    function: str
    after_calls: int = 1
    times: int = 1
    code: str = "ServiceException"
    message: str = "injected by albrules local AWS: the Lambda service failed mid-invocation"
    fired: int = 0


LAMBDA_FAULTS: list[LambdaFault] = []
_calls_in: dict[str, int] = {}  # request id of a running invocation -> its mutating calls


def inject_lambda(function: str, **kwargs: Any) -> LambdaFault:
    fault = LambdaFault(function=function, **kwargs)
    with _LOCK:
        LAMBDA_FAULTS.append(fault)
    return fault


def _lambda_fault_due(*, before: bool) -> None:
    """Cut the running invocation off if a fault says so: ``before`` a mutating call (faults
    with ``after_calls=0``: it dies before its first call takes effect), or after one (the
    others: it dies once it has made ``after_calls`` of them)."""
    from .lambdas import InvocationAborted, function_environment

    env = function_environment()
    name, request = env.get("AWS_LAMBDA_FUNCTION_NAME"), env.get("_ALBRULES_REQUEST_ID")
    if not name or not request:
        return
    with _LOCK:
        due = next(
            (
                f
                for f in LAMBDA_FAULTS
                if f.function in name
                and (not f.times or f.fired < f.times)
                and (f.after_calls == 0) == before
            ),
            None,
        )
        if due is None:
            return
        if not before:
            made = _calls_in[request] = _calls_in.get(request, 0) + 1
            if made < due.after_calls:
                return
        due.fired += 1
        _calls_in.pop(request, None)
    raise InvocationAborted(due.code, due.message)


def inject(operation: str, **kwargs: Any) -> Fault:
    fault = Fault(operation=operation, **kwargs)
    with _LOCK:
        FAULTS.append(fault)
    return fault


def clear() -> None:
    with _LOCK:
        FAULTS.clear()
        LAMBDA_FAULTS.clear()
        _calls_in.clear()


def listing() -> list[dict[str, Any]]:
    with _LOCK:
        return [asdict(f) for f in FAULTS]


def _due(operation: str) -> Fault | None:
    with _LOCK:
        for fault in FAULTS:
            if operation in fault.operation.split(",") and fault.hit():
                return fault
    return None


def _wrap(operation: str, handler: Any, error: Any = ELBClientError) -> Any:
    def handle(self: Any) -> Any:
        fault = _due(operation)
        if fault is None:
            if operation in MUTATING:
                _lambda_fault_due(before=True)
            response = handler(self)
            if operation in MUTATING:
                try:
                    _lambda_fault_due(before=False)
                except BaseException as aborted:  # the call took effect: CloudTrail records it
                    aborted.response = response  # type: ignore[attr-defined]
                    raise
            return response
        if fault.after:
            handler(self)
        raise error(fault.code, fault.message)

    handle.__name__ = handler.__name__
    handle._albrules_fault_wrapped = True  # type: ignore[attr-defined]
    return handle


def install() -> None:
    """Wrap every ELBv2 and Step Functions response handler with the fault check
    (idempotent; after the fidelity patches of those handlers)."""
    from moto.core.exceptions import JsonRESTError
    from moto.stepfunctions.responses import StepFunctionResponse

    services = (
        ("elbv2", elbv2_responses.ELBV2Response, ELBClientError),
        ("stepfunctions", StepFunctionResponse, JsonRESTError),
    )
    for service, cls, error in services:
        model = botocore.session.get_session().get_service_model(service)
        for operation in model.operation_names:
            name = camelcase_to_underscores(operation)
            handler = getattr(cls, name, None)
            if handler is None or getattr(handler, "_albrules_fault_wrapped", False):
                continue
            setattr(cls, name, _wrap(operation, handler, error))
