"""Step Functions as AWS documents it, where moto 5.2.5's interpreter differs.

- StartExecution without a ``name``: AWS names the execution with a UUID; moto names it
  ``None`` (the ARN ends in ``:None``), so every unnamed execution would share one ARN.
- SendTaskFailure: AWS hands the ``cause`` to the waiting task (a Catch sees it at
  ``$.error.Cause``); moto's API layer drops it.
"""

from __future__ import annotations

import inspect
import uuid
from typing import Any

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    StepFunctionsParserBackend.start_execution = start_execution

    from moto.core.responses import ActionResult, EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self: Any) -> ActionResult:
        backend = self.stepfunction_backend
        kwargs = {"error": self._get_param("error")}
        if "cause" in inspect.signature(backend.send_task_failure).parameters:
            kwargs["cause"] = self._get_param("cause")
        backend.send_task_failure(self._get_param("taskToken"), **kwargs)
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure
    _installed = True
