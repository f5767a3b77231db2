"""The restore commands: ``albrules restore`` and ``albrules plan``, which is exactly
``albrules restore --dry-run`` (one pipeline: the same options for what is planned, the same
refusals, the same exit codes and output); and :func:`prepare`, which ``validate`` uses too."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from ..aws import Aws
from ..errors import InvalidInput, RestoreRefused
from ..oidc_secrets import DEFAULT_PREFIX, SecretScope, check_prefix, parse_secret_arn
from ..plan import Selector, choose_selection
from ..render import outcome_view, plan_view
from ..resolve import choose_target
from ..restore import Prepared, RestoreResult, execute_restore, prepare_restore, unapplied
from ..store import Store, default_pre_restore_location
from .common import (
    AnyOidcSecret,
    Debug,
    JsonOut,
    ListenerArn,
    MapByName,
    OidcSecret,
    OidcSecretPrefix,
    Profile,
    Region,
    err_console,
    handled,
    load_snapshot,
    open_aws,
    out_console,
    print_json,
)

TargetListener = Annotated[
    str | None, typer.Option("--target-listener-arn", help="Restore into this listener instead.")
]
ModeOpt = Annotated[
    str | None,
    typer.Option("--mode", help="full (the whole listener) or selective (chosen rules only)."),
]
PriorityOpt = Annotated[
    list[int] | None,
    typer.Option("--priority", help="Select the rule at this priority (repeatable)."),
]
MatchOpt = Annotated[
    list[str] | None,
    typer.Option("--match", help="Select rules with a condition value, FIELD=VALUE (repeatable)."),
]


def _selection(
    mode: str | None, priority: list[int] | None, match: list[str] | None
) -> tuple[str, Selector]:
    return choose_selection(mode, priority, match)


def _oidc(items: list[str] | None) -> dict[str, str]:
    secrets = {}
    for item in items or []:
        client, sep, arn = item.partition("=")
        if not sep or not client or ":secretsmanager:" not in arn:
            raise InvalidInput(
                f"--oidc-secret {item.split('=')[0]}=... must be CLIENT_ID=SECRET_ARN with a "
                "Secrets Manager ARN"
            )
        secrets[client] = parse_secret_arn(arn, f"--oidc-secret {client}").arn
    return secrets


def secret_scope(prefix: str = DEFAULT_PREFIX, any_secret: bool = False) -> SecretScope:
    """The OIDC client secrets a CLI restore may read: names under ``prefix`` (the stack's
    default), or, with ``--any-oidc-secret``, any name the caller's own credentials can read."""
    if any_secret:
        return SecretScope(None)
    return SecretScope(
        check_prefix(prefix),
        "or pass --oidc-secret-prefix PREFIX (or --any-oidc-secret) to read it with your own "
        "credentials",
    )


def prepare(
    document: Any,
    target: str,
    *,
    mode: str | None = None,
    priority: list[int] | None = None,
    match: list[str] | None = None,
    map_by_name: bool,
    oidc_secret: list[str] | None,
    profile: str | None,
    region: str | None,
    scope: SecretScope | None = None,
) -> tuple[Aws, Any]:
    """Parse the selectors, open the target's account and region, check and plan."""
    chosen_mode, selector = _selection(mode, priority, match)
    secrets = _oidc(oidc_secret)
    scope = scope or secret_scope()
    scope.check_all(secrets, target)  # before any AWS call
    aws = open_aws(profile, region, target)
    prepared = prepare_restore(
        aws,
        document,
        target_listener_arn=target,
        mode=chosen_mode,  # type: ignore[arg-type]
        selector=selector,
        map_by_name=map_by_name,
        oidc_secrets=secrets,
        secret_scope=scope,
    )
    return aws, prepared


