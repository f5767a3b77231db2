"""The ``albrules`` command: a thin door over the library.

Exit codes (a contract): 0 done or no changes, 2 invalid input or refused before any change,
3 restore failed and was rolled back, 4 rollback failed, 5 drift found (``drift``), 1 anything
else. Errors are one sentence on stderr; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import boto3
import typer
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from . import __version__
from .arns import parse_listener_arn, region_of
from .aws import Aws, explain
from .capture import OnProgress, capture_listeners, capture_load_balancer
from .cli_options import Debug, Port, Profile, Region
from .errors import AlbRulesError, InvalidInput, RestoreRefused, SnapshotInvalid
from .models import ListenerState
from .plan import Selector, choose_selection
from .render import console, entries_view, outcome_view, plan_view, snapshot_view
from .resolve import choose_target
from .restore import Outcome, execute_restore, prepare_restore
from .snapshot import build_snapshot, dumps, format_for
from .store import Store, default_pre_restore_location, is_s3, read_snapshot

app = typer.Typer(
    name="albrules",
    help="Back up and restore the listener rules of AWS Application Load Balancers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
local_app = typer.Typer(
    help="The embedded local AWS: try albrules without an AWS account.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(local_app, name="local")

ListenerArn = Annotated[
    str | None,
    typer.Option("--listener-arn", help="The listener to compare with (default: the snapshot's)."),
]
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
MapByName = Annotated[
    bool,
    typer.Option(
        "--map-target-groups-by-name", help="Use the target groups of the same names there."
    ),
]
OidcSecret = Annotated[
    list[str] | None,
    typer.Option(
        "--oidc-secret", help="CLIENT_ID=SECRET_ARN for OIDC rules to create (repeatable)."
    ),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]

err_console = console(stderr=True)
out_console = console()


@contextmanager
def handled(debug: bool) -> Iterator[None]:
    """Turn every failure into one clear sentence and the contract's exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except AlbRulesError as err:
        _report(err, debug)
        raise typer.Exit(err.exit_code) from None
    except (ClientError, BotoCoreError) as err:
        mapped = explain(err)
        _report(mapped, debug, err)
        raise typer.Exit(mapped.exit_code) from None
    except KeyboardInterrupt:
        err_console.print(
            "interrupted; if a restore had started applying, compare the listener with its "
            "pre-restore snapshot (albrules plan PRE-RESTORE-SNAPSHOT) before going on"
        )
        raise typer.Exit(1) from None
    except Exception as err:  # a bug: still one sentence, the traceback on request
        err_console.print(
            f"error: unexpected {type(err).__name__}: {err}; run with --debug for details"
        )
        if debug:
            err_console.print(traceback.format_exc())
        raise typer.Exit(1) from None


def _report(err: AlbRulesError, debug: bool, cause: BaseException | None = None) -> None:
    err_console.print(f"error: {err}", markup=False)
    if isinstance(err, SnapshotInvalid):
        for problem in err.problems:
            err_console.print(f"  {problem}", markup=False)
    if debug:
        err_console.print(traceback.format_exc(), markup=False)


def _aws(profile: str | None, region: str | None, arn: str | None = None) -> Aws:
    arn_region = region_of(arn) if arn else None
    if region and arn_region and region != arn_region:
        raise InvalidInput(f"{arn} is in {arn_region} but --region is {region}; drop --region")
    try:
        session = boto3.Session(profile_name=profile, region_name=region or arn_region)
    except ProfileNotFound:
        raise InvalidInput(
            f"AWS profile {profile!r} is not configured; check ~/.aws/config or drop --profile"
        ) from None
    return Aws(session)


