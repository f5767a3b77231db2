"""Follow a Step Functions execution from its history (``albrules watch``, ``run --watch``).

:func:`build` turns an execution's history events into a view: the states in the order they
were entered, each with its status, start and duration; the state running now; the progress
of each Map fan-out; the plan summary of a restore (or the summary of a backup); and the
outcome with the restore contract's exit code (:class:`albrules.workflows.ExecutionOutcome`).
:class:`Watcher` polls AWS for it (DescribeExecution, the new history events, DescribeMapRun
for a Distributed Map) and :func:`follow` polls until the execution ends or time runs out.

Only the top-level states are listed; the states inside a Map iteration are counted in the
Map's progress (an iteration that failed, or whose error was caught inside it, is a failure).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from botocore.exceptions import ClientError
from pydantic import ValidationError

from . import workflows
from .errors import InvalidInput
from .state_documents import BackupSummary, PlanSummary

OPEN = frozenset({"running", "waiting", "retrying"})
SCHEDULED = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"})
STARTED = frozenset({"TaskStarted", "TaskSubmitted", "LambdaFunctionStarted", "ActivityStarted"})
FAILURES = frozenset(
    {
        "TaskFailed",
        "TaskTimedOut",
        "TaskStartFailed",
        "TaskSubmitFailed",
        "LambdaFunctionFailed",
        "LambdaFunctionTimedOut",
        "LambdaFunctionStartFailed",
        "LambdaFunctionScheduleFailed",
        "ActivityFailed",
        "ActivityTimedOut",
        "ActivityScheduleFailed",
        "EvaluationFailed",
    }
)
CONTAINER_FAILED = frozenset({"MapStateFailed", "ParallelStateFailed"})
STATE_ABORTED = frozenset(
    {"TaskStateAborted", "MapStateAborted", "ParallelStateAborted", "WaitStateAborted"}
)
ITERATION_ENDS = {
    "MapIterationSucceeded": "succeeded",
    "MapIterationFailed": "failed",
    "MapIterationAborted": "aborted",
}
EXECUTION_ENDS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
}
MAP_RUN_ENDS = frozenset({"MapRunSucceeded", "MapRunFailed", "MapRunAborted"})


@dataclass
class StateView:
    """One entry into a state: what it is doing or how it ended."""

    id: int  # the id of its ...StateEntered event: a stable key
    name: str
    type: str  # Task, Pass, Choice, Map, Parallel, Wait, Succeed or Fail
    entered: datetime
    exited: datetime | None = None
    status: str = "running"  # running, waiting, retrying, succeeded, caught, failed, aborted
    retries: int = 0
    error: str | None = None
    cause: str | None = None
    callback: bool = False  # a .waitForTaskToken task: waits for someone to answer
    submitted: bool = False
    container_failed: bool = False

    @property
    def open(self) -> bool:
        return self.exited is None

    @property
    def shown_status(self) -> str:
        """The status as people read it: an open state is running, waiting or retrying."""
        if not self.open:
            return self.status
        if self.error:
            return "retrying"
        if self.callback and self.submitted:
            return "waiting"
        return "running"

    def seconds(self, now: datetime) -> float:
        return max(0.0, ((self.exited or now) - self.entered).total_seconds())

    def public(self, now: datetime) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "status": self.shown_status,
            "entered": self.entered.isoformat(),
            "seconds": round(self.seconds(now), 3),
            "retries": self.retries,
            "error": self.error,
        }


@dataclass
class MapProgress:
    """How far a Map state's fan-out has got: items done of the total, and failures."""

    state: str
    id: int  # the Map state entry's id
    total: int = 0
    done: int = 0
    failed: int = 0
    running: int = 0
    map_run_arn: str | None = None  # a Distributed Map's run

    @property
    def distributed(self) -> bool:
        return self.map_run_arn is not None

    def public(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "running": self.running,
            "map_run_arn": self.map_run_arn,
        }