def _run(
    snapshot: str,
    *,
    listener_arn: str | None,
    target_listener_arn: str | None,
    mode: str | None,
    priority: list[int] | None,
    match: list[str] | None,
    map_by_name: bool,
    oidc_secret: list[str] | None,
    scope: SecretScope,
    dry_run: bool,
    yes: bool,
    pre_restore_to: str | None,
    as_json: bool,
    profile: str | None,
    region: str | None,
) -> None:
    """The one restore pipeline of both commands: check, plan, show, (confirm, apply)."""
    _selection(mode, priority, match)  # option mistakes first, before any file or AWS access
    _oidc(oidc_secret)
    document = load_snapshot(snapshot, profile, region)
    target = choose_target(document.source.listener_arn, listener_arn, target_listener_arn)
    aws, prepared = prepare(
        document,
        target,
        mode=mode,
        priority=priority,
        match=match,
        map_by_name=map_by_name,
        oidc_secret=oidc_secret,
        profile=profile,
        region=region,
        scope=scope,
    )
    if not as_json:
        out_console.print(
            plan_view(prepared.plan, live_rules=len(prepared.live.rules), source=snapshot)
        )
    outcome = unapplied(prepared, dry_run) or _apply(aws, prepared, yes, pre_restore_to)
    if as_json:
        plan = prepared.plan.public()
        print_json({**plan, **outcome.model_dump(mode="json"), "plan": plan})
    else:
        stream = out_console if outcome.exit_code == 0 else err_console
        stream.print(outcome_view(outcome))
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _apply(aws: Aws, prepared: Prepared, yes: bool, pre_restore_to: str | None) -> RestoreResult:
    if not yes:
        if not sys.stdin.isatty():
            raise RestoreRefused(
                "restore asks for confirmation and stdin is not a terminal; pass --yes "
                "to restore without asking (nothing was changed)"
            )
        if not typer.confirm(f"Apply {len(prepared.plan.operations)} change(s)?", default=False):
            raise RestoreRefused("not confirmed; nothing was changed")
    store = Store(pre_restore_to or default_pre_restore_location(), aws)
    return execute_restore(aws, prepared, pre_restore_store=store, recheck=not yes)


def plan(
    snapshot: Annotated[str, typer.Argument(help="Snapshot path or S3 URI.")],
    listener_arn: ListenerArn = None,
    target_listener_arn: TargetListener = None,
    mode: ModeOpt = None,
    priority: PriorityOpt = None,
    match: MatchOpt = None,
    map_by_name: MapByName = False,
    oidc_secret: OidcSecret = None,
    oidc_secret_prefix: OidcSecretPrefix = DEFAULT_PREFIX,
    any_oidc_secret: AnyOidcSecret = False,
    as_json: JsonOut = False,
    profile: Profile = None,
    region: Region = None,
    debug: Debug = False,
) -> None:
    """Show what a restore would change: the operations, in order, and a per-rule diff.

    Exactly `albrules restore --dry-run`: the same checks, refusals, output and exit codes."""
    with handled(debug):
        _run(
            snapshot,
            listener_arn=listener_arn,
            target_listener_arn=target_listener_arn,
            mode=mode,
            priority=priority,
            match=match,
            map_by_name=map_by_name,
            oidc_secret=oidc_secret,
            scope=secret_scope(oidc_secret_prefix, any_oidc_secret),
            dry_run=True,
            yes=False,
            pre_restore_to=None,
            as_json=as_json,
            profile=profile,
            region=region,
        )


def restore(
    snapshot: Annotated[str, typer.Argument(help="Snapshot path or S3 URI.")],
    listener_arn: ListenerArn = None,
    target_listener_arn: TargetListener = None,
    mode: ModeOpt = None,
    priority: PriorityOpt = None,
    match: MatchOpt = None,
    map_by_name: MapByName = False,
    oidc_secret: OidcSecret = None,
    oidc_secret_prefix: OidcSecretPrefix = DEFAULT_PREFIX,
    any_oidc_secret: AnyOidcSecret = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan and check only.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    pre_restore_to: Annotated[
        str | None,
        typer.Option(
            "--pre-restore-to", help="Where to keep the pre-restore snapshot and journal."
        ),
    ] = None,
    as_json: JsonOut = False,
    profile: Profile = None,
    region: Region = None,
    debug: Debug = False,
) -> None:
    """Restore a snapshot: plan, confirm, apply, verify; roll back automatically on failure."""
    with handled(debug):
        _run(
            snapshot,
            listener_arn=listener_arn,
            target_listener_arn=target_listener_arn,
            mode=mode,
            priority=priority,
            match=match,
            map_by_name=map_by_name,
            oidc_secret=oidc_secret,
            scope=secret_scope(oidc_secret_prefix, any_oidc_secret),
            dry_run=dry_run,
            yes=yes,
            pre_restore_to=pre_restore_to,
            as_json=as_json,
            profile=profile,
            region=region,
        )
