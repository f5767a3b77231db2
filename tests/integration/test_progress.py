"""Progress for long CLI work: what capture and seeding report, and the bar that shows it only
on a terminal."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from albrules.capture import capture_listeners, capture_load_balancer
from albrules.local.seed import seed
from albrules.progress import progress_bar
from local_world import World
from rule_builders import path


def test_capture_reports_each_listener_captured(world: World) -> None:
    balancer = world.load_balancer("shop")
    listeners = [world.listener(balancer, port) for port in (80, 8080, 9000)]
    world.rule(listeners[0], 10, [path("/a")])
    reports: list[tuple[int, int]] = []

    states = capture_listeners(world.aws, listeners[:2], lambda *r: reports.append(r))
    assert reports == [(1, 2), (2, 2)]
    assert [len(s.rules) for s in states] == [1, 0]

    reports.clear()
    states = capture_load_balancer(world.aws, "shop", lambda *r: reports.append(r))
    assert reports == [(1, 3), (2, 3), (3, 3)]
    assert [s.source.port for s in states] == [80, 8080, 9000]


def test_seed_reports_each_rule_created(session) -> None:
    reports: list[tuple[int, int]] = []
    result = seed(session, lambda *r: reports.append(r))
    created = sum(item["rules"] for item in result["listeners"].values())
    assert reports == [(i, created) for i in range(1, created + 1)]
    reports.clear()
    assert seed(session, lambda *r: reports.append(r)) == result  # already there: no work
    assert reports == []


def test_the_bar_shows_on_a_terminal_only_and_adds_up_batches() -> None:
    out = StringIO()
    with progress_bar(Console(file=out), "backing up listeners") as report:
        report(1, 2)
    assert out.getvalue() == ""  # a pipe or a CI log: nothing

    terminal = Console(file=StringIO(), force_terminal=True, width=80)
    with progress_bar(terminal, "backing up listeners") as report:
        for done in (1, 2):
            report(done, 2)  # the listeners of one region
        for done in (1, 2, 3):
            report(done, 3)  # then those of a load balancer
        task = report.progress.tasks[0]  # type: ignore[attr-defined]
        assert (task.completed, task.total) == (5, 5)
