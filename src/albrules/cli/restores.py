"""The restore commands: ``albrules restore`` and ``albrules plan``, which is exactly
``albrules restore --dry-run`` (one pipeline: the same options for what is planned, the same
refusals, the same exit codes and output); and :func:`prepare`, which ``validate`` uses too."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError

from ..aws import Aws, as_albrules_error
from ..catalog import Catalog
from ..errors import AlbRulesError, InvalidInput, RestoreRefused
from ..history import Choice, check_chosen, choose
from ..locks import RestoreLock, cli_owner
from ..oidc_secrets import DEFAULT_PREFIX, SecretScope, check_prefix, parse_secret_arn
from ..plan import Selector, choose_selection
from ..recreate import V1_REFUSAL, find_load_balancer, lock_key
from ..render import outcome_view, plan_view, recreate_view
from ..resolve import choose_target
from ..restore import (
    Prepared,
    RestoreResult,
    execute_restore,
    prepare_recreate,
    prepare_restore,
    unapplied,
)
from ..store import Store, default_pre_restore_location
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
    err_console,
    handled,
    load_snapshot,
    open_aws,
    out_console,
    print_json,
    stack_clients,
)
from .fleet_restores import FleetRun, check_fleet_options, run_fleet
from .history import open_source

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
SnapshotArg = Annotated[
    str | None,
    typer.Argument(help="Snapshot path or S3 URI (or choose one with --at or --before-change)."),
]
AtOpt = Annotated[
    str | None,
    typer.Option(
        "--at",
        metavar="TIME",
        help="Use the latest snapshot of --listener-arn taken at or before TIME (ISO 8601, no "
        "zone = UTC, or relative: 90m, 2h, 1d), from the stack's catalog or --from.",
    ),
]
BeforeChangeOpt = Annotated[
    str | None,
    typer.Option(
        "--before-change",
        metavar="EVENT_ID",
        help="Use the latest snapshot taken before this CloudTrail event (its eventID, as "
        "`albrules history` lists it), from the stack's catalog.",
    ),
]
FromOpt = Annotated[
    str | None,
    typer.Option(
        "--from",
        metavar="LOCATION",
        help="With --at: choose among the snapshot files of this directory or s3:// prefix "
        "instead of the stack's catalog.",
    ),
]
SkipManaged = Annotated[
    bool,
    typer.Option(
        "--skip-managed",
        help="Leave out rules that the AWS Load Balancer Controller or CloudFormation manages "
        "(by their tags): they are not changed, and the output says what was left out.",
    ),
]
RecreateOpt = Annotated[
    bool,
    typer.Option(
        "--recreate-listener",
        help="Create the listener when the snapshot's listener no longer exists (a format 2 "
        "snapshot): on the snapshot's load balancer, or on --load-balancer; rolled back by "
        "deleting it.",
    ),
]
LoadBalancerOpt = Annotated[
    str | None,
    typer.Option(
        "--load-balancer",
        metavar="ARN_OR_NAME",
        help="With a SNAPSHOT and --recreate-listener: the load balancer to create the "
        "listener on (found by name when its ARN is gone, e.g. a recreated load balancer). "
        "Without a SNAPSHOT: restore every listener of this load balancer (found by name, also "
        "when it was recreated), each to its latest snapshot in --from LOCATION or its version "
        "at --at TIME; one plan, one confirmation, and every listener changed is rolled back if "
        "any fails.",
    ),
]
CertificateMapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--certificate-map",
        metavar="OLD=NEW",
        help="With --recreate-listener: use certificate (or trust store) ARN NEW where the "
        "snapshot names OLD (repeatable).",
    ),
]
CatalogTable = Annotated[
    str | None,
    typer.Option(
        "--table",
        help="The stack's catalog table, which holds the restore locks and the listeners' "
        "histories (its CatalogTableName); skips the stack lookup.",
    ),
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
    skip_managed: bool = False,
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
        skip_managed=skip_managed,
    )
    return aws, prepared


@dataclass(frozen=True)
class Recreate:
    """``--recreate-listener [--load-balancer ARN_OR_NAME] [--certificate-map OLD=NEW]``."""

    wanted: bool = False
    load_balancer: str | None = None
    certificate_map: tuple[str, ...] = ()

    def mapping(self) -> dict[str, str]:
        """``--certificate-map`` as OLD -> NEW, checked."""
        if not self.wanted and (self.load_balancer or self.certificate_map):
            raise InvalidInput(
                "--load-balancer and --certificate-map apply to --recreate-listener; add it, "
                "or drop them"
            )
        mapping: dict[str, str] = {}
        for item in self.certificate_map:
            old, sep, new = item.partition("=")
            if not sep or not old.startswith("arn:") or not new.startswith("arn:"):
                raise InvalidInput(
                    f"--certificate-map {item!r} must be OLD=NEW, two certificate or trust store "
                    "ARNs"
                )
            mapping[old] = new
        return mapping

    def check_options(
        self,
        mode: str | None,
        priority: list[int] | None,
        match: list[str] | None,
        target_listener_arn: str | None,
    ) -> None:
        if not self.wanted:
            return
        if (mode and mode != "full") or priority or match:
            raise InvalidInput(
                "--recreate-listener restores the whole listener; drop --mode selective, "
                "--priority and --match"
            )
        if target_listener_arn:
            raise InvalidInput(
                "--recreate-listener creates a new listener; drop --target-listener-arn (or "
                "drop --recreate-listener to restore into that listener)"
            )


@dataclass(frozen=True)
class LockOptions:
    """Where the restore lock is (the stack's catalog table), or ``--no-lock``."""

    no_lock: bool = False
    table: str | None = None
    stack_name: str = "albrules"
    local: bool | None = None
    port: int | None = None


def _restore_lock(
    target: str, options: LockOptions, profile: str | None, region: str | None
) -> tuple[RestoreLock | None, dict[str, Any]]:
    """The lock this restore will hold (the same one the restore state machine takes), or
    None with the reason, said on stderr: ``--no-lock``, or no stack found."""
    if options.no_lock:
        why = "--no-lock: another restore of this listener may run at the same time"
        err_console.print(f"restoring without a lock ({why})", markup=False)
        return None, {"locked": False, "why": why}
    clients, outputs = stack_clients(
        options.local, options.port, profile, region, options.stack_name, target
    )
    table = options.table
    if not table:
        try:
            table = outputs().get("CatalogTableName")
        except (AlbRulesError, ClientError, BotoCoreError) as err:
            found = str(as_albrules_error(err)).split("; ")[0]  # what failed, not the advice
            why = f"stack {options.stack_name} not found: {found}"
        else:
            why = f"stack {options.stack_name} has no CatalogTableName output"
        if not table:
            err_console.print(
                f"restoring without a lock ({why}); give --stack-name or --table to take the "
                "stack's restore lock, or --no-lock to say you mean it",
                markup=False,
            )
            return None, {"locked": False, "why": why}
    caller = str(clients.client("sts").get_caller_identity()["Arn"])
    lock = RestoreLock(Catalog(clients, table), target, cli_owner(caller))
    return lock, {"locked": True, "table": table, "owner": lock.owner}


@dataclass(frozen=True)
class PointInTime:
    """``--at TIME`` or ``--before-change EVENT_ID`` (instead of a snapshot), and ``--from``."""

    at: str | None = None
    before_change: str | None = None
    from_location: str | None = None

    @property
    def given(self) -> bool:
        return self.at is not None or self.before_change is not None


def _document(
    snapshot: str | None,
    when: PointInTime,
    listener_arn: str | None,
    options: LockOptions,
    profile: str | None,
    region: str | None,
) -> tuple[Any, str, Choice | None]:
    """The snapshot to restore (read and validated), where it is, and, when it was chosen by
    time or by event, the choice (said on stdout unless --json)."""
    if snapshot is not None:
        if when.given:
            raise InvalidInput("give a SNAPSHOT, or --at TIME / --before-change EVENT_ID, not both")
        if when.from_location is not None:
            raise InvalidInput("--from applies to --at; drop it or drop the SNAPSHOT")
        return load_snapshot(snapshot, profile, region), snapshot, None
    if not when.given:
        raise InvalidInput(
            "give a SNAPSHOT (a path or s3:// URI), or --listener-arn ARN --at TIME, or "
            "--before-change EVENT_ID"
        )
    source, read = open_source(
        when.from_location,
        stack_name=options.stack_name,
        table=options.table,
        local=options.local,
        port=options.port,
        profile=profile,
        region=region,
        arn=listener_arn,
    )
    choice = choose(source, listener_arn=listener_arn, at=when.at, before_change=when.before_change)
    document = read(choice.location)
    check_chosen(choice, document)
    return document, choice.location, choice


def _run(
    snapshot: str | None,
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
    locking: LockOptions | None = None,
    when: PointInTime | None = None,
    skip_managed: bool = False,
    recreate: Recreate | None = None,
) -> None:
    """The one restore pipeline of both commands: (choose,) check, plan, show, (lock, confirm,
    apply).

    A restore that may change the listener holds its lock from before the plan to the end
    (released on every way out, Ctrl-C included); a dry run takes none."""
    _selection(mode, priority, match)  # option mistakes first, before any file or AWS access
    recreate = recreate or Recreate()
    certificate_map = recreate.mapping()
    recreate.check_options(mode, priority, match, target_listener_arn)
    secrets = _oidc(oidc_secret)
    document, snapshot, choice = _document(
        snapshot, when or PointInTime(), listener_arn, locking or LockOptions(), profile, region
    )
    if choice is not None and not as_json:
        out_console.print(f"chose {choice.reason}", markup=False)
    if recreate.wanted:
        _recreate(
            document,
            snapshot,
            recreate,
            certificate_map,
            listener_arn=listener_arn,
            map_by_name=map_by_name,
            secrets=secrets,
            scope=scope,
            dry_run=dry_run,
            yes=yes,
            pre_restore_to=pre_restore_to,
            as_json=as_json,
            profile=profile,
            region=region,
            locking=locking or LockOptions(),
            choice=choice,
        )
        return
    target = choose_target(document.source.listener_arn, listener_arn, target_listener_arn)
    scope.check_all(secrets, target)  # a secret out of scope is refused before any AWS call
    lock, lock_info = (
        (None, {}) if dry_run else _restore_lock(target, locking or LockOptions(), profile, region)
    )
    with lock or nullcontext():
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
            skip_managed=skip_managed,
        )
        if not as_json:
            out_console.print(
                plan_view(prepared.plan, live_rules=len(prepared.live.rules), source=snapshot)
            )
        outcome = unapplied(prepared, dry_run) or _apply(aws, prepared, yes, pre_restore_to, lock)
    if as_json:
        plan = prepared.plan.public()
        lock_part = {"lock": lock_info} if lock_info else {}
        chosen = {"choice": choice.public()} if choice else {}
        print_json({**plan, **outcome.model_dump(mode="json"), "plan": plan, **lock_part, **chosen})
    else:
        stream = out_console if outcome.exit_code == 0 else err_console
        stream.print(outcome_view(outcome))
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _recreate(
    document: Any,
    snapshot: str,
    recreate: Recreate,
    certificate_map: dict[str, str],
    *,
    listener_arn: str | None,
    map_by_name: bool,
    secrets: dict[str, str],
    scope: SecretScope,
    dry_run: bool,
    yes: bool,
    pre_restore_to: str | None,
    as_json: bool,
    profile: str | None,
    region: str | None,
    locking: LockOptions,
    choice: Choice | None,
) -> None:
    """``--recreate-listener``: check (nothing changed on a refusal), lock the load balancer's
    port, plan from the listener as it will be created, show, confirm, create and apply."""
    old = choose_target(document.source.listener_arn, listener_arn, None)
    if not document.can_recreate:
        raise RestoreRefused(V1_REFUSAL)
    aws = open_aws(profile, region, old)
    balancer, _name = find_load_balancer(aws, document, recreate.load_balancer)
    assert document.listener is not None
    key = lock_key(balancer, document.listener.port)
    lock, lock_info = (None, {}) if dry_run else _restore_lock(key, locking, profile, region)
    with lock or nullcontext():
        prepared = prepare_recreate(
            aws,
            document,
            load_balancer=recreate.load_balancer or balancer,
            certificate_map=certificate_map,
            map_by_name=map_by_name,
            oidc_secrets=secrets,
            secret_scope=scope,
        )
        target = prepared.recreate
        assert target is not None
        if not as_json:
            out_console.print(recreate_view(target))
            out_console.print(plan_view(prepared.plan, live_rules=0, source=snapshot), markup=False)
        outcome = unapplied(prepared, dry_run) or _apply(aws, prepared, yes, pre_restore_to, lock)
    if as_json:
        plan = prepared.plan.public()
        lock_part = {"lock": lock_info} if lock_info else {}
        chosen = {"choice": choice.public()} if choice else {}
        print_json(
            {
                **plan,
                **outcome.model_dump(mode="json"),
                "plan": plan,
                "recreate": target.public(),
                **lock_part,
                **chosen,
            }
        )
    else:
        stream = out_console if outcome.exit_code == 0 else err_console
        stream.print(outcome_view(outcome))
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _apply(
    aws: Aws,
    prepared: Prepared,
    yes: bool,
    pre_restore_to: str | None,
    lock: RestoreLock | None = None,
) -> RestoreResult:
    if not yes:
        if not sys.stdin.isatty():
            raise RestoreRefused(
                "restore asks for confirmation and stdin is not a terminal; pass --yes "
                "to restore without asking (nothing was changed)"
            )
        changes = len(prepared.plan.operations) + (1 if prepared.recreate else 0)
        if not typer.confirm(f"Apply {changes} change(s)?", default=False):
            raise RestoreRefused("not confirmed; nothing was changed")
    store = Store(pre_restore_to or default_pre_restore_location(), aws)
    return execute_restore(
        aws,
        prepared,
        pre_restore_store=store,
        recheck=not yes,
        lock=lock,
        catalog=lock.catalog if lock is not None else None,
    )