def _snapshot(location: str, profile: str | None, region: str | None) -> Any:
    aws = _aws(profile, region) if is_s3(location) else None
    return read_snapshot(location, aws)


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
        secrets[client] = arn
    return secrets


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _capture(
    listener_arn: list[str] | None,
    load_balancer: list[str] | None,
    profile: str | None,
    region: str | None,
    progress: OnProgress | None = None,
) -> tuple[list[ListenerState], Aws | None]:
    """Capture the listeners given by ARN (grouped by region) and every listener of the load
    balancers; also the first session opened, for an S3 location."""
    by_region: dict[str | None, list[str]] = defaultdict(list)
    for arn in listener_arn or []:
        by_region[parse_listener_arn(arn).region].append(arn)
    states: list[ListenerState] = []
    first = None
    for arns in by_region.values():
        aws = _aws(profile, region, arns[0])
        first = first or aws
        states += capture_listeners(aws, arns, progress)
    for balancer in load_balancer or []:
        aws = _aws(profile, region, balancer if balancer.startswith("arn:") else None)
        first = first or aws
        states += capture_load_balancer(aws, balancer, progress)
    return states, first


# --- commands -----------------------------------------------------------------------------


@app.command()
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
        from .progress import progress_bar

        with progress_bar(err_console, "backing up listeners") as report:
            states, store_aws = _capture(listener_arn, load_balancer, profile, region, report)
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


@app.command()
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
        document = _snapshot(snapshot, profile, region)
        if as_json or as_yaml:
            sys.stdout.write(dumps(document, "json" if as_json else "yaml").decode())
            return
        out_console.print(snapshot_view(document, snapshot))


@app.command()
def validate(
    snapshot: Annotated[str, typer.Argument(help="Snapshot path or S3 URI.")],
    listener_arn: ListenerArn = None,
    map_by_name: MapByName = False,
    oidc_secret: OidcSecret = None,
    profile: Profile = None,
    region: Region = None,
    debug: Debug = False,
) -> None:
    """Check a snapshot: schema, checksum, limits; with --listener-arn, also that it can be
    restored there (target groups, quota, secrets)."""
    with handled(debug):
        document = _snapshot(snapshot, profile, region)
        out_console.print(
            f"{snapshot}: valid snapshot of {document.source.listener_arn} "
            f"({len(document.rules)} rules, checksum verified)"
        )
        if listener_arn:
            _, prepared = _prepare(
                document,
                listener_arn,
                map_by_name=map_by_name,
                oidc_secret=oidc_secret,
                profile=profile,
                region=region,
            )
            out_console.print(
                f"restorable into {listener_arn}: target groups found, within the rule quota; "
                f"a full restore would make {len(prepared.plan.operations)} change(s)"
            )


@app.command(name="list")
def list_(
    location: Annotated[str, typer.Argument(help="Directory or s3://bucket/prefix.")],
    as_json: JsonOut = False,
    profile: Profile = None,
    region: Region = None,
    debug: Debug = False,
) -> None:
    """List stored snapshots, newest first."""
    with handled(debug):
        store = Store(location, _aws(profile, region) if is_s3(location) else None)
        entries = store.list()
        if as_json:
            _print_json(
                [
                    {**e.__dict__, "created_at": f"{e.created_at:%Y-%m-%dT%H:%M:%SZ}"}
                    for e in entries
                ]
            )
            return
        out_console.print(entries_view(entries, location))


def _target_for_restore(document: Any, listener_arn: str | None, target: str | None) -> str:
    return choose_target(document.source.listener_arn, listener_arn, target)


def _prepare(
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
) -> tuple[Aws, Any]:
    """Parse the selectors, open the target's account and region, check and plan."""
    chosen_mode, selector = _selection(mode, priority, match)
    secrets = _oidc(oidc_secret)
    aws = _aws(profile, region, target)
    prepared = prepare_restore(
        aws,
        document,
        target_listener_arn=target,
        mode=chosen_mode,  # type: ignore[arg-type]
        selector=selector,
        map_by_name=map_by_name,
        oidc_secrets=secrets,
    )
    return aws, prepared


