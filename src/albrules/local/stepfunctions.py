"""Step Functions as AWS documents it, where moto 5.2.5's interpreter differs.

- StartExecution without a ``name``: AWS names the execution with a UUID; moto names it
  ``None`` (the ARN ends in ``:None``), so every unnamed execution would share one ARN.
"""

from __future__ import annotations

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
    _installed = True