def _whole_load_balancer(
    single_listener_options: dict[str, Any],
    run: FleetRun,
    lock: LockOptions,
    where: tuple[str | None, str | None, str | None],
) -> None:
    """``plan``/``restore --load-balancer NAME`` without a SNAPSHOT: refuse the options that
    pick one listener, then run the whole-load-balancer restore (``where``: --from, --profile,
    --region)."""
    check_fleet_options(single_listener_options)
    run_fleet(run, **_fleet_doors(lock, *where))


def _fleet_run(
    load_balancer: str,
    from_location: str | None,
    at: str | None,
    recreate_listener: bool,
    map_by_name: bool,
    oidc_secret: list[str] | None,
    scope: SecretScope,
    dry_run: bool,
    yes: bool,
    pre_restore_to: str | None,
    as_json: bool,
    certificate_map: list[str] | None = None,
) -> FleetRun:
    """A whole-load-balancer restore (--load-balancer without a SNAPSHOT), as asked."""
    mapping = Recreate(True, None, tuple(certificate_map or ())).mapping()
    if mapping and not recreate_listener:
        raise InvalidInput("--certificate-map applies to --recreate-listener; add it, or drop it")
    return FleetRun(
        load_balancer=load_balancer,
        from_location=from_location,
        at=at,
        recreate_listener=recreate_listener,
        map_by_name=map_by_name,
        oidc_secrets=_oidc(oidc_secret),
        scope=scope,
        dry_run=dry_run,
        yes=yes,
        pre_restore_to=pre_restore_to,
        as_json=as_json,
        certificate_map=mapping,
    )


