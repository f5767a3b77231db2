"""How ``albrules watch`` shows an execution: a live rich screen on a terminal, plain
append-only lines (one per state change) in CI logs and pipes.

:func:`screen` is the rich renderable of a :class:`albrules.watch.ExecutionView`;
:class:`PlainLog` gives the new lines since the last view; :func:`ending_lines` is the
outcome, the plan (or backup) summary and the exit code, shared by both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .watch import ExecutionView, MapProgress, StateView
from .workflows import explain_cause

MARKS = {
    "running": ("▶", "bold cyan"),
    "waiting": ("⏸", "bold yellow"),
    "retrying": ("↻", "bold yellow"),
    "succeeded": ("✓", "green"),
    "caught": ("↪", "yellow"),
    "failed": ("✗", "bold red"),
    "aborted": ("■", "red"),
    "timed out": ("⌛", "red"),
}
EXIT_MEANING = {
    0: "succeeded",
    1: "failed",
    2: "refused before any change",
    3: "rolled back",
    4: "ROLLBACK FAILED: the listener is not as it was",
}
STATUS_STYLE = {"SUCCEEDED": "bold green", "RUNNING": "bold cyan"}
LIVE_PLAN_LINES = 8


def _clock(when: datetime | None) -> str:
    return f"{when:%H:%M:%S}" if when else "--:--:--"


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f}s"
    minutes, seconds = divmod(int(value), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _items(view: ExecutionView) -> str:
    return "listeners" if view.kind == "backup" else "items"


def state_note(state: StateView) -> str:
    """What to add after a state's status: retries, the error that was caught or failed."""
    notes = []
    status = state.shown_status
    if state.retries:
        notes.append(f"after {state.retries} retr{'y' if state.retries == 1 else 'ies'}")
    if state.error and status in ("caught", "failed", "retrying"):
        notes.append(state.error)
    return ", ".join(notes)


def approval_hint(view: ExecutionView) -> list[str]:
    """How to answer a restore that waits for approval."""
    current = view.current
    if view.kind != "restore" or current is None or current.shown_status != "waiting":
        return []
    arn = view.execution_arn
    return [
        f"waiting for approval: albrules approve {arn}",
        f"  or: albrules reject {arn} --reason WHY",
    ]


def progress_text(progress: MapProgress, items: str) -> str:
    text = f"{progress.done}/{progress.total} {items} done"
    if progress.running:
        text += f", {progress.running} running"
    return text + f", {progress.failed} failed"


def plan_lines(view: ExecutionView) -> list[str]:
    """The restore's plan summary (or the backup's summary), in a few lines."""
    lines: list[str] = []
    plan = view.plan
    if plan is not None:
        lines.append(f"plan: {plan.headline()}")
        lines += [f"  {operation}" for operation in plan.operations]
        if plan.more:
            lines.append(f"  ... and {plan.more} more")
        lines += [f"  unresolved: {item}" for item in plan.unresolved]
        lines += [f"  warning: {item}" for item in plan.warnings]
    backup = view.backup
    if backup is not None:
        lines.append(
            f"backup: {backup.listeners} listener(s), {backup.rules} rule(s): {backup.stored} "
            f"stored, {backup.unchanged} unchanged, {backup.failed} failed"
        )
        lines += [
            f"  failed: {item.listener_arn} ({item.error})" for item in backup.failed_listeners
        ]
        lines += [
            f"  not discovered: {item.account_id} {item.region} ({item.error})"
            for item in backup.discovery_failures
        ]
    return lines


def ending_lines(view: ExecutionView) -> list[str]:
    """The last lines: the plan (or backup) summary, then how it ended and the exit code."""
    lines = plan_lines(view)
    if not view.finished:
        return lines
    cause = explain_cause(view.outcome.cause)
    if cause and view.status != "SUCCEEDED":  # the cause tells the details: headlines only
        lines = [line for line in lines if not line.startswith(" ")]
    head = f"{view.kind} {view.status} in {_seconds(view.seconds)}"
    if view.outcome.error:
        head += f": {view.outcome.error}"
    lines.append(head)
    if cause and view.status != "SUCCEEDED":
        lines += [f"  {line}" if line else "" for line in cause.splitlines()]
    code = view.exit_code
    lines.append(f"exit code {code} ({EXIT_MEANING.get(code, 'failed')})")
    return lines


# --- the rich screen --------------------------------------------------------------------------


def _bar(progress: MapProgress) -> ProgressBar:
    style = "red" if progress.failed else "green"
    return ProgressBar(
        total=max(progress.total, 1),
        completed=progress.done,
        width=28,
        complete_style=style,
        finished_style=style,
    )