@app.command()
def plan(
    snapshot: Annotated[str, typer.Argument(help="Snapshot path or S3 URI.")],
    listener_arn: ListenerArn = None,
    target_listener_arn: TargetListener = None,
    mode: ModeOpt = None,
    priority: PriorityOpt = None,
    match: MatchOpt = None,
    map_by_name: MapByName = False,
    oidc_secret: OidcSecret = None,
    as_json: JsonOut = False,
    profile: Profile = None,
    region: Region = None,
    debug: Debug = False,
) -> None:
    """Show what a restore would change: the operations, in order, and a per-rule diff."""
    with handled(debug):
        _selection(mode, priority, match)  # option mistakes first, before any file or AWS access
        document = _snapshot(snapshot, profile, region)
        target = target_listener_arn or listener_arn or document.source.listener_arn
        _, prepared = _prepare(
            document,
            target,
            mode=mode,
            priority=priority,
            match=match,
            map_by_name=map_by_name,
            oidc_secret=oidc_secret,
            profile=profile,
            region=region,
        )
        if as_json:
            _print_json(prepared.plan.public())
            return
        out_console.print(
            plan_view(prepared.plan, live_rules=len(prepared.live.rules), source=snapshot)
        )


@app.command()
def restore(
    snapshot: Annotated[str, typer.Argument(help="Snapshot path or S3 URI.")],
    listener_arn: ListenerArn = None,
    target_listener_arn: TargetListener = None,
    mode: ModeOpt = None,
    priority: PriorityOpt = None,
    match: MatchOpt = None,
    map_by_name: MapByName = False,
    oidc_secret: OidcSecret = None,
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
        _selection(mode, priority, match)  # option mistakes first, before any file or AWS access
        document = _snapshot(snapshot, profile, region)
        target = _target_for_restore(document, listener_arn, target_listener_arn)
        aws, prepared = _prepare(
            document,
            target,
            mode=mode,
            priority=priority,
            match=match,
            map_by_name=map_by_name,
            oidc_secret=oidc_secret,
            profile=profile,
            region=region,
        )
        view = plan_view(prepared.plan, live_rules=len(prepared.live.rules), source=snapshot)
        if not as_json:
            out_console.print(view)
        base = {
            "listener_arn": prepared.plan.listener_arn,
            "changes": len(prepared.plan.operations),
            "warnings": prepared.warnings,
        }
        if prepared.plan.empty:
            outcome = Outcome(
                status="NO_CHANGES", message="the listener already matches; nothing to do", **base
            )
        elif dry_run:
            outcome = Outcome(status="DRY_RUN", message="dry run: nothing was changed", **base)
        else:
            if not yes:
                if not sys.stdin.isatty():
                    raise RestoreRefused(
                        "restore asks for confirmation and stdin is not a terminal; pass --yes "
                        "to restore without asking (nothing was changed)"
                    )
                if not typer.confirm(
                    f"Apply {len(prepared.plan.operations)} change(s)?", default=False
                ):
                    raise RestoreRefused("not confirmed; nothing was changed")
            store = Store(pre_restore_to or default_pre_restore_location(), aws)
            outcome = execute_restore(aws, prepared, pre_restore_store=store, recheck=not yes)
        if as_json:
            _print_json({**outcome.model_dump(mode="json"), "plan": prepared.plan.public()})
        else:
            stream = out_console if outcome.exit_code == 0 else err_console
            stream.print(outcome_view(outcome))
        if outcome.exit_code:
            raise typer.Exit(outcome.exit_code)


@app.command()
def version() -> None:
    """Print the albrules version."""
    out_console.print(f"albrules {__version__}")


# --- the local AWS ------------------------------------------------------------------------



@local_app.command("up")
def local_up(port: Port = 4566, debug: Debug = False) -> None:
    """Start the local AWS in the background and print the environment that uses it."""
    with handled(debug):
        from .local import process

        pid = process.up(port)
        err_console.print(
            f"local AWS running on {process.endpoint(port)} (pid {pid}); use it with:"
        )
        for key, value in process.environment(port).items():
            sys.stdout.write(f"export {key}={value}\n")


@local_app.command("down")
def local_down(port: Port = 4566, debug: Debug = False) -> None:
    """Stop the local AWS."""
    with handled(debug):
        from .local import process

        stopped = process.down(port)
        out_console.print(
            "local AWS stopped" if stopped else f"no local AWS was running on port {port}"
        )


@local_app.command("status")
def local_status(port: Port = 4566, debug: Debug = False) -> None:
    """Say whether the local AWS is running."""
    with handled(debug):
        from .local import process

        if not process.running(port):
            out_console.print(f"no local AWS on port {port}")
            raise typer.Exit(1)
        out_console.print(
            f"local AWS running on {process.endpoint(port)}; {process.admin(port, 'config')}"
        )


@local_app.command("seed")
def local_seed(port: Port = 4566, as_json: JsonOut = False, debug: Debug = False) -> None:
    """Create the sample load balancers, listeners and rules in the local AWS."""
    with handled(debug):
        from .local.seed import seed
        from .progress import progress_bar

        with progress_bar(err_console, "seeding the local AWS") as report:
            result = seed(_local_session(port), report)
        if as_json:
            _print_json(result)
            return
        for name, item in result["listeners"].items():
            out_console.print(f"{name:<16} {item['rules']:>3} rules  {item['arn']}")


def _local_session(port: int) -> Any:
    """A session whose clients always talk to the local AWS on ``port``, never to real AWS."""
    from .local import process

    if not process.running(port):
        raise InvalidInput(
            f"no local AWS on port {port}; start it with `albrules local up --port {port}`"
        )
    env = process.environment(port)
    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )

    class _Local:
        region = session.region_name
        region_name = session.region_name

        @staticmethod
        def client(service: str) -> Any:
            return session.client(service, endpoint_url=env["AWS_ENDPOINT_URL"])

    return _Local()