def _fleet_doors(
    options: LockOptions, from_location: str | None, profile: str | None, region: str | None
) -> dict[str, Any]:
    """How a whole-load-balancer restore reaches its snapshots and takes its locks: as one
    listener's restore does (--from or the stack's catalog; the stack's lock or none)."""

    def versions(load_balancer_arn: str) -> tuple[Any, Any]:
        return open_source(
            from_location,
            stack_name=options.stack_name,
            table=options.table,
            local=options.local,
            port=options.port,
            profile=profile,
            region=region,
            arn=load_balancer_arn,
        )

    def lock(listener_arn: str) -> RestoreLock | None:
        return _restore_lock(listener_arn, options, profile, region)[0]

    return {"profile": profile, "region": region, "open_versions": versions, "take_lock": lock}


def plan(
    snapshot: SnapshotArg = None,
    listener_arn: ListenerArn = None,
    at: AtOpt = None,
    before_change: BeforeChangeOpt = None,
    from_location: FromOpt = None,
    target_listener_arn: TargetListener = None,
    mode: ModeOpt = None,
    priority: PriorityOpt = None,
    match: MatchOpt = None,
    map_by_name: MapByName = False,
    oidc_secret: OidcSecret = None,
    oidc_secret_prefix: OidcSecretPrefix = DEFAULT_PREFIX,
    any_oidc_secret: AnyOidcSecret = False,
    skip_managed: SkipManaged = False,
    recreate_listener: RecreateOpt = False,
    load_balancer: LoadBalancerOpt = None,
    certificate_map: CertificateMapOpt = None,
    stack_name: StackName = "albrules",
    local: Where = None,
    port: LocalPort = None,
    table: CatalogTable = None,
    as_json: JsonOut = False,
    profile: Profile = None,
    region: Region = None,
    debug: Debug = False,
) -> None:
    """Show what a restore would change: the operations, in order, and a per-rule diff.

    Exactly `albrules restore --dry-run`: the same checks, refusals, output and exit codes.
    --listener-arn ARN --at TIME or --before-change EVENT_ID choose the snapshot from the
    stack's catalog (--stack-name, --table) and say which and why. --load-balancer NAME
    (--from LOCATION | --at TIME) plans every listener of a load balancer."""
    restore(
        snapshot=snapshot,
        listener_arn=listener_arn,
        at=at,
        before_change=before_change,
        from_location=from_location,
        target_listener_arn=target_listener_arn,
        mode=mode,
        priority=priority,
        match=match,
        map_by_name=map_by_name,
        oidc_secret=oidc_secret,
        oidc_secret_prefix=oidc_secret_prefix,
        any_oidc_secret=any_oidc_secret,
        skip_managed=skip_managed,
        recreate_listener=recreate_listener,
        load_balancer=load_balancer,
        certificate_map=certificate_map,
        dry_run=True,
        yes=False,
        pre_restore_to=None,
        no_lock=False,
        stack_name=stack_name,
        local=local,
        port=port,
        table=table,
        as_json=as_json,
        profile=profile,
        region=region,
        debug=debug,
    )


