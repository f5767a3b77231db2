"""``albrules restore --load-balancer NAME (--from LOCATION | --at TIME)`` and the same
``plan``: every listener of a load balancer in one restore (:mod:`albrules.fleet_restore`).

The pipeline of one listener's restore, widened: choose, lock every listener, check and plan
them all, show the whole plan, ask once, apply as a saga, show an outcome per listener."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field

import typer

from ..aws import Aws
from ..capture import resolve_load_balancer
from ..errors import InvalidInput, RestoreRefused
from ..fleet_restore import (
    FleetOptions,
    FleetPlan,
    FleetResult,
    choose_members,
    execute_fleet,
    match_live,
    prepare_fleet,
    unapplied_fleet,
)
from ..fleet_view import fleet_outcome_view, fleet_plan_view
from ..history import Reader, VersionSource
from ..locks import RestoreLock
from ..oidc_secrets import SecretScope
from ..records import new_restore_id
from ..recreate import lock_key
from ..store import Store, default_pre_restore_location
from .common import err_console, open_aws, out_console, print_json


@dataclass(frozen=True)
class FleetRun:
    """What the user asked of a whole-load-balancer restore."""

    load_balancer: str
    from_location: str | None
    at: str | None
    recreate_listener: bool
    map_by_name: bool
    oidc_secrets: dict[str, str]
    scope: SecretScope
    dry_run: bool
    yes: bool
    pre_restore_to: str | None
    as_json: bool
    certificate_map: dict[str, str] = field(default_factory=dict)


def check_fleet_options(given: dict[str, object]) -> None:
    """Options that choose one listener's restore are refused with --load-balancer alone."""
    wrong = [name for name, value in given.items() if value]
    if wrong:
        raise InvalidInput(
            f"--load-balancer without a SNAPSHOT restores every listener of the load balancer; "
            f"{', '.join(wrong)} name(s) one listener, drop them"
        )


def run_fleet(
    run: FleetRun,
    *,
    profile: str | None,
    region: str | None,
    open_versions: Callable[[str], tuple[VersionSource, Reader]],
    take_lock: Callable[[str], RestoreLock | None],
) -> None:
    """Choose, lock, plan, show, confirm, apply; exit with the outcome's code.

    ``open_versions(load_balancer_arn)``: where the snapshots are (--from, else the stack's
    catalog); ``take_lock(listener_arn)``: the listener's restore lock, or None (no stack, or
    --no-lock: said once). Every listener's lock is held from before its plan to the end (a
    dry run takes none)."""

    if run.from_location is None and run.at is None:
        raise InvalidInput(
            f"--load-balancer {run.load_balancer} restores every listener: give --from LOCATION "
            "(each listener's latest snapshot there) or --at TIME (each one's version then, "
            "from the stack's catalog or --from)"
        )
    aws = open_aws(profile, region)
    balancer = resolve_load_balancer(aws, run.load_balancer)
    source, read = open_versions(balancer)
    choosing = choose_members(source, read, balancer, at=run.at)
    fleet = match_live(aws, balancer, choosing)
    options = FleetOptions(
        run.recreate_listener, run.map_by_name, run.oidc_secrets, run.scope, run.certificate_map
    )
    with ExitStack() as held:
        locks: dict[str, RestoreLock] = {}
        if not run.dry_run:
            for member in fleet.members:
                # a missing listener's lock is its load balancer's port (albrules.recreate)
                key = member.target_arn or lock_key(fleet.load_balancer_arn, member.port or 0)
                lock = take_lock(key)
                if lock is None:
                    break  # no stack (said once): no lock for any listener
                locks[key] = held.enter_context(lock)
        prepare_fleet(aws, fleet, options)
        if not run.as_json:
            out_console.print(fleet_plan_view(fleet))
        outcome = unapplied_fleet(fleet, run.dry_run) or _apply(aws, fleet, run, locks)
    if run.as_json:
        print_json({"plan": fleet.public(), **outcome.model_dump(mode="json")})
    else:
        stream = out_console if outcome.exit_code == 0 else err_console
        stream.print(fleet_outcome_view(outcome))
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _apply(aws: Aws, fleet: FleetPlan, run: FleetRun, locks: dict[str, RestoreLock]) -> FleetResult:
    """One confirmation for the whole plan, then the saga."""
    listeners = sum(1 for m in fleet.members if m.changes or m.recreate is not None)
    if not run.yes:
        if not sys.stdin.isatty():
            raise RestoreRefused(
                "restore asks for confirmation and stdin is not a terminal; pass --yes "
                "to restore without asking (nothing was changed)"
            )
        question = (
            f"Apply {fleet.changes} change(s) to {listeners} listener(s) of load balancer "
            f"{fleet.load_balancer_name}?"
        )
        if not typer.confirm(question, default=False):
            raise RestoreRefused("not confirmed; nothing was changed")
    store = Store(run.pre_restore_to or default_pre_restore_location(), aws)
    return execute_fleet(
        aws,
        fleet,
        pre_restore_store=store,
        restore_id=new_restore_id(),
        recheck=not run.yes,
        locks=locks,
    )
