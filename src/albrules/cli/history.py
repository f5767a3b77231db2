"""``albrules history`` (a listener's versions, newest first, with who changed what) and
``albrules diff A B`` (two snapshots compared like drift). Both change nothing; the use cases
are :mod:`albrules.history`.

Exit codes: history 0 (2 invalid input); diff 0 same routing, 5 different, 2 invalid input.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.text import Text

from ..arns import is_load_balancer_arn, parse_listener_arn
from ..errors import InvalidInput
from ..history import (
    NO_ATTRIBUTION,
    CatalogVersions,
    Entry,
    Reader,
    StoreVersions,
    VersionSource,
    listener_history,
    provenance,
)
from ..history import diff as diff_snapshots
from ..models import Snapshot
from ..moments import moment_of, parse_time, zulu
from ..notifications import listener_label
from ..store import Store, is_s3, read_snapshot
from .common import (
    Debug,
    JsonOut,
    LocalPort,
    Profile,
    Region,
    StackName,
    Where,
    handled,
    load_snapshot,
    open_aws,
    out_console,
    print_json,
    stack_catalog,
)
from .drift import DRIFT_EXIT, change_view

CATALOG_ID = re.compile(r"^[0-9a-f]{12}$")

Table = Annotated[
    str | None,
    typer.Option("--table", help="The stack's catalog table (CatalogTableName); skips the stack."),
]
FromLocation = Annotated[
    str | None,
    typer.Option(
        "--from",
        metavar="LOCATION",
        help="Read the snapshot files of a directory or s3://BUCKET/PREFIX (`backup --out`) "
        "instead of the stack's catalog (no attribution: no trigger, events or deletions).",
    ),
]


def open_source(
    from_location: str | None,
    *,
    stack_name: str,
    table: str | None,
    local: bool | None,
    port: int | None,
    profile: str | None,
    region: str | None,
    arn: str | None,
) -> tuple[VersionSource, Reader]:
    """Where the versions come from (``--from``, else the stack's catalog) and how to read a
    snapshot there."""
    if from_location is not None:
        store = Store(from_location)
        if store.is_file:
            raise InvalidInput(
                f"--from {from_location} is one snapshot file; give the directory or "
                "s3://BUCKET/PREFIX that `albrules backup --out` wrote to"
            )
        if not is_s3(from_location) and not store.path.is_dir():
            raise InvalidInput(
                f"--from {from_location} is not a directory; give the directory (or "
                "s3://BUCKET/PREFIX) that `albrules backup --out` wrote to"
            )
        aws = open_aws(profile, region, arn) if is_s3(from_location) else None
        return StoreVersions(Store(from_location, aws)), lambda loc: read_snapshot(loc, aws)
    clients, catalog = stack_catalog(local, port, profile, region, stack_name, table, arn)
    return CatalogVersions(catalog), lambda loc: read_snapshot(loc, clients)


def _listeners(
    source: VersionSource,
    read: Reader,
    listener_arn: list[str] | None,
    load_balancer: str | None,
) -> list[str]:
    if listener_arn:
        return list(dict.fromkeys(parse_listener_arn(a).arn for a in listener_arn))
    assert load_balancer is not None
    if isinstance(source, StoreVersions):
        return source.listeners_of(load_balancer, read)
    assert isinstance(source, CatalogVersions)
    arn = load_balancer.strip()
    if not is_load_balancer_arn(arn):
        arn = _load_balancer_arn(source, load_balancer)
    return sorted(source.catalog.load_balancer_listeners(arn))


def _load_balancer_arn(source: CatalogVersions, name: str) -> str:
    """A load balancer's ARN from its name (DescribeLoadBalancers, the catalog's account)."""
    from botocore.exceptions import ClientError

    from ..aws import as_albrules_error, error_code

    elbv2 = source.catalog.aws.client("elbv2")
    try:
        found = elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
    except ClientError as err:
        if error_code(err) in ("LoadBalancerNotFound", "ValidationError"):
            raise InvalidInput(
                f"no load balancer named {name!r} in this account and region; give its ARN "
                "(--load-balancer arn:...) to read the history of one that was deleted"
            ) from None
        raise as_albrules_error(err) from err
    return str(found[0]["LoadBalancerArn"])


# --- history -------------------------------------------------------------------------------

SHOWN_EVENTS = 8  # CloudTrail events listed per version in the text view (--json: all)


def _entry_view(entry: Entry) -> Group:
    version = entry.version
    taken = zulu(moment_of(version.taken_at))
    head = Text.assemble(
        (f"  {taken}  ", "bold"),
        (provenance(version, entry.attributed), "red" if version.kind == "deletion" else "cyan"),
    )
    parts: list[Any] = [head]
    if version.location:
        parts.append(Text(f"      snapshot {version.location}", style="dim"))
    for event in version.events[:SHOWN_EVENTS]:
        when = zulu(moment_of(event.time))
        parts.append(Text(f"      {event.name} by {event.by} at {when} (event {event.id})"))
    hidden = len(version.events) - SHOWN_EVENTS
    if hidden > 0:
        parts.append(Text(f"      and {hidden} more event(s) (--json lists them)", style="dim"))
    if version.more_events:
        parts.append(Text(f"      and {version.more_events} more event(s), counted, not kept"))
    summary = entry.summary()
    drifted = bool(entry.changes)
    parts.append(Text(f"      {summary}", style="yellow" if drifted else "dim"))
    for change in entry.changes or []:
        for line in change_view(change).split("\n"):
            line.pad_left(4)
            parts.append(line)
    return Group(*parts)


def _drills(source: Any, listener_arn: str, since: datetime | None) -> list[dict[str, Any]]:
    """The listener's restore drills in the catalog (``albrules drill``'s scheduled runs),
    newest first; none for snapshot files."""
    if not isinstance(source, CatalogVersions):
        return []
    items = source.catalog.drills(listener_arn)
    if since is not None:
        items = [i for i in items if moment_of(str(i.get("at", ""))) >= since]
    return [{k: v for k, v in i.items() if k not in ("pk", "sk")} for i in items]


def _drill_view(item: dict[str, Any]) -> Group:
    status = str(item.get("status", "?"))
    when = zulu(moment_of(str(item.get("at", ""))))
    style = "green" if status == "RESTORABLE" else "red"
    head = Text.assemble(
        (f"  {when}  ", "bold"),
        (f"drill: {status.lower().replace('_', ' ')}", style),
        f" on {item.get('load_balancer', '?')} port {item.get('port', '?')}",
    )
    parts: list[Any] = [head, Text(f"      snapshot {item.get('snapshot', '?')}", style="dim")]
    parts += [Text(f"      - {reason}", style="yellow") for reason in item.get("reasons") or []]
    return Group(*parts)


def history(
    listener_arn: Annotated[
        list[str] | None,
        typer.Option(
            "--listener-arn", metavar="ARN", help="A listener whose history to show (repeatable)."
        ),
    ] = None,
    load_balancer: Annotated[
        str | None,
        typer.Option(
            "--load-balancer", help="Every catalogued listener of this ALB (name or ARN)."
        ),
    ] = None,
    from_location: FromLocation = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="TIME",
            help="Only versions taken at or after TIME (ISO 8601 or 2h, 1d).",
        ),
    ] = None,
    as_json: JsonOut = False,
    stack_name: StackName = "albrules",
    local: Where = None,
    port: LocalPort = None,
    table: Table = None,
    profile: Profile = None,
    region: Region = None,
    debug: Debug = False,
) -> None:
    """List a listener's versions, newest first: when each was taken and why, who changed it
    through which calls, and what changed since the version before (rules added, removed,
    changed, moved). Reads the stack's catalog, or the snapshot files of --from. Changes
    nothing."""
    with handled(debug):
        if bool(listener_arn) == bool(load_balancer):
            raise InvalidInput(
                "give --listener-arn ARN (repeatable) or --load-balancer NAME_OR_ARN (one of them)"
            )
        arns = [parse_listener_arn(a).arn for a in listener_arn or []]
        after = parse_time(since, now=datetime.now(UTC), what="--since") if since else None
        source, read = open_source(
            from_location,
            stack_name=stack_name,
            table=table,
            local=local,
            port=port,
            profile=profile,
            region=region,
            arn=arns[0] if arns else load_balancer,
        )
        listeners = _listeners(source, read, listener_arn, load_balancer)
        found = {arn: listener_history(source, arn, read, since=after) for arn in listeners}
        drills = {arn: _drills(source, arn, after) for arn in listeners}
        if as_json:
            print_json(
                [entry.public() for entries in found.values() for entry in entries]
                + [{"kind": "drill", **d} for items in drills.values() for d in items]
            )
            return
        if not source.attributed:
            out_console.print(Text(f"no attribution: {NO_ATTRIBUTION}", style="yellow"))
        if not listeners:
            out_console.print(
                f"no listener of {load_balancer} has versions in {source.where}", markup=False
            )
        for arn, entries in found.items():
            out_console.print(
                Text.assemble(
                    (listener_label(arn), "bold"),
                    f"  {len(entries)} version(s) in {source.where}, newest first"
                    + (f", since {zulu(after)}" if after else ""),
                )
            )
            out_console.print(Text(f"  listener {arn}", style="dim"))
            if not entries:
                out_console.print(
                    f"  no versions{' since then' if after else ''}; back it up first "
                    f"(albrules backup --listener-arn {arn} ...)",
                    markup=False,
                )
            for entry in entries:
                out_console.print(_entry_view(entry))
            for item in drills[arn]:
                out_console.print(_drill_view(item))


# --- diff ----------------------------------------------------------------------------------


def _snapshot(
    reference: str, catalog_reader: Any, profile: str | None, region: str | None
) -> tuple[Snapshot, str]:
    """The snapshot a diff argument names (a path, an S3 URI or a catalog id), and where."""
    if CATALOG_ID.match(reference) and not Path(reference).exists():
        clients, catalog = catalog_reader()
        row = catalog.find_snapshot(reference)
        if row is None:
            raise InvalidInput(
                f"no snapshot with catalog id {reference} is in the catalog table "
                f"{catalog.table}; give a path, an s3:// URI or an id from albrules history"
            )
        location = str(row["location"])
        return read_snapshot(location, clients), location
    return load_snapshot(reference, profile, region), reference


def diff(
    a: Annotated[str, typer.Argument(help="Snapshot A: a path, s3:// URI or catalog id.")],
    b: Annotated[str, typer.Argument(help="Snapshot B: a path, s3:// URI or catalog id.")],
    as_json: JsonOut = False,
    stack_name: StackName = "albrules",
    local: Where = None,
    port: LocalPort = None,
    table: Table = None,
    profile: Profile = None,
    region: Region = None,
    debug: Debug = False,
) -> None:
    """Compare two snapshots, A then B, in drift's words (what B adds, removes, changes and
    moves). A catalog id is looked up in the stack's catalog. Exit 0 when they route the
    same, 5 when they differ, 2 invalid input."""
    with handled(debug):
        opened: list[Any] = []

        def catalog_reader() -> Any:
            if not opened:
                opened.append(stack_catalog(local, port, profile, region, stack_name, table))
            return opened[0]

        first, first_at = _snapshot(a, catalog_reader, profile, region)
        second, second_at = _snapshot(b, catalog_reader, profile, region)
        report = diff_snapshots(first, first_at, second)
        if as_json:
            print_json(
                {
                    "same": not report.drifted,
                    "before": first_at,
                    "after": second_at,
                    "before_taken": zulu(first.created_at),
                    "after_taken": zulu(second.created_at),
                    "counts": report.counts(),
                    "changes": [c.model_dump(mode="json") for c in report.changes],
                }
            )
        else:
            summary = report.summary() if report.drifted else "the same routing"
            out_console.print(
                Text.assemble(
                    ("A -> B: ", "bold"),
                    (summary, "bold yellow" if report.drifted else "bold green"),
                )
            )
            out_console.print(Text(f"  A {first_at} (taken {zulu(first.created_at)})", "dim"))
            out_console.print(Text(f"  B {second_at} (taken {zulu(second.created_at)})", "dim"))
            for change in report.changes:
                out_console.print(change_view(change))
        if report.drifted:
            raise typer.Exit(DRIFT_EXIT)
