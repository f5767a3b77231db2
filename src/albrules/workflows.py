"""Run the SAM application's state machines and read their outcome (``albrules run``).

Pure functions over a boto3 Step Functions client (and, to find a stack's machines, a
CloudFormation client or a local deployment), so the CLI, the tests and the demo share them.

Exit codes follow the CLI contract: 0 succeeded; a restore that failed with
``RestoreRolledBack`` 3, ``RollbackFailed`` 4, a refusal before any change 2; anything else 1.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from botocore.exceptions import ClientError

from .errors import InvalidInput
from .outcomes import EXIT_CODE_OF_ERROR

Kind = Literal["backup", "restore"]
KINDS: tuple[Kind, ...] = ("backup", "restore")
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"})
OUTPUT_KEYS: dict[str, str] = {
    "backup": "BackupStateMachineArn",
    "restore": "RestoreStateMachineArn",
}
# Restore failures that mean "refused before any change" (exit 2).
# What a restore execution's Fail error means for the exit code (albrules.outcomes, the one table).
RESTORE_EXIT = EXIT_CODE_OF_ERROR


@dataclass
class ExecutionOutcome:
    """How an execution ended (or where it stood when we stopped waiting)."""

    kind: str
    execution_arn: str
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    states: list[tuple[str, int]] = field(default_factory=list)  # (state, times entered)
    seconds: float = 0.0
    waited: bool = True

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    @property
    def exit_code(self) -> int:
        if not self.waited and self.status == "RUNNING":
            return 0  # started, as asked (--no-wait)
        return exit_code(self.kind, self.status, self.error)

    def public(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "execution_arn": self.execution_arn,
            "status": self.status,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
            "states": [{"name": n, "entered": c} for n, c in self.states],
            "seconds": round(self.seconds, 3),
            "exit_code": self.exit_code,
        }


def exit_code(kind: str, status: str, error: str | None) -> int:
    """The CLI exit code of an execution's end."""
    if status == "SUCCEEDED":
        return 0
    if kind == "restore" and status == "FAILED" and error in RESTORE_EXIT:
        return RESTORE_EXIT[error]
    return 1


# --- input --------------------------------------------------------------------------------


def load_input(path: str | Path, kind: str) -> dict[str, Any]:
    """The execution input in ``path``, validated as a backup or restore request.

    Raises InvalidInput (one sentence) when the file is missing, not JSON, or not a valid
    request: nothing is started then.
    """
    from .state_documents import BackupRequest, RestoreRequest, dump, parse

    if kind not in KINDS:
        raise InvalidInput(f"run backup or run restore, not {kind!r}")
    source = Path(path)
    try:
        text = source.read_text()
    except FileNotFoundError:
        raise InvalidInput(f"no input file at {source}; give --input FILE") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as err:
        raise InvalidInput(f"cannot read the input file {source}: {err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidInput(
            f"{source} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
            "fix it and start again"
        ) from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{source} must hold a JSON object, the {kind} request")
    model = BackupRequest if kind == "backup" else RestoreRequest
    return dump(parse(model, data, f"the {kind} request in {source}"))


# --- finding the state machine --------------------------------------------------------------


def machine_arn(kind: str, outputs: dict[str, Any], where: str) -> str:
    key = OUTPUT_KEYS[kind]
    arn = outputs.get(key)
    if not arn:
        raise InvalidInput(
            f"{where} has no output {key}; give --state-machine-arn ARN or deploy the application"
        )
    return str(arn)


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """A CloudFormation stack's outputs (``DescribeStacks``)."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as err:
        if "does not exist" in str(err):
            raise InvalidInput(
                f"no CloudFormation stack {stack_name} in this account and region; give "
                "--stack-name NAME or --state-machine-arn ARN (or --local for the local AWS)"
            ) from None
        raise
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


# --- running ------------------------------------------------------------------------------


def start(
    sfn: Any, state_machine_arn: str, payload: dict[str, Any], name: str | None = None
) -> str:
    """Start an execution; its ARN."""
    kwargs = {"stateMachineArn": state_machine_arn, "input": json.dumps(payload)}
    kwargs["name"] = (
        name or f"cli-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:8]}"
    )
    return cast(str, sfn.start_execution(**kwargs)["executionArn"])


def wait(
    sfn: Any,
    execution_arn: str,
    timeout: float,
    *,
    poll: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """DescribeExecution until the execution reaches any terminal status or ``timeout``
    seconds pass; the last description either way. Polls quickly at first, then every
    ``poll`` seconds."""
    deadline = clock() + timeout
    interval = min(0.05, poll)
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] in TERMINAL:
            return described
        left = deadline - clock()
        if left <= 0:
            return described
        sleep(min(interval, left))
        interval = min(interval * 2, poll)


def history(sfn: Any, execution_arn: str, after: int = 0) -> list[dict[str, Any]]:
    """The history events of an execution, oldest first: every one, or (``after``) only those
    with a larger id, read newest first and stopping there, so following a long execution
    does not read its whole history again at every poll."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    if after:
        kwargs["reverseOrder"] = True
    while True:
        page = sfn.get_execution_history(**kwargs)
        found = page.get("events", [])
        if after:
            newer = [e for e in found if e["id"] > after]
            events += newer
            if len(newer) < len(found) or not page.get("nextToken"):
                return sorted(events, key=lambda e: e["id"])
        else:
            events += found
            if not page.get("nextToken"):
                return events
        kwargs["nextToken"] = page["nextToken"]