@dataclass
class ExecutionView:
    """Everything the watch screen shows about one execution."""

    outcome: workflows.ExecutionOutcome
    started: datetime | None
    stopped: datetime | None
    now: datetime
    states: list[StateView] = field(default_factory=list)
    maps: list[MapProgress] = field(default_factory=list)
    plan: PlanSummary | None = None
    backup: BackupSummary | None = None

    @property
    def execution_arn(self) -> str:
        return self.outcome.execution_arn

    @property
    def kind(self) -> str:
        return self.outcome.kind

    @property
    def status(self) -> str:
        return self.outcome.status

    @property
    def finished(self) -> bool:
        return self.outcome.finished

    @property
    def exit_code(self) -> int:
        return self.outcome.exit_code

    @property
    def current(self) -> StateView | None:
        """The state the execution is in now (None once it has ended)."""
        if self.finished:
            return None
        running = [s for s in self.states if s.open]
        return running[-1] if running else None

    @property
    def seconds(self) -> float:
        if not self.started:
            return 0.0
        return max(0.0, ((self.stopped or self.now) - self.started).total_seconds())

    def map_of(self, state: StateView) -> MapProgress | None:
        return next((m for m in self.maps if m.id == state.id), None)

    def public(self) -> dict[str, Any]:
        """The outcome as ``albrules run --json`` prints it, with the watch view's details."""
        return {
            **self.outcome.public(),
            "seconds": round(self.seconds, 3),
            "steps": [s.public(self.now) for s in self.states],
            "maps": [m.public() for m in self.maps],
            "plan": self.plan.model_dump(mode="json") if self.plan else None,
            "backup": self.backup.model_dump(mode="json") if self.backup else None,
        }


# --- building the view from the history --------------------------------------------------------


@dataclass
class _Iteration:
    container: StateView  # the Map (or Parallel) state it runs in
    index: int
    ended: str | None = None
    failed: bool = False  # an error in it, even one caught inside it


@dataclass
class _Ctx:
    """Where an event happens: in which state entry, inside which iteration."""

    entry: StateView | None = None
    iteration: _Iteration | None = None


