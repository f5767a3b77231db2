"""``albrules drift``: compare live listeners with their latest snapshots (changes nothing).

Exit codes, for scripts: 0 no drift, 5 drift found, 2 invalid input (no listener given, both
kinds given, a location that is missing or not a directory or S3 prefix, or a listener with no
snapshot in it), 1 anything else. The comparison is :mod:`albrules.drift`.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.text import Text

from ..drift import ListenerDrift, RuleDrift, against, check_location
from ..errors import InvalidInput
from .common import Debug, Profile, Region, capture, handled, out_console

DRIFT_EXIT = 5

MARKS = {
    "added": ("+", "green"),
    "removed": ("-", "red"),
    "changed": ("~", "yellow"),
    "moved": (">", "cyan"),
    "default-actions": ("~", "yellow"),
}


def change_view(change: RuleDrift) -> Text:
    mark, color = MARKS[change.kind]
    kind = "changed" if change.kind == "default-actions" else change.kind
    text = Text(f"  {mark} {kind:<8} {change.where()}", style=color)
    for detail in change.details():
        text.append(f"\n      {detail}", style="dim" if change.kind != "changed" else "")
    return text


def drift_view(report: ListenerDrift) -> Group:
    """One listener: a title line, then one line per change (with what changed under it)."""
    taken = f"{report.snapshot_taken:%Y-%m-%d %H:%M:%S} UTC"
    if not report.drifted:
        return Group(
            Text.assemble(
                (report.label, "bold"),
                (f"  no drift since its snapshot of {taken}", "green"),
            ),
            Text(f"  snapshot {report.snapshot}", style="dim"),
        )
    parts = [
        Text.assemble(
            (report.label, "bold"),
            (f"  drifted since its snapshot of {taken}: {report.summary()}", "bold yellow"),
        ),
        Text(f"  listener {report.listener_arn}", style="dim"),
        Text(f"  snapshot {report.snapshot}", style="dim"),
    ]
    parts += [change_view(change) for change in report.changes]
    return Group(*parts)


def _json_report(reports: list[ListenerDrift]) -> dict[str, Any]:
    return {
        "drift": any(r.drifted for r in reports),
        "listeners": [
            {
                **r.model_dump(mode="json"),
                "label": r.label,
                "drifted": r.drifted,
                "counts": r.counts(),
            }
            for r in reports
        ],
    }


def drift(
    against_location: Annotated[
        str,
        typer.Option(
            "--against",
            help="The directory or s3://bucket/prefix holding the snapshots (`backup --out`).",
        ),
    ],
    listener_arn: Annotated[
        list[str] | None,
        typer.Option("--listener-arn", help="A listener to compare (repeatable)."),
    ] = None,
    load_balancer: Annotated[
        list[str] | None,
        typer.Option("--load-balancer", help="Compare every listener of this ALB, by name or ARN."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    profile: Profile = None,
    region: Region = None,
    debug: Debug = False,
) -> None:
    """Show what changed on live listeners since their latest snapshot: rules added, removed,
    changed and moved. Changes nothing. Exit 0 no drift, 5 drift found, 2 invalid input."""
    from ..store import Store

    with handled(debug):
        if not listener_arn and not load_balancer:
            raise InvalidInput(
                "give the listeners to compare: --listener-arn ARN or --load-balancer NAME_OR_ARN"
            )
        if listener_arn and load_balancer:
            raise InvalidInput(
                "give --listener-arn or --load-balancer, not both (repeat the one you use)"
            )
        check_location(against_location)
        states, aws = capture(listener_arn, load_balancer, profile, region)
        reports = against(Store(against_location, aws), states)
        drifted = [r for r in reports if r.drifted]
        if as_json:
            sys.stdout.write(json.dumps(_json_report(reports), indent=2) + "\n")
        else:
            for report in reports:
                out_console.print(drift_view(report))
            if drifted:
                out_console.print(
                    Text(
                        f"drift found on {len(drifted)} of {len(reports)} listener(s)",
                        style="bold yellow",
                    )
                )
            else:
                out_console.print(
                    Text(
                        f"no drift: {len(reports)} listener(s) match their latest snapshot",
                        style="bold green",
                    )
                )
        if drifted:
            raise typer.Exit(DRIFT_EXIT)
