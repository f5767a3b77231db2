"""Step Functions in the local AWS rejects the definitions AWS rejects (moto accepts anything).

CreateStateMachine and UpdateStateMachine run :mod:`albrules.local.asl_rules` first and fail
with AWS's ``InvalidDefinition`` error and message; then moto's own checks run (its parser, in
the executing backend). ``ValidateStateMachineDefinition``, which moto 5.2 does not route, is
answered as AWS documents it: ``result`` OK or FAIL, ``diagnostics`` (severity, code, message,
location; at most ``maxResults``, default and maximum 100, 0 meaning the default) and
``truncated``. Only ERROR diagnostics exist here (AWS's WARNING codes, NO_DOLLAR and the like,
are not checked), so ``severity`` changes nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .asl_rules import Finding, check_text, error_message

MAX_DIAGNOSTICS = 100
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.core.exceptions import AWSError
    from moto.core.responses import ActionResult
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    class InvalidDefinition(AWSError):
        TYPE = "InvalidDefinition"
        STATUS = 400

    def checked(original: Callable[..., Any], position: int) -> Callable[..., Any]:
        @functools.wraps(original)
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            definition = kwargs.get("definition")
            if definition is None and len(args) > position:
                definition = args[position]
            if definition is not None:
                findings = check_text(definition)
                if findings:
                    raise InvalidDefinition(error_message(findings))
            return original(self, *args, **kwargs)

        return method

    # (name, roleArn... for create; arn, definition... for update): the definition's position
    for backend in (StepFunctionBackend, StepFunctionsParserBackend):
        for name, position in (("create_state_machine", 1), ("update_state_machine", 1)):
            if name in vars(backend):
                setattr(backend, name, checked(getattr(backend, name), position))

    def validate_state_machine_definition(self: Any) -> ActionResult:
        findings = check_text(self._get_param("definition") or "")
        if not findings:
            findings = _moto_findings(self._get_param("definition"))
        limit = int(self._get_param("maxResults") or 0) or MAX_DIAGNOSTICS
        diagnostics = [
            {"severity": "ERROR", "code": f.code, "message": f.message, "location": f.location}
            for f in findings
        ]
        return ActionResult(
            {
                "result": "FAIL" if findings else "OK",
                "diagnostics": diagnostics[: min(limit, MAX_DIAGNOSTICS)],
                "truncated": len(diagnostics) > min(limit, MAX_DIAGNOSTICS),
            }
        )

    StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition  # type: ignore[attr-defined]
    _installed = True


def _moto_findings(definition: str) -> list[Finding]:
    """What moto's parser (the executing backend's check) rejects beyond asl_rules."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    try:
        AmazonStateLanguageParser.parse(definition)
    except Exception as err:
        return [Finding("SCHEMA_VALIDATION_FAILED", str(err), "/")]
    return []