class _Builder:
    def __init__(self) -> None:
        self.entries: list[StateView] = []
        self.inside: dict[int, _Iteration | None] = {}  # entry id -> its iteration
        self.ctx: dict[int, _Ctx] = {}
        self.iterations: dict[int, list[_Iteration]] = {}  # map entry id -> iterations
        self.lengths: dict[int, int] = {}
        self.map_runs: dict[int, str] = {}
        self.plan: PlanSummary | None = None
        self.backup: BackupSummary | None = None
        self.started: datetime | None = None
        self.end: tuple[str, datetime] | None = None

    def feed(self, event: dict[str, Any]) -> None:
        kind: str = event["type"]
        ts: datetime = event["timestamp"]
        here = self.ctx.get(event.get("previousEventId", 0), _Ctx())
        ctx = here
        entry: StateView | None
        if kind == "ExecutionStarted":
            self.started = ts
        elif kind.endswith("StateEntered"):
            ctx = self._enter(event, kind[: -len("StateEntered")], here, ts)
        elif kind.endswith("StateExited"):
            ctx = self._exit(event, here, ts)
        elif kind in SCHEDULED and here.entry:
            entry = here.entry
            if entry.error:
                entry.retries += 1
                entry.error = entry.cause = None
            details = event.get("taskScheduledEventDetails", {})
            entry.callback = str(details.get("resource", "")).endswith(".waitForTaskToken")
        elif kind in STARTED and here.entry:
            here.entry.submitted = True
        elif kind in FAILURES and here.entry:
            details = _details(event)
            here.entry.error = details.get("error") or kind
            here.entry.cause = details.get("cause")
        elif kind in ("MapStateStarted", "ParallelStateStarted") and here.entry:
            if kind == "MapStateStarted":
                details = event.get("mapStateStartedEventDetails", {})
                self.lengths[here.entry.id] = int(details.get("length", 0))
                self.iterations.setdefault(here.entry.id, [])
            else:  # the branches run inside it
                ctx = _Ctx(None, _Iteration(here.entry, -1))
        elif kind == "MapIterationStarted":
            ctx = self._iteration_started(event, here)
        elif kind in ITERATION_ENDS:
            ctx = self._iteration_ended(event, here, ITERATION_ENDS[kind])
        elif kind in CONTAINER_FAILED or kind in STATE_ABORTED:
            simple = kind in ("TaskStateAborted", "WaitStateAborted")
            entry = here.entry if simple else _container(here)
            if entry:
                entry.container_failed = kind in CONTAINER_FAILED
                if kind in STATE_ABORTED:
                    self._close(entry, ts, "aborted")
                ctx = _Ctx(entry, self.inside.get(entry.id))
        elif kind == "MapRunStarted":
            entry = _container(here)
            if entry:
                self.map_runs[entry.id] = event["mapRunStartedEventDetails"]["mapRunArn"]
                ctx = _Ctx(entry, self.inside.get(entry.id))
        elif kind in EXECUTION_ENDS:
            self._execution_ended(EXECUTION_ENDS[kind], ts)
        self.ctx[event["id"]] = ctx

    def _enter(self, event: dict[str, Any], state_type: str, here: _Ctx, ts: datetime) -> _Ctx:
        if here.entry and here.entry.open:
            # A failure caught straight into the next state, with no ...StateExited between.
            self._close(here.entry, ts)
        details = event["stateEnteredEventDetails"]
        entry = StateView(id=event["id"], name=details["name"], type=state_type, entered=ts)
        self.entries.append(entry)
        self.inside[entry.id] = here.iteration
        if state_type == "Fail":
            self._close(entry, ts, "failed")
        return _Ctx(entry, here.iteration)

    def _exit(self, event: dict[str, Any], here: _Ctx, ts: datetime) -> _Ctx:
        details = event["stateExitedEventDetails"]
        name = details["name"]
        entry, iteration = here.entry, here.iteration
        while not (entry and entry.name == name and entry.open):
            if iteration is None:
                entry = next((e for e in reversed(self.entries) if e.name == name and e.open), None)
                break
            entry = iteration.container
            iteration = self.inside.get(entry.id)
        if entry is None:
            return here
        self._close(entry, ts)
        if self.inside.get(entry.id) is None:
            self._read_summaries(details.get("output"))
        return _Ctx(entry, self.inside.get(entry.id))

    def _close(self, entry: StateView, ts: datetime, status: str | None = None) -> None:
        if not entry.open:
            return
        entry.exited = ts
        if status:
            entry.status = status
        elif entry.error or entry.container_failed:
            entry.status = "caught"
        else:
            entry.status = "succeeded"
        iteration = self.inside.get(entry.id)
        if iteration and entry.status in ("caught", "failed", "aborted"):
            iteration.failed = True

    def _iteration_started(self, event: dict[str, Any], here: _Ctx) -> _Ctx:
        container = _container(here)
        if container is None:
            return here
        index = int(event.get("mapIterationStartedEventDetails", {}).get("index", -1))
        iteration = _Iteration(container, index)
        self.iterations.setdefault(container.id, []).append(iteration)
        return _Ctx(None, iteration)

    def _iteration_ended(self, event: dict[str, Any], here: _Ctx, how: str) -> _Ctx:
        details = _details(event)
        iteration = here.iteration
        if iteration is None or iteration.index != details.get("index", iteration.index):
            iteration = self._find_iteration(details)
        if iteration is None:
            return here
        iteration.ended = how
        if how != "succeeded":
            iteration.failed = True
        container = iteration.container
        return _Ctx(container, self.inside.get(container.id))

    def _find_iteration(self, details: dict[str, Any]) -> _Iteration | None:
        for entry in reversed(self.entries):
            if entry.type == "Map" and entry.name == details.get("name"):
                for iteration in self.iterations.get(entry.id, []):
                    if iteration.index == details.get("index"):
                        return iteration
        return None

    def _execution_ended(self, status: str, ts: datetime) -> None:
        self.end = (status, ts)
        for entry in self.entries:
            if not entry.open:
                continue
            if status == "ABORTED":
                self._close(entry, ts, "aborted")
            elif status == "TIMED_OUT":
                self._close(entry, ts, "timed out")
            elif status == "FAILED":
                failed = entry.error or entry.container_failed
                self._close(entry, ts, "failed" if failed else "aborted")
            else:
                self._close(entry, ts)

    def _read_summaries(self, output: str | None) -> None:
        """The restore's plan summary or the backup's summary, from a state's output."""
        if not output or ('"plan"' not in output and '"summary"' not in output):
            return
        try:
            data = json.loads(output)
        except ValueError:
            return  # a truncated output
        if not isinstance(data, dict):
            return
        try:
            if isinstance(data.get("plan"), dict):
                self.plan = PlanSummary.model_validate(data["plan"])
            if isinstance(data.get("summary"), dict):
                self.backup = BackupSummary.model_validate(data["summary"])
        except ValidationError:
            pass

    def maps(self, counts: dict[str, dict[str, Any]]) -> list[MapProgress]:
        found = []
        for entry in self.entries:
            if entry.type != "Map" or self.inside.get(entry.id) is not None:
                continue
            progress = MapProgress(entry.name, entry.id, map_run_arn=self.map_runs.get(entry.id))
            if progress.map_run_arn:
                _distributed(progress, counts.get(progress.map_run_arn, {}))
            else:
                iterations = self.iterations.get(entry.id, [])
                progress.total = max(self.lengths.get(entry.id, 0), len(iterations))
                progress.done = sum(1 for i in iterations if i.ended)
                progress.failed = sum(1 for i in iterations if i.failed)
                progress.running = len(iterations) - progress.done
            found.append(progress)
        return found


