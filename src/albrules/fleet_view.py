"""How a whole-load-balancer restore shows: its plan, one section per listener, and its
outcome, one row per listener (:mod:`albrules.fleet_restore`)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .fleet_restore import FleetPlan, FleetResult
from .render import plan_view, recreate_view

COLORS = {
    "RESTORED": "green",
    "NO_CHANGES": "green",
    "DRY_RUN": "cyan",
    "ROLLED_BACK": "yellow",
    "ROLLBACK_FAILED": "bold red",
}
MEMBER_COLORS = {
    "restored": "green",
    "unchanged": "",
    "planned": "cyan",
    "rolled back": "yellow",
    "rollback failed": "bold red",
}


def fleet_plan_view(fleet: FleetPlan) -> Group:
    """The plan: a headline, then each listener's section (its snapshot, why, its plan)."""
    parts: list[Any] = [
        Text(
            f"Plan for load balancer {fleet.load_balancer_name} ({fleet.load_balancer_arn}): "
            f"{len(fleet.members)} listener(s), {fleet.changes} change(s)",
            style="bold",
        )
    ]
    for n, member in enumerate(fleet.members, start=1):
        parts.append(Text(""))
        parts.append(Text(f"[{n}/{len(fleet.members)}] listener {member.name}", style="bold"))
        parts.append(Text(f"  snapshot: {member.chosen.reason}"))
        if member.note:
            parts.append(Text(f"  note: {member.note}", style="yellow"))
        if member.recreate is not None:
            parts.append(recreate_view(member.recreate))
        if member.prepared is not None:
            parts.append(
                plan_view(
                    member.prepared.plan,
                    live_rules=len(member.prepared.live.rules),
                    source=member.chosen.location,
                )
            )
    for arn, why in fleet.left_alone:
        parts.append(Text(f"left alone: {arn}: {why}"))
    return Group(*parts)


def fleet_outcome_view(result: FleetResult) -> Group:
    """The outcome: one sentence, then a table with a row per listener."""
    table = Table(show_lines=False)
    table.add_column("port", justify="right")
    table.add_column("listener", no_wrap=True)  # ARNs stay whole, copyable
    table.add_column("outcome", no_wrap=True)
    table.add_column("changes", justify="right")
    table.add_column("what happened")
    for item in result.listeners:
        table.add_row(
            str(item.port) if item.port is not None else "-",
            item.listener_arn or "(missing)",
            Text(item.status, style=MEMBER_COLORS[item.status]),
            str(item.changes),
            item.note,
        )
    parts: list[Any] = [
        Text(f"{result.status}: {result.message}", style=COLORS[result.status]),
        table,
    ]
    for item in result.listeners:
        if item.pre_restore and item.status != "unchanged":
            parts.append(Text(f"port {item.port}: pre-restore snapshot {item.pre_restore}"))
        if item.journal_location:
            parts.append(Text(f"port {item.port}: journal {item.journal_location}"))
        for line in item.differences:
            parts.append(Text(f"port {item.port}: difference: {line}", style="yellow"))
    for warning in result.warnings:
        parts.append(Text(f"warning: {warning}", style="yellow"))
    return Group(*parts)