def states_visited(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """The states entered, in the order first entered, with how many times each was."""
    counts: dict[str, int] = {}
    for event in events:
        details = event.get("stateEnteredEventDetails")
        if details and details.get("name"):
            counts[details["name"]] = counts.get(details["name"], 0) + 1
    return list(counts.items())


@dataclass(frozen=True)
class ExecutionPosition:
    """Where an execution stands now: its status, the state it entered last, the states
    entered that wait for a task token (an approval), and how it ended (once it has)."""

    execution_arn: str
    status: str
    state: str | None = None  # the state entered last (None before the first)
    callbacks: tuple[str, ...] = ()  # states entered whose task waits for a task token
    input: Any = None
    error: str | None = None
    started: Any = None  # the execution's startDate

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def ending(self) -> str:
        """How it ended, in words: ``FAILED with ApprovalRejected at 'Rejected by ...'``."""
        text = self.status + (f" with {self.error}" if self.error else "")
        return text + (f" at '{self.state}'" if self.state else "")


def position(sfn: Any, execution_arn: str) -> ExecutionPosition | None:
    """Where the execution is (DescribeExecution and its history), or None if there is no
    such execution."""
    try:
        described = sfn.describe_execution(executionArn=execution_arn)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("ExecutionDoesNotExist", "InvalidArn"):
            return None
        raise
    callbacks: list[str] = []
    last = None
    for event in history(sfn, execution_arn):
        details = event.get("stateEnteredEventDetails")
        if details and details.get("name"):
            last = details["name"]
        resource = str(event.get("taskScheduledEventDetails", {}).get("resource", ""))
        if resource.endswith(".waitForTaskToken") and last and last not in callbacks:
            callbacks.append(last)
    return ExecutionPosition(
        execution_arn=execution_arn,
        status=described["status"],
        state=last,
        callbacks=tuple(callbacks),
        input=_json(described.get("input")),
        error=described.get("error"),
        started=described.get("startDate"),
    )


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def outcome(sfn: Any, kind: str, execution_arn: str, described: dict[str, Any]) -> ExecutionOutcome:
    """Read an execution's outcome: status, output or error and cause, states visited."""
    return outcome_of(kind, execution_arn, described, history(sfn, execution_arn))


def outcome_of(
    kind: str, execution_arn: str, described: dict[str, Any], events: list[dict[str, Any]]
) -> ExecutionOutcome:
    """An execution's outcome from its description and the history already read."""
    started = described.get("startDate")
    stopped = described.get("stopDate")
    seconds = (stopped - started).total_seconds() if started and stopped else 0.0
    return ExecutionOutcome(
        kind=kind,
        execution_arn=execution_arn,
        status=described["status"],
        output=_json(described.get("output")),
        error=described.get("error"),
        cause=described.get("cause"),
        states=states_visited(events),
        seconds=seconds,
    )


def run(
    sfn: Any,
    kind: str,
    state_machine_arn: str,
    payload: dict[str, Any],
    *,
    wait_for_end: bool = True,
    timeout: float = 900.0,
    poll: float = 0.5,
    name: str | None = None,
) -> ExecutionOutcome:
    """Start an execution and, unless told not to, wait for its end; the outcome."""
    execution_arn = start(sfn, state_machine_arn, payload, name)
    if not wait_for_end:
        return ExecutionOutcome(
            kind=kind, execution_arn=execution_arn, status="RUNNING", waited=False
        )
    described = wait(sfn, execution_arn, timeout, poll=poll)
    return outcome(sfn, kind, execution_arn, described)


def explain_cause(cause: str | None) -> str | None:
    """A failure cause in words: a Lambda error payload becomes ``Type: message``."""
    parsed = _json(cause)
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return f"{parsed.get('errorType', 'Error')}: {parsed['errorMessage']}"
    return cause
