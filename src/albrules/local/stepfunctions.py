"""Step Functions as AWS documents it, where moto 5.2.5's interpreter differs.

- StartExecution without a ``name``: AWS names the execution with a UUID; moto names it
  ``None`` (the ARN ends in ``:None``), so every unnamed execution would share one ARN.
- SendTaskFailure: AWS hands the ``cause`` to the waiting task (a Catch sees it at
  ``$.error.Cause``); moto's API layer drops it.
- StopExecution of an execution waiting for a task token aborts it (ABORTED), as on AWS;
  moto leaves it RUNNING until the token comes or the task times out, then FAILED.
- A Distributed Map's ResultWriter: AWS writes the child executions' results to
  ``<Prefix>/<map run id>/SUCCEEDED_0.json`` (a JSON array of execution records whose
  ``Output`` is the child's output as a JSON string) and lists those files in
  ``manifest.json``; moto writes the manifest with every list empty and drops the results.
  Here the results are written as AWS does. moto keeps only the outputs, so each record
  carries ``Output`` and ``Status`` (``Input`` is ``{}``); child failures past a Catch fail
  the whole Map in moto, so there is no ``FAILED_0.json``.
"""

from __future__ import annotations

import inspect
import json
import uuid
from typing import Any

_installed = False

# The patches below assign to moto's methods on purpose, hence ``ignore[method-assign]``.


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

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]

    from moto.core.responses import ActionResult, EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self: Any) -> ActionResult:
        backend = self.stepfunction_backend
        kwargs = {"error": self._get_param("error")}
        if "cause" in inspect.signature(backend.send_task_failure).parameters:
            kwargs["cause"] = self._get_param("cause")
        backend.send_task_failure(self._get_param("taskToken"), **kwargs)
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]
    _install_result_writer()
    _install_stop_while_waiting()
    from .asl_validation import install as install_asl_validation
    from .map_batches import install as install_map_batches

    install_map_batches()
    install_asl_validation()
    _installed = True


RESULTS_PER_FILE = 1000


def _install_result_writer() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (  # noqa: E501
        resource_eval_s3,
    )
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    def put_object(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        parameters = env.stack.pop()
        results = env.stack.pop()
        s3 = boto_client_for(
            service="s3", region=resource_runtime_part.region, state_credentials=state_credentials
        )
        record = env.map_run_record_pool_manager.get_all().pop()
        run_id = record.map_run_arn.split(":")[-1]
        prefix = parameters.get("Prefix", "")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        bucket = parameters["Bucket"]
        files = []
        items = results if isinstance(results, list) else []
        for index, start in enumerate(range(0, len(items), RESULTS_PER_FILE)):
            rows = [
                {
                    "Input": "{}",
                    "InputDetails": {"Included": True},
                    "Output": json.dumps(output),
                    "OutputDetails": {"Included": True},
                    "Status": "SUCCEEDED",
                }
                for output in items[start : start + RESULTS_PER_FILE]
            ]
            body = json.dumps(rows).encode()
            key = f"{prefix}{run_id}/SUCCEEDED_{index}.json"
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            files.append({"Key": key, "Size": len(body)})
        manifest = {
            "DestinationBucket": bucket,
            "MapRunArn": record.map_run_arn,
            "ResultFiles": {"FAILED": [], "PENDING": [], "SUCCEEDED": files},
        }
        key = f"{prefix}{run_id}/manifest.json"
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest, indent=2).encode())
        env.stack.append(
            {
                "MapRunArn": record.map_run_arn,
                "ResultWriterDetails": {"Bucket": bucket, "Key": key},
            }
        )

    evaluator = resource_eval_s3.ResourceEvalS3
    evaluator._handle_put_object = staticmethod(put_object)  # type: ignore[method-assign]


def _install_stop_while_waiting() -> None:
    """StopExecution of an execution waiting for a task token: AWS aborts it at once (status
    ABORTED, an ExecutionAborted event); moto sets the stop but the waiting task keeps
    waiting (for its token or its timeout), so the execution stays RUNNING, and when that task
    then fails, moto's error overwrites the stop (status FAILED). Here the stop also wakes
    every task of the execution that waits for a token, and a stopped program stays stopped
    (ABORTED). The woken task logs a TaskTimedOut event before the ExecutionAborted one,
    which AWS would not."""
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution import Execution

    original = Execution.stop
    set_error, set_timed_out = Environment.set_error, Environment.set_timed_out

    def keep_stopped_on_error(self: Any, error: Any) -> None:
        if not isinstance(self._program_state, ProgramStopped):
            set_error(self, error)

    def keep_stopped_on_timeout(self: Any) -> None:
        if not isinstance(self._program_state, ProgramStopped):
            set_timed_out(self)

    Environment.set_error = keep_stopped_on_error  # type: ignore[method-assign]
    Environment.set_timed_out = keep_stopped_on_timeout  # type: ignore[method-assign]

    def stop(self: Any, stop_date: Any, error: Any, cause: Any) -> None:
        original(self, stop_date, error, cause)
        env = getattr(self.exec_worker, "env", None)
        pool = getattr(getattr(env, "callback_pool_manager", None), "_pool", {})
        for endpoint in list(pool.values()):
            endpoint.interrupt_all()

    Execution.stop = stop  # type: ignore[method-assign]
