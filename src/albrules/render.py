"""Rich output for people: snapshots, plans with per-rule diffs, restore outcomes."""

from __future__ import annotations

import difflib
from typing import Any

import yaml
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .labels import describe_actions, describe_conditions
from .models import Snapshot
from .operations import API_OPERATION, describe_mutual_authentication
from .plan import Plan, RuleChange
from .recreate import PLACEHOLDER_ID, RecreateTarget
from .restore import RestoreResult
from .store import Entry


def snapshot_view(snapshot: Snapshot, location: str) -> Group:
    src = snapshot.source
    head = Table.grid(padding=(0, 2))
    head.add_row("snapshot", location)
    head.add_row("listener", src.listener_arn)
    head.add_row("load balancer", f"{src.load_balancer_name} ({src.account}, {src.region})")
    head.add_row("port", f"{src.protocol or '?'}:{src.port or '?'}")
    head.add_row(
        "taken", f"{snapshot.created_at:%Y-%m-%d %H:%M:%S} UTC by albrules {snapshot.tool_version}"
    )
    head.add_row("checksum", f"{snapshot.checksum} (verified)")
    head.add_row(
        "format",
        f"v{snapshot.schema_version}"
        + ("" if snapshot.can_recreate else " (routing only: cannot recreate the listener)"),
    )
    for name, value in settings_rows(snapshot):
        head.add_row(name, value)
    defaults = [a.model_dump(mode="json", exclude_none=True) for a in snapshot.default_actions]
    head.add_row("default", describe_actions(defaults))
    rules = Table(title=f"{len(snapshot.rules)} rules", show_lines=False, expand=False)
    rules.add_column("priority", justify="right")
    rules.add_column("conditions")
    rules.add_column("actions")
    rules.add_column("transforms")
    rules.add_column("tags")
    for rule in snapshot.rules:
        raw = rule.model_dump(mode="json", exclude_none=True)
        rules.add_row(
            str(rule.priority),
            describe_conditions(raw["conditions"]),
            describe_actions(raw["actions"]),
            ", ".join(t["Type"] for t in raw["transforms"]),
            ", ".join(f"{k}={v}" for k, v in raw["tags"].items()),
        )
    return Group(head, rules)


def settings_rows(snapshot: Snapshot) -> list[tuple[str, str]]:
    """The listener's settings (format 2) as (name, value) rows; none for format 1."""
    settings = snapshot.listener
    if settings is None:
        return []
    rows = []
    if settings.ssl_policy:
        rows.append(("SSL policy", settings.ssl_policy))
    if settings.alpn_policy:
        rows.append(("ALPN policy", ", ".join(settings.alpn_policy)))
    if settings.default_certificate:
        rows.append(("certificate", settings.default_certificate))
    for arn in settings.certificates:
        rows.append(("  + certificate", arn))
    if settings.mutual_authentication is not None:
        auth = settings.mutual_authentication.model_dump(exclude_none=True)
        rows.append(("mutual TLS", describe_mutual_authentication(auth)))
    for key, value in settings.attributes.items():
        rows.append(("attribute", f"{key}={value!r}"))
    if settings.tags:
        rows.append(("listener tags", ", ".join(f"{k}={v}" for k, v in settings.tags.items())))
    if settings.default_rule_tags:
        pairs = ", ".join(f"{k}={v}" for k, v in settings.default_rule_tags.items())
        rows.append(("default rule tags", pairs))
    return rows


def entries_view(entries: list[Entry], location: str) -> Table:
    table = Table(title=f"{len(entries)} snapshot(s) in {location}, newest first")
    for column in ("taken (UTC)", "load balancer", "listener", "checksum"):
        table.add_column(column, no_wrap=True)
    table.add_column("location", overflow="fold")
    for entry in entries:
        table.add_row(
            f"{entry.created_at:%Y-%m-%d %H:%M:%S}",
            f"{entry.load_balancer} ({entry.account}, {entry.region})",
            entry.listener_id,
            entry.short_checksum,
            entry.location,
        )
    return table


def _rule_yaml(rule: dict[str, Any] | None) -> list[str]:
    if rule is None:
        return []
    return yaml.safe_dump(rule, sort_keys=False, width=120).splitlines()