def _distributed(progress: MapProgress, counts: dict[str, Any]) -> None:
    """A Distributed Map's progress from DescribeMapRun's ``itemCounts``."""
    failed = sum(int(counts.get(k, 0)) for k in ("failed", "timedOut", "aborted"))
    progress.done = int(counts.get("succeeded", 0)) + failed
    progress.failed = failed
    progress.running = int(counts.get("running", 0))
    pending = int(counts.get("pending", 0))
    progress.total = max(int(counts.get("total", 0)), progress.done + progress.running + pending)


def _container(here: _Ctx) -> StateView | None:
    if here.entry and here.entry.type in ("Map", "Parallel") and here.entry.open:
        return here.entry
    return here.iteration.container if here.iteration else None


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails")), {})


def build(
    execution_arn: str,
    kind: str,
    described: dict[str, Any],
    events: list[dict[str, Any]],
    *,
    map_runs: dict[str, dict[str, Any]] | None = None,
    now: datetime | None = None,
) -> ExecutionView:
    """The view of an execution from its description, its history events (oldest first) and
    the ``itemCounts`` of its Distributed Map runs by map run ARN."""
    builder = _Builder()
    for event in events:
        builder.feed(event)
    outcome = workflows.outcome_of(kind, execution_arn, described, events)
    states = [e for e in builder.entries if builder.inside.get(e.id) is None]
    maps = builder.maps(map_runs or {})
    if builder.backup and builder.backup.failed:
        for progress in maps:  # caught inside a child execution: the summary counts them
            if progress.distributed:
                progress.failed = max(progress.failed, builder.backup.failed)
    stopped = described.get("stopDate") or (builder.end[1] if builder.end else None)
    return ExecutionView(
        outcome=outcome,
        started=described.get("startDate") or builder.started,
        stopped=stopped,
        now=now or datetime.now(UTC),
        states=states,
        maps=maps,
        plan=builder.plan,
        backup=builder.backup,
    )