def screen(view: ExecutionView, final: bool = False) -> Group:
    """The whole watch screen: heading, states in order, Map progress, and (``final``, or
    once the execution has ended) the ending."""
    name = view.execution_arn.rsplit(":", 1)[-1]
    heading = Text()
    heading.append(f"{view.kind} {name}  ", style="bold")
    heading.append(view.status, style=STATUS_STYLE.get(view.status, "bold red"))
    heading.append(f"  {_seconds(view.seconds)}  started {_clock(view.started)} UTC", style="dim")
    table = Table(box=None, show_header=True, header_style="dim", pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("started", no_wrap=True, style="dim")
    table.add_column("took", justify="right", no_wrap=True)
    table.add_column("", overflow="fold")
    current = view.current
    parts: list[Any] = [heading, Text(view.execution_arn, style="dim"), table]
    for state in view.states:
        status = state.shown_status
        mark, style = MARKS.get(status, ("?", ""))
        is_current = current is not None and state.id == current.id
        name_style = "bold reverse" if is_current else ""
        table.add_row(
            Text(mark, style=style),
            Text(state.name, style=name_style),
            Text(status, style=style),
            _clock(state.entered),
            _seconds(state.seconds(view.now)),
            Text(state_note(state), style="dim"),
        )
        progress = view.map_of(state)
        if progress is not None:
            figure = Text(progress_text(progress, _items(view)))
            figure.stylize("red" if progress.failed else "")
            table.add_row("", _bar(progress), "", "", "", figure)
    parts += [Text(line, style="yellow") for line in approval_hint(view)]
    if view.finished or final:
        code = view.exit_code
        style = "green" if code == 0 else "yellow" if code in (2, 3) else "bold red"
        style = style if view.finished else "yellow"
        parts.append(Text(""))
        for line in ending_lines(view):
            strong = line.startswith(("exit code", f"{view.kind} "))
            parts.append(Text(line, style=style if strong else ""))
    elif view.plan or view.backup:  # kept short while live: the screen must fit
        lines = plan_lines(view)
        shown = lines[: LIVE_PLAN_LINES + 1]
        if len(lines) > len(shown):
            shown.append(f"  ... {len(lines) - len(shown)} more line(s) at the end")
        parts.append(Text(""))
        parts += [Text(line) for line in shown]
    return Group(*parts)


# --- plain lines --------------------------------------------------------------------------------


def state_line(state: StateView, now: datetime) -> str:
    status = state.shown_status
    text = f"{_clock(state.entered)}  {state.name}: {status}"
    if not state.open:
        text += f" ({_seconds(state.seconds(now))})"
    note = state_note(state)
    return text + (f", {note}" if note else "")


class PlainLog:
    """Plain lines for logs and pipes: one per state change, never rewritten."""

    def __init__(self) -> None:
        self._seen: dict[int, str] = {}
        self._progress: dict[int, tuple[int, int, int]] = {}
        self._started = False

    def lines(self, view: ExecutionView) -> list[str]:
        """The lines that are new since the last view."""
        out = []
        if not self._started:
            out.append(f"watching {view.kind} {view.execution_arn}")
            self._started = True
        for state in view.states:
            status = state.shown_status
            if self._seen.get(state.id) != status:
                self._seen[state.id] = status
                out.append(state_line(state, view.now))
                if status == "waiting":
                    out += [f"  {line}" for line in approval_hint(view)]
            progress = view.map_of(state)
            if progress is not None:
                figure = (progress.done, progress.total, progress.failed)
                if self._progress.get(progress.id) != figure:
                    self._progress[progress.id] = figure
                    out.append(f"  {progress.state}: {progress_text(progress, _items(view))}")
        return out


class Display:
    """Shows successive views on a console: live on a terminal, plain lines otherwise."""

    def __init__(self, console: Console, *, live: bool | None = None):
        self.console = console
        self.live = console.is_terminal if live is None else live
        self._log = PlainLog()
        self._live: Live | None = None
        self._soft_wrap = console.soft_wrap
        self.last: ExecutionView | None = None

    def __enter__(self) -> Display:
        if self.live:
            # Live redraws by moving the cursor up as many lines as it printed: lines the
            # terminal wraps by itself (soft wrap) would be left behind, so rich wraps them.
            self.console.soft_wrap = False
            self._live = Live(console=self.console, auto_refresh=False, transient=True)
            self._live.start()
        return self

    def show(self, view: ExecutionView) -> None:
        self.last = view
        if self._live is not None:
            self._live.update(screen(view), refresh=True)
            return
        for line in self._log.lines(view):
            self.console.print(line, markup=False, highlight=False)

    def finish(self) -> None:
        """The ending: the summary, then the outcome and exit code if it has ended. On a
        terminal, the whole last screen is printed for good (the live one may be cropped)."""
        view = self.last
        if view is None:
            return
        if self.live:
            self._stop()
            self.console.print(screen(view, final=True))
            return
        for line in ending_lines(view):
            self.console.print(line, markup=False, highlight=False)

    def _stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
            self.console.soft_wrap = self._soft_wrap

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:  # interrupted: leave the last screen seen
            self._stop()
            if self.last is not None:
                self.console.print(screen(self.last))