def _change_panel(change: RuleChange) -> Panel:
    marks = {
        "create": ("+", "green"),
        "delete": ("-", "red"),
        "modify": ("~", "yellow"),
        "move": (">", "cyan"),
        "default-actions": ("~", "yellow"),
        "listener-settings": ("~", "magenta"),
    }
    mark, color = marks[change.kind]
    title = f"{mark} {change.kind} {change.label}"
    if change.kind == "move" and change.before and change.after:
        body = Text(
            f"priority {change.before['priority']} -> {change.after['priority']}, content unchanged"
        )
        return Panel(body, title=title, title_align="left", border_style=color, expand=False)
    lines = difflib.unified_diff(
        _rule_yaml(change.before), _rule_yaml(change.after), "before", "after", lineterm="", n=2
    )
    body = Text()
    for line in list(lines)[2:]:
        style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
        body.append(line + "\n", style=style)
    if change.fields:
        body.append(f"changed: {', '.join(change.fields)}", style="bold")
    return Panel(body, title=title, title_align="left", border_style=color, expand=False)


def naive_calls(plan: Plan, live_rules: int) -> int:
    """What a delete-everything-and-recreate restore would call for the same target."""
    return live_rules + len(plan.expected.rules) + 1


def plan_view(plan: Plan, *, live_rules: int, source: str) -> Group:
    parts: list[Any] = [
        Text(f"Plan for {plan.listener_arn}", style="bold"),
        Text(f"{plan.mode} restore from {source}"),
    ]
    if plan.empty:
        parts.append(Text("No changes: the listener already matches the snapshot.", style="green"))
        return Group(*parts)
    table = Table(show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("call")
    table.add_column("what")
    for i, op in enumerate(plan.operations, start=1):
        table.add_row(str(i), API_OPERATION[op.op], op.summary())
    parts.append(table)
    for change in plan.changes:
        parts.append(_change_panel(change))
    naive = naive_calls(plan, live_rules)
    rules = sum(1 for c in plan.changes if c.kind != "listener-settings")
    settings = next((c for c in plan.changes if c.kind == "listener-settings"), None)
    also = f" and {len(settings.fields)} listener setting(s)" if settings else ""
    parts.append(
        Text(
            f"{len(plan.operations)} mutating call(s) for {rules} changed rule(s){also}; "
            f"a delete-and-recreate restore would make {naive}.",
            style="bold",
        )
    )
    if plan.unresolved:
        parts.append(Text("unresolved: " + "; ".join(plan.unresolved), style="red"))
    return Group(*parts)


def recreate_view(target: RecreateTarget) -> Group:
    """What a recreation creates before the plan of the rest: ``create listener HTTPS:443 on
    load balancer NAME`` and the settings CreateListener sends."""
    settings = target.settings
    parts: list[Any] = [Text(f"Recreate {target.old_listener_arn}", style="bold")]
    parts.append(Text(f"0. CreateListener: {target.summary()}"))
    details = [
        f"ssl policy {settings.ssl_policy}" if settings.ssl_policy else "",
        f"default certificate {settings.default_certificate}"
        if settings.default_certificate
        else "",
        f"{len(settings.certificates)} additional certificate(s)" if settings.certificates else "",
        f"{len(settings.attributes)} attribute(s)" if settings.attributes else "",
        f"{len(settings.tags)} tag(s)" if settings.tags else "",
    ]
    shown = ", ".join(d for d in details if d)
    if shown:
        parts.append(Text(f"   {shown}"))
    for old, new in sorted(target.certificate_map.items()):
        parts.append(Text(f"   certificate {old} -> {new}"))
    parts.append(
        Text(
            f"   then the plan below, on the new listener (named .../{PLACEHOLDER_ID} until "
            "CreateListener gives its ARN)"
        )
    )
    return Group(*parts)


def outcome_view(outcome: RestoreResult) -> Group:
    colors = {
        "RESTORED": "green",
        "NO_CHANGES": "green",
        "DRY_RUN": "cyan",
        "ROLLED_BACK": "yellow",
        "ROLLBACK_FAILED": "bold red",
    }
    parts: list[Any] = [Text(f"{outcome.status}: {outcome.message}", style=colors[outcome.status])]
    if outcome.pre_restore:
        parts.append(Text(f"pre-restore snapshot: {outcome.pre_restore}"))
    if outcome.journal_location:
        parts.append(Text(f"journal: {outcome.journal_location}"))
    failed = [e for e in outcome.journal if e.get("status") in ("failed", "interrupted")]
    for entry in failed:
        parts.append(
            Text(
                f"  {entry['phase']} step {entry['step']} {entry['call']}: "
                f"{entry.get('error', entry['status'])}",
                style="red",
            )
        )
    for line in outcome.differences:
        parts.append(Text(f"  difference: {line}", style="yellow"))
    for warning in outcome.warnings:
        parts.append(Text(f"warning: {warning}", style="yellow"))
    return Group(*parts)


def console(stderr: bool = False) -> Console:
    """Plain lines never wrap and show no emoji codes (ARNs stay copyable: a secret ARN's
    ``:secret:`` is an emoji code); tables get room when piped."""
    probe = Console(stderr=stderr)
    width = None if probe.is_terminal else 200
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width, emoji=False)