def restore(
    snapshot: SnapshotArg = None,
    listener_arn: ListenerArn = None,
    at: AtOpt = None,
    before_change: BeforeChangeOpt = None,
    from_location: FromOpt = None,
    target_listener_arn: TargetListener = None,
    mode: ModeOpt = None,
    priority: PriorityOpt = None,
    match: MatchOpt = None,
    map_by_name: MapByName = False,
    oidc_secret: OidcSecret = None,
    oidc_secret_prefix: OidcSecretPrefix = DEFAULT_PREFIX,
    any_oidc_secret: AnyOidcSecret = False,
    skip_managed: SkipManaged = False,
    recreate_listener: RecreateOpt = False,
    load_balancer: LoadBalancerOpt = None,
    certificate_map: CertificateMapOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan and check only.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    pre_restore_to: Annotated[
        str | None,
        typer.Option(
            "--pre-restore-to", help="Where to keep the pre-restore snapshot and journal."
        ),
    ] = None,
    no_lock: Annotated[
        bool,
        typer.Option(
            "--no-lock",
            help="Do not take the stack's restore lock of the listener (say so: another "
            "restore may run at the same time).",
        ),
    ] = False,
    stack_name: StackName = "albrules",
    local: Where = None,
    port: LocalPort = None,
    table: CatalogTable = None,
    as_json: JsonOut = False,
    profile: Profile = None,
    region: Region = None,
    debug: Debug = False,
) -> None:
    """Restore a snapshot: plan, confirm, apply, verify; roll back automatically on failure.

    The restore holds the listener's lock in the stack's catalog (--stack-name, or the local
    deploy), the lock the restore state machine takes: while another restore holds it, this
    one exits 2 naming it. Without a stack it says so and restores without a lock.
    --listener-arn ARN --at TIME or --before-change EVENT_ID choose the snapshot from that
    catalog (or --at from the files of --from) and say which and why, before the plan.
    --load-balancer NAME (--from LOCATION | --at TIME) restores every listener of a load
    balancer as one restore: one plan, one confirmation, all rolled back if one fails."""
    with handled(debug):
        if load_balancer is not None and snapshot is None:
            _whole_load_balancer(
                {
                    "--listener-arn": listener_arn,
                    "--before-change": before_change,
                    "--target-listener-arn": target_listener_arn,
                    "--mode": mode,
                    "--priority": priority,
                    "--match": match,
                },
                _fleet_run(
                    load_balancer,
                    from_location,
                    at,
                    recreate_listener,
                    map_by_name,
                    oidc_secret,
                    secret_scope(oidc_secret_prefix, any_oidc_secret),
                    dry_run,
                    yes,
                    pre_restore_to,
                    as_json,
                    certificate_map,
                ),
                LockOptions(no_lock, table, stack_name, local, port),
                (from_location, profile, region),
            )
            return
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
            locking=LockOptions(no_lock, table, stack_name, local, port),
            when=PointInTime(at, before_change, from_location),
            skip_managed=skip_managed,
            recreate=Recreate(recreate_listener, load_balancer, tuple(certificate_map or ())),
        )