@local_app.command("break")
def local_break(
    listener_arn: Annotated[str, typer.Option("--listener-arn", help="The listener to break.")],
    port: Port = 4566,
    debug: Debug = False,
) -> None:
    """Simulate a bad deploy on a local listener: delete, edit, reorder and untag rules."""
    with handled(debug):
        from .local.seed import break_listener

        parse_listener_arn(listener_arn)
        try:
            done = break_listener(_local_session(port), listener_arn)
        except ValueError as err:
            raise InvalidInput(str(err)) from None
        for line in done:
            out_console.print(line)


@local_app.command("fault")
def local_fault(
    operation: Annotated[
        str | None, typer.Argument(help="ELBv2 operation, e.g. CreateRule.")
    ] = None,
    nth: Annotated[int, typer.Option("--nth", help="Fail the nth call from now.")] = 1,
    times: Annotated[int, typer.Option("--times", help="How many calls fail (0: all).")] = 1,
    code: Annotated[
        str, typer.Option("--code", help="Error code to answer with.")
    ] = "InternalFailure",
    clear: Annotated[bool, typer.Option("--clear", help="Remove all injected faults.")] = False,
    port: Port = 4566,
    debug: Debug = False,
) -> None:
    """Make the local AWS fail an ELBv2 call, to see a restore roll back."""
    with handled(debug):
        from .local import process

        if clear:
            process.admin(port, "faults", "DELETE")
            out_console.print("faults cleared")
            return
        if not operation:
            raise InvalidInput("give an ELBv2 operation (e.g. CreateRule) or --clear")
        process.admin(
            port,
            "faults",
            "POST",
            {"operation": operation, "nth": nth, "times": times, "code": code},
        )
        out_console.print(f"the local AWS will fail call {nth} of {operation} from now with {code}")


from .cli_drift import register as _register_drift  # noqa: E402  (drift)
from .cli_graph import register as _register_graph  # noqa: E402  (graph)
from .cli_watch import register as _register_watch  # noqa: E402  (watch)
from .cli_workflows import register as _register_workflows  # noqa: E402  (run, local deploy)

for _register in (_register_workflows, _register_watch, _register_drift, _register_graph):
    _register(app, local_app)


def main() -> None:
    """Entry point of the ``albrules`` command."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