def kind_of(described: dict[str, Any]) -> str:
    """backup or restore, from the execution's input (or its state machine's name)."""
    try:
        payload = json.loads(described.get("input") or "{}")
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        if "snapshot" in payload:
            return "restore"
        if "targets" in payload:
            return "backup"
    machine = str(described.get("stateMachineArn", "")).rsplit(":", 1)[-1].lower()
    return next((k for k in workflows.KINDS if k in machine), "execution")


# --- polling ----------------------------------------------------------------------------------


def check_execution_arn(execution_arn: str) -> None:
    """Refuse, in one sentence, something that is not a Step Functions execution ARN."""
    parts = execution_arn.split(":")
    if len(parts) < 8 or parts[:3] != ["arn", "aws", "states"] or parts[5] != "execution":
        raise InvalidInput(
            f"{execution_arn!r} is not a Step Functions execution ARN; copy it from `albrules "
            "run` or the Step Functions console (arn:aws:states:REGION:ACCOUNT:execution:"
            "MACHINE:NAME)"
        )


class Watcher:
    """Reads an execution's state from Step Functions, a few calls per poll."""

    def __init__(self, sfn: Any, execution_arn: str, kind: str | None = None):
        check_execution_arn(execution_arn)
        self.sfn = sfn
        self.execution_arn = execution_arn
        self.kind = kind
        self.events: list[dict[str, Any]] = []
        self.map_runs: dict[str, dict[str, Any]] = {}
        self._runs_done: set[str] = set()

    def describe(self) -> dict[str, Any]:
        try:
            return cast(
                dict[str, Any], self.sfn.describe_execution(executionArn=self.execution_arn)
            )
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code")
            if code in ("ExecutionDoesNotExist", "InvalidArn"):
                where = self.execution_arn.split(":")[3]
                raise InvalidInput(
                    f"there is no execution {self.execution_arn} in {where}; check the ARN "
                    "and that you are in its account (--profile, or --local for the local AWS)"
                ) from None
            raise

    def _read(self) -> None:
        after = self.events[-1]["id"] if self.events else 0
        self.events += workflows.history(self.sfn, self.execution_arn, after=after)

    def poll(self, now: datetime | None = None) -> ExecutionView:
        """The execution as it stands now."""
        if not self.events:
            self.describe()  # a missing execution is reported before anything else
        self._read()
        described = self.describe()
        if described["status"] in workflows.TERMINAL:
            self._read()  # the events up to the end
        self.kind = self.kind or kind_of(described)
        self._count_map_runs()
        return build(
            self.execution_arn,
            self.kind,
            described,
            self.events,
            map_runs=self.map_runs,
            now=now,
        )

    def _count_map_runs(self) -> None:
        ended = {e["id"] for e in self.events if e["type"] in MAP_RUN_ENDS}
        for event in self.events:
            if event["type"] != "MapRunStarted":
                continue
            arn = event["mapRunStartedEventDetails"]["mapRunArn"]
            if arn in self._runs_done:
                continue
            finished = any(i > event["id"] for i in ended)
            try:
                described = self.sfn.describe_map_run(mapRunArn=arn)
            except ClientError:
                continue  # the progress bar waits for the next poll
            self.map_runs[arn] = described.get("itemCounts", {})
            if finished:
                self._runs_done.add(arn)


def follow(
    watcher: Watcher,
    *,
    interval: float,
    timeout: float,
    on_view: Callable[[ExecutionView], None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ExecutionView:
    """Poll every ``interval`` seconds, handing each view to ``on_view``, until the execution
    ends or ``timeout`` seconds pass; the last view (check ``finished``)."""
    deadline = clock() + timeout
    while True:
        view = watcher.poll()
        on_view(view)
        left = deadline - clock()
        if view.finished or left <= 0:
            return view
        sleep(min(interval, left))
