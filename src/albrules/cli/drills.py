"""``albrules drill``: prove a snapshot restorable on a scratch load balancer
(:mod:`albrules.drill`): restore it into a new listener there, verify it, delete it."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Group
from rich.text import Text

from ..drill import DRILL_PORTS, DrillReport, run_drill
from ..errors import InvalidInput
from ..oidc_secrets import DEFAULT_PREFIX
from .common import (
    AnyOidcSecret,
    Debug,
    JsonOut,
    LocalPort,
    OidcSecret,
    OidcSecretPrefix,
    Profile,
    Region,
    StackName,
    Where,
    err_console,
    handled,
    open_aws,
    out_console,
    print_json,
)
from .restores import (
    AtOpt,
    CatalogTable,
    FromOpt,
    LockOptions,
    PointInTime,
    SnapshotArg,
    _document,
    _oidc,
    secret_scope,
)

ScratchBalancer = Annotated[
    str,
    typer.Option(
        "--load-balancer",
        metavar="SCRATCH_LB",
        help="The scratch Application Load Balancer (name or ARN) to drill on: a listener is "
        f"made on its lowest free port of {DRILL_PORTS.start}-{DRILL_PORTS.stop - 1} and "
        "deleted again.",
    ),
]
DrillListener = Annotated[
    str | None,
    typer.Option("--listener-arn", help="With --at: the listener whose snapshot to drill."),
]
CertificateMap = Annotated[
    list[str] | None,
    typer.Option(
        "--certificate-map",
        metavar="OLD=NEW",
        help="Use certificate (or trust store) NEW where the snapshot names OLD (repeatable).",
    ),
]


def _certificate_map(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        old, sep, new = item.partition("=")
        if not sep or not old.startswith("arn:") or not new.startswith("arn:"):
            raise InvalidInput(f"--certificate-map {item!r} must be OLD_ARN=NEW_ARN")
        out[old] = new
    return out


def report_view(report: DrillReport) -> Group:
    colors = {"RESTORABLE": "green", "NOT_RESTORABLE": "yellow", "CLEANUP_FAILED": "bold red"}
    parts: list[Any] = [
        Text(f"{report.status}: {report.headline(reasons=False)}", style=colors[report.status])
    ]
    parts.append(
        Text(
            f"  drilled on {report.load_balancer_name} port {report.port} "
            f"(format {report.schema_version} snapshot {report.snapshot})",
            style="dim",
        )
    )
    for item in report.checked:
        parts.append(Text(f"  checked: {item}"))
    for reason in report.reasons:
        parts.append(Text(f"  not restorable: {reason}", style="yellow"))
    state = "as it was" if report.scratch_unchanged else "NOT as it was"
    parts.append(Text(f"  scratch load balancer afterwards: {state}"))
    return Group(*parts)


def drill(
    snapshot: SnapshotArg = None,
    load_balancer: ScratchBalancer = "",
    listener_arn: DrillListener = None,
    at: AtOpt = None,
    from_location: FromOpt = None,
    certificate_map: CertificateMap = None,
    oidc_secret: OidcSecret = None,
    oidc_secret_prefix: OidcSecretPrefix = DEFAULT_PREFIX,
    any_oidc_secret: AnyOidcSecret = False,
    stack_name: StackName = "albrules",
    local: Where = None,
    port: LocalPort = None,
    table: CatalogTable = None,
    as_json: JsonOut = False,
    profile: Profile = None,
    region: Region = None,
    debug: Debug = False,
) -> None:
    """Prove a snapshot restorable: restore it into a new listener on a scratch load balancer
    (on a free port, target groups mapped by name), verify it, delete it, and report.

    Exit 0 restorable; 5 not restorable (each reason is listed: a missing certificate or
    target group, a call AWS refused, a difference found by the verify); 6 the scratch load
    balancer was not left as it was; 2 bad input or refused before any change (no such
    scratch load balancer, no free port). A format 1 snapshot is drilled as an HTTP listener:
    its routing only. --listener-arn ARN --at TIME chooses the snapshot from the stack's
    catalog (or --from)."""
    with handled(debug):
        if not load_balancer:
            raise InvalidInput("give --load-balancer SCRATCH_LB: the load balancer to drill on")
        secrets = _oidc(oidc_secret)
        certificates = _certificate_map(certificate_map)
        scope = secret_scope(oidc_secret_prefix, any_oidc_secret)
        locking = LockOptions(False, table, stack_name, local, port)
        document, location, choice = _document(
            snapshot, PointInTime(at, None, from_location), listener_arn, locking, profile, region
        )
        if choice is not None and not as_json:
            out_console.print(f"chose {choice.reason}", markup=False)
        arn_hint = load_balancer if load_balancer.startswith("arn:") else None
        aws = open_aws(profile, region, arn_hint or document.source.listener_arn)
        report = run_drill(
            aws,
            document,
            location,
            load_balancer,
            certificate_map=certificates,
            oidc_secrets=secrets,
            secret_scope=scope,
        )
        if as_json:
            print_json(report.public())
        else:
            stream = out_console if report.exit_code == 0 else err_console
            stream.print(report_view(report))
        if report.exit_code:
            raise typer.Exit(report.exit_code)
