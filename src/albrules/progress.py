"""Progress bars for long CLI work: backing up many listeners, seeding the local AWS.

Shown only when the console is a terminal, and gone when the work ends (``transient``), so
logs, pipes and ``--json`` output are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

Report = Callable[[int, int], None]


class _Tally:
    """Adds up batches: ``report(done, total)`` for one batch; a batch ends at done == total
    and the next one counts on from there."""

    def __init__(self, progress: Progress, task: TaskID):
        self.progress = progress
        self.task = task
        self.base = 0

    def __call__(self, done: int, total: int) -> None:
        self.progress.update(self.task, total=self.base + total, completed=self.base + done)
        if done >= total:
            self.base += total


@contextmanager
def progress_bar(console: Console, description: str) -> Iterator[Report]:
    """A ``report(done, total)`` function that moves a bar on ``console`` (a terminal) or
    does nothing (anything else). The bar pulses until the first report."""
    if not console.is_terminal:
        yield lambda done, total: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        yield _Tally(progress, progress.add_task(description, total=None))
