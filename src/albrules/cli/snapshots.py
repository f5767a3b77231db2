"""The snapshot commands: ``albrules backup``, ``show``, ``validate``, ``list`` and ``seal``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..errors import InvalidInput
from ..oidc_secrets import DEFAULT_PREFIX
from ..render import entries_view, snapshot_view
from ..snapshot import build_snapshot, dumps, format_for
from ..store import Store, is_s3
from .common import (
    AnyOidcSecret,
    Debug,
    JsonOut,
    ListenerArn,
    LocalPort,
    MapByName,
    OidcSecret,
    OidcSecretPrefix,
    Profile,
    Region,
    StackName,
    Where,
    capture,
    err_console,
    handled,
    load_snapshot,
    open_aws,
    out_console,
    print_json,
    stack_clients,
)
from .restores import prepare, secret_scope


def backup(
    out: Annotated[str, typer.Option("--out", help="FILE, DIR or s3://bucket/prefix.")],
    listener_arn: Annotated[
        list[str] | None, typer.Option("--listener-arn", help="A listener to back up (repeatable).")
    ] = None,
    load_balancer: Annotated[
        list[str] | None,
        typer.Option("--load-balancer", help="Back up all listeners of this ALB, by ARN or name."),
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="json or yaml.")] = None,
    kms_key_id: Annotated[
        str | None, typer.Option("--kms-key-id", help="SSE-KMS key for S3.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Write even if nothing changed.")] = False,
    profile: Profile = None,
    region: Region = None,
    debug: Debug = False,
) -> None:
    """Take a snapshot of each listener; unchanged ones are not written again."""
    with handled(debug):
        if not listener_arn and not load_balancer:
            raise InvalidInput(
                "give --listener-arn ARN or --load-balancer NAME_OR_ARN (repeatable)"
            )
        write_format = format_for(out, fmt) or "json"
        if kms_key_id and not is_s3(out):
            raise InvalidInput(
                "--kms-key-id applies to S3 locations (SSE-KMS); drop it or write to s3://BUCKET/PREFIX"
            )
        from ..progress import progress_bar

        with progress_bar(err_console, "backing up listeners") as report:
            states, store_aws = capture(listener_arn, load_balancer, profile, region, report)
        store = Store(out, store_aws)
        if store.is_file and len(states) > 1:
            raise InvalidInput(
                f"--out {out} is one file but {len(states)} listeners were captured; give a "
                "directory or an s3:// prefix"
            )
        for state in states:
            snapshot = build_snapshot(state)
            saved = store.save(snapshot, fmt=write_format, force=force, kms_key_id=kms_key_id)
            what = (
                f"{state.source.load_balancer_name}:{state.source.port} ({len(state.rules)} rules)"
            )
            if saved.written:
                out_console.print(f"wrote {saved.location}  {what}  checksum {saved.checksum[:12]}")
            else:
                out_console.print(
                    f"unchanged {what}: same checksum {saved.checksum[:12]} as {saved.location}; "
                    "nothing written (--force writes anyway)"
                )


def show(
    snapshot: Annotated[str, typer.Argument(help="Snapshot path or S3 URI.")],
    as_json: JsonOut = False,
    as_yaml: Annotated[bool, typer.Option("--yaml", help="Print the document as YAML.")] = False,
    profile: Profile = None,
    region: Region = None,
    debug: Debug = False,
) -> None:
    """Show a snapshot (validated) as a table, or as JSON/YAML."""
    with handled(debug):
        document = load_snapshot(snapshot, profile, region)
        if as_json or as_yaml:
            sys.stdout.write(dumps(document, "json" if as_json else "yaml").decode())
            return
        out_console.print(snapshot_view(document, snapshot))


def validate(
    snapshot: Annotated[str, typer.Argument(help="Snapshot path or S3 URI.")],
    listener_arn: ListenerArn = None,
    map_by_name: MapByName = False,
    oidc_secret: OidcSecret = None,
    oidc_secret_prefix: OidcSecretPrefix = DEFAULT_PREFIX,
    any_oidc_secret: AnyOidcSecret = False,
    profile: Profile = None,
    region: Region = None,
    debug: Debug = False,
) -> None:
    """Check a snapshot: schema, checksum, limits; with --listener-arn, also that it can be
    restored there (target groups, quota, secrets)."""
    with handled(debug):
        scope = secret_scope(oidc_secret_prefix, any_oidc_secret)
        document = load_snapshot(snapshot, profile, region)
        out_console.print(
            f"{snapshot}: valid snapshot of {document.source.listener_arn} "
            f"({len(document.rules)} rules, checksum verified)"
        )
        if listener_arn:
            _, prepared = prepare(
                document,
                listener_arn,
                map_by_name=map_by_name,
                oidc_secret=oidc_secret,
                profile=profile,
                region=region,
                scope=scope,
            )
            out_console.print(
                f"restorable into {listener_arn}: target groups found, within the rule quota; "
                f"a full restore would make {len(prepared.plan.operations)} change(s)"
            )


def list_(
    location: Annotated[str, typer.Argument(help="Directory or s3://bucket/prefix.")],
    as_json: JsonOut = False,
    profile: Profile = None,
    region: Region = None,
    debug: Debug = False,
) -> None:
    """List stored snapshots, newest first."""
    with handled(debug):
        store = Store(location, open_aws(profile, region) if is_s3(location) else None)
        entries = store.list()
        if as_json:
            print_json(
                [
                    {**e.__dict__, "created_at": f"{e.created_at:%Y-%m-%dT%H:%M:%SZ}"}
                    for e in entries
                ]
            )
            return
        out_console.print(entries_view(entries, location))


def seal(
    location: Annotated[str, typer.Argument(help="The snapshot to seal: a file or s3:// URI.")],
    key_id: Annotated[
        str | None,
        typer.Option("--key-id", help="The seal key (default: the stack's SealKeyArn output)."),
    ] = None,
    stack_name: StackName = "albrules",
    local: Where = None,
    port: LocalPort = None,
    profile: Profile = None,
    region: Region = None,
    debug: Debug = False,
) -> None:
    """Seal a snapshot edited by hand, so the restore machine accepts it (needs
    kms:GenerateMac on the stack's SealKey). An S3 object gets its seal in its metadata (copied
    in place, same encryption); a local file gets FILE.seal, the metadata to upload it with."""
    from ..seal import Sealer, seal_location

    with handled(debug):
        clients, outputs = stack_clients(local, port, profile, region, stack_name)
        key = key_id or outputs().get("SealKeyArn")
        if not key:
            raise InvalidInput(
                f"stack {stack_name} has no SealKeyArn output (deployed before seals?); "
                "update the stack or pass --key-id"
            )
        sealed = seal_location(location, clients.client("s3"), Sealer(clients.client("kms"), key))
        out_console.print(
            f"sealed {sealed.location} (SHA-256 {sealed.sha256[:12]}...) with {sealed.key_arn}; "
            f"the seal is in {sealed.sealed_at}",
            markup=False,
        )
