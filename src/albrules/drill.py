"""Restore drills: prove a snapshot restorable by restoring it where it harms nothing.

``albrules drill SNAPSHOT --load-balancer SCRATCH`` (and the scheduled drills of the stack,
:mod:`albrules.tasks.drills`) run :func:`run_drill`:

1. the scratch load balancer is found (name or ARN) and read: its listeners and their rules,
   to compare with afterwards;
2. a free port is chosen: the lowest of :data:`DRILL_PORTS` (8000-8999) that no listener of
   the scratch load balancer uses (none free: refused, exit 2, nothing changed);
3. the snapshot's target groups are mapped by name to the scratch account and region's, and
   (format 2) its certificates and trust store are checked there; each that is missing is a
   reason the snapshot is not restorable, found before any change;
4. a new listener is created on the free port: from a format 2 snapshot with its settings
   (:func:`albrules.recreate.create_listener`: protocol, certificates, policies, mutual TLS,
   tags); from a format 1 snapshot, which holds no settings, as HTTP with the snapshot's
   default actions (routing only: a format 1 drill proves the rules restorable, never the
   listener);
5. the ordinary restore plan brings it to the snapshot (additional certificates, attributes,
   the default rule's tags, every rule) and is applied; a call AWS refuses is a reason;
6. the new listener is compared with the snapshot (what the restore's verify compares:
   routing, and for format 2 the settings, port aside); each difference is a reason;
7. the listener is deleted (its rules go with it) and the scratch load balancer read again:
   it must be exactly as it was, after a failure too.

The outcome is :class:`DrillReport`: ``RESTORABLE`` (exit 0), ``NOT_RESTORABLE`` with each
reason (exit 5) or ``CLEANUP_FAILED`` (exit 6: the scratch load balancer is not as it was;
the report names what is left). Bad input, a scratch load balancer that cannot be found and
no free port are refusals (exit 2) before any change. See :mod:`albrules.outcomes`.

A target group serves at most one load balancer (the ALB quota "load balancers per target
group" is 1), so the scratch load balancer needs target groups of the snapshot's names that
no other load balancer uses: in practice, a scratch account or region with its own target
groups of those names (they need no targets).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from .arns import parse_listener_arn
from .aws import Aws, as_albrules_error, error_code, error_message
from .canonical import canonical_json
from .capture import (
    capture_listener,
    describe_rules,
    load_balancer_listeners,
    resolve_load_balancer,
)
from .errors import AlbRulesError, ApplyFailed, RestoreRefused, SnapshotInvalid
from .models import ListenerState, Snapshot, Source
from .oidc_secrets import SecretScope
from .operations import api_actions
from .outcomes import DRILL_EXIT_CODES, DrillStatus
from .recreate import check_recreatable, create_listener
from .resolve import check_region, desired_from_snapshot, resolve_target_groups
from .restore import (
    RestoreOptions,
    Target,
    apply_with_journal,
    default_oidc,
    differences,
    make_plan,
    plan_for_created,
    prepare_recreate,
)

#: The ports a drill listener may take: the lowest one the scratch load balancer does not use.
DRILL_PORTS = range(8000, 9000)
CREATE_CALL = "CreateListener"
DELETE_CALL = "DeleteListener"

Journal = list[dict[str, Any]]


class DrillReport(BaseModel):
    """What a drill found: restorable, or each reason it is not; and that the scratch load
    balancer was left as it was."""

    model_config = ConfigDict(extra="forbid")
    status: DrillStatus
    snapshot: str = Field(description="where the snapshot was read")
    checksum: str
    listener_arn: str = Field(description="the snapshot's listener")
    schema_version: int
    load_balancer_arn: str = Field(description="the scratch load balancer")
    load_balancer_name: str
    port: int | None = None
    drill_listener_arn: str | None = None
    rules: int = 0
    calls: int = 0
    checked: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    scratch_unchanged: bool = True
    started_at: str
    ended_at: str
    journal: Journal = Field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return DRILL_EXIT_CODES[self.status]

    @property
    def restorable(self) -> bool:
        return self.status == "RESTORABLE"

    def headline(self, *, reasons: bool = True) -> str:
        """One sentence: what was proven, or (``reasons``) the first reason it was not."""
        what = f"snapshot {self.checksum[:12]} of {self.listener_arn}"
        if self.status == "RESTORABLE":
            return (
                f"{what} is restorable: {self.rules} rule(s) restored into a new listener on "
                f"port {self.port} of {self.load_balancer_name} and verified ({self.calls} "
                "call(s)); the listener was deleted and the load balancer is as it was"
            )
        if self.status == "CLEANUP_FAILED":
            last = f": {self.reasons[-1]}" if reasons else " (below)"
            return f"the drill of {what} did not leave {self.load_balancer_name} as it was{last}"
        count = f"{len(self.reasons)} reason(s)"
        if not reasons:
            return f"{what} is not restorable ({count}, below)"
        return f"{what} is not restorable ({count}): {self.reasons[0]}"

    def public(self) -> dict[str, Any]:
        return {**self.model_dump(mode="json"), "exit_code": self.exit_code}


# --- the scratch load balancer ------------------------------------------------------------


def scratch_state(aws: Aws, load_balancer_arn: str) -> list[dict[str, Any]]:
    """The scratch load balancer's listeners and each one's rules, in a form that compares
    equal when nothing changed (sorted by port and priority)."""
    out = []
    for listener in load_balancer_listeners(aws, load_balancer_arn):
        rules = sorted(
            describe_rules(aws, listener["ListenerArn"]),
            key=lambda r: (r.get("Priority") != "default", str(r.get("Priority"))),
        )
        out.append({"listener": listener, "rules": rules})
    return sorted(out, key=lambda item: int(item["listener"].get("Port", 0)))


def _state_lines(state: list[dict[str, Any]]) -> dict[str, str]:
    return {item["listener"]["ListenerArn"]: canonical_json(item) for item in state}


def compare_scratch(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    """How the scratch load balancer differs from before the drill (empty: as it was)."""
    old, new = _state_lines(before), _state_lines(after)
    out = [f"listener {arn} was added and is still there" for arn in new.keys() - old.keys()]
    out += [f"listener {arn} is gone" for arn in old.keys() - new.keys()]
    out += [
        f"listener {arn} or its rules changed"
        for arn in old.keys() & new.keys()
        if old[arn] != new[arn]
    ]
    return sorted(out)


def free_port(aws: Aws, load_balancer_arn: str, name: str, ports: range = DRILL_PORTS) -> int:
    """The lowest port of ``ports`` no listener of the load balancer uses."""
    used = {int(item.get("Port", 0)) for item in load_balancer_listeners(aws, load_balancer_arn)}
    for port in ports:
        if port not in used:
            return port
    raise RestoreRefused(
        f"every drill port ({ports.start}-{ports.stop - 1}) of load balancer {name} is taken; "
        "nothing was changed: delete a listener there, or drill on another load balancer"
    )


def describe_scratch(aws: Aws, load_balancer: str) -> tuple[str, str]:
    """(ARN, name) of the scratch load balancer, given by name or ARN (refused if missing)."""
    arn = resolve_load_balancer(aws, load_balancer)
    try:
        found = aws.elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
    except ClientError as err:
        if error_code(err) in ("LoadBalancerNotFound", "ValidationError"):
            raise RestoreRefused(
                f"scratch load balancer {load_balancer} does not exist; create one for drills "
                "(no listener needed), or pass its name, --region and --profile"
            ) from None
        raise as_albrules_error(err, where=f"load balancer {load_balancer}") from err
    except BotoCoreError as err:
        raise as_albrules_error(err) from err
    return arn, str(found[0]["LoadBalancerName"])


# --- the drill ----------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _reasons_of(err: Exception) -> list[str]:
    """A refusal or failure as reasons: one per problem when it lists them."""
    if isinstance(err, SnapshotInvalid) and err.problems:
        return [f"{err.source}: {p}" for p in err.problems]
    return [str(as_albrules_error(err))]


def _scratch_source(aws: Aws, snapshot: Snapshot, lb_arn: str, lb_name: str) -> Source:
    parsed = parse_listener_arn(snapshot.source.listener_arn)
    account = lb_arn.split(":")[4] if lb_arn.count(":") >= 5 else parsed.account
    return Source(
        account=account,
        region=aws.region or parsed.region,
        load_balancer_arn=lb_arn,
        load_balancer_name=lb_name,
        listener_arn=f"{lb_arn.replace(':loadbalancer/', ':listener/')}/{'0' * 16}",
    )


def _check_target_groups(
    aws: Aws, snapshot: Snapshot, where: Source, reasons: list[str]
) -> dict[str, str]:
    """The snapshot's target groups mapped by name where the drill runs; each missing one is
    a reason."""
    empty = ListenerState(source=where, default_actions=[], rules=[])
    try:
        return resolve_target_groups(aws, snapshot, empty, map_by_name=True)
    except SnapshotInvalid as err:
        reasons += [f"missing target group: {p}" for p in err.problems]
    return {}


def _create_v1(
    aws: Aws, snapshot: Snapshot, lb_arn: str, port: int, mapping: dict[str, str], journal: Journal
) -> str:
    """A format 1 snapshot's drill listener: HTTP on ``port``, with the snapshot's default
    actions (its settings are not in the snapshot)."""
    defaults = desired_from_snapshot(snapshot, mapping).default_actions
    request = {
        "LoadBalancerArn": lb_arn,
        "Protocol": "HTTP",
        "Port": port,
        "DefaultActions": api_actions(defaults, {}, {}),
    }
    entry: dict[str, Any] = {
        "phase": "drill",
        "step": 0,
        "call": CREATE_CALL,
        "summary": f"create listener HTTP:{port} (format 1: routing only)",
        "request": request,
        "status": "started",
        "at": _now(),
    }
    journal.append(entry)
    try:
        response = aws.elbv2.create_listener(**request)
    except (ClientError, BotoCoreError) as err:
        entry["status"] = "failed"
        entry["error"] = (
            f"{error_code(err)}: {error_message(err)}" if isinstance(err, ClientError) else str(err)
        )
        raise ApplyFailed(
            f"CreateListener HTTP:{port} failed: {as_albrules_error(err)}", index=0, journal=journal
        ) from err
    arn = str(response["Listeners"][0]["ListenerArn"])
    entry["status"] = "done"
    entry["listener_arn"] = arn
    return arn


def _delete(
    aws: Aws, lb_arn: str, port: int, known: str | None, before: set[str], journal: Journal
) -> list[str]:
    """Delete the drill's listener (found by port when its ARN is not known: a lost answer);
    what could not be deleted, in words."""
    arns = [known] if known else []
    if not arns:
        arns = [
            str(item["ListenerArn"])
            for item in load_balancer_listeners(aws, lb_arn)
            if int(item.get("Port", 0)) == port and item["ListenerArn"] not in before
        ]
    left = []
    for arn in arns:
        entry: dict[str, Any] = {
            "phase": "cleanup",
            "step": 0,
            "call": DELETE_CALL,
            "summary": f"delete the drill listener {arn}",
            "request": {"ListenerArn": arn},
            "status": "started",
            "at": _now(),
        }
        journal.append(entry)
        try:
            aws.elbv2.delete_listener(ListenerArn=arn)
        except ClientError as err:
            if error_code(err) == "ListenerNotFound":
                entry["status"] = "done"
                continue
            entry["status"] = "failed"
            entry["error"] = f"{error_code(err)}: {error_message(err)}"
            left.append(f"could not delete the drill listener {arn}: {as_albrules_error(err)}")
            continue
        except BotoCoreError as err:
            entry["status"] = "failed"
            entry["error"] = str(err)
            left.append(f"could not delete the drill listener {arn}: {as_albrules_error(err)}")
            continue
        entry["status"] = "done"
    return left


def run_drill(
    aws: Aws,
    snapshot: Snapshot,
    location: str,
    load_balancer: str,
    *,
    certificate_map: dict[str, str] | None = None,
    oidc_secrets: dict[str, str] | None = None,
    secret_scope: SecretScope | None = None,
    ports: range = DRILL_PORTS,
) -> DrillReport:
    """Drill ``snapshot`` (read from ``location``) on the scratch ``load_balancer``.

    Raises (exit 2, nothing changed) when the scratch load balancer cannot be found, is in
    another region than the session, or has no free drill port; every other problem is a
    reason in the report. The drill listener is always deleted, and the report says whether
    the scratch load balancer is as it was."""
    started = _now()
    lb_arn, lb_name = describe_scratch(aws, load_balancer)
    check_region(aws, lb_arn.replace(":loadbalancer/", ":listener/") + "/0")
    before = scratch_state(aws, lb_arn)
    port = free_port(aws, lb_arn, lb_name, ports)
    where = _scratch_source(aws, snapshot, lb_arn, lb_name)
    reasons: list[str] = []
    checked: list[str] = []
    journal: Journal = []
    created: str | None = None
    plan_calls = 0
    try:
        mapping = _check_target_groups(aws, snapshot, where, reasons)
        options = RestoreOptions(
            oidc_secrets=dict(oidc_secrets or {}), secret_scope=secret_scope or SecretScope()
        )
        if snapshot.listener is None:
            checked.append("routing (format 1: the default actions and every rule, on HTTP)")
            if not reasons:
                created = _create_v1(aws, snapshot, lb_arn, port, mapping, journal)
                live = capture_listener(aws, created)
                prepared = make_plan(aws, snapshot, Target(created, live, mapping), options)
                plan_calls = len(prepared.plan.operations) + 1
                apply_with_journal(
                    aws, prepared.plan, prepared.secret_values, journal, phase="drill"
                )
                reasons += [
                    f"verify: {line}"
                    for line in differences(prepared.plan.expected, capture_listener(aws, created))
                ]
        else:
            checked.append("routing (the default actions and every rule)")
            checked.append(
                "settings (protocol, certificates, policies, mutual TLS, attributes, tags; "
                "the port aside)"
            )
            created, plan_calls = _drill_v2(
                aws,
                snapshot,
                lb_arn,
                port,
                mapping,
                journal,
                reasons,
                options,
                dict(certificate_map or {}),
            )
    except ApplyFailed as err:
        reasons.append(f"AWS refused a call: {err}")
    except AlbRulesError as err:
        reasons += _reasons_of(err)
    except Exception as err:  # a bug or an AWS fault: still clean up, and say it
        reasons.append(f"the drill failed: {as_albrules_error(err)}")
    finally:
        created = created or next(
            (str(e["listener_arn"]) for e in journal if e.get("listener_arn")), None
        )
        known = {item["listener"]["ListenerArn"] for item in before}
        left = _delete(aws, lb_arn, port, created, known, journal)
    after = scratch_state(aws, lb_arn)
    changed = compare_scratch(before, after)
    status: DrillStatus = "RESTORABLE"
    if reasons:
        status = "NOT_RESTORABLE"
    if left or changed:
        status = "CLEANUP_FAILED"
        reasons += left + [f"the scratch load balancer is not as it was: {c}" for c in changed]
    return DrillReport(
        status=status,
        snapshot=location,
        checksum=snapshot.checksum,
        listener_arn=snapshot.source.listener_arn,
        schema_version=snapshot.schema_version,
        load_balancer_arn=lb_arn,
        load_balancer_name=lb_name,
        port=port,
        drill_listener_arn=created,
        rules=len(snapshot.rules),
        calls=sum(1 for e in journal if e.get("status") == "done" and e.get("phase") != "cleanup")
        or plan_calls,
        checked=checked,
        reasons=reasons,
        scratch_unchanged=not changed,
        started_at=started,
        ended_at=_now(),
        journal=journal,
    )


def _drill_v2(
    aws: Aws,
    snapshot: Snapshot,
    lb_arn: str,
    port: int,
    mapping: dict[str, str],
    journal: Journal,
    reasons: list[str],
    options: RestoreOptions,
    certificate_map: dict[str, str],
) -> tuple[str | None, int]:
    """A format 2 snapshot's drill: its listener recreated on ``port`` with its settings
    (:mod:`albrules.recreate`), brought to the snapshot and verified. Returns the listener's
    ARN (None if none was made) and the calls planned; what is wrong goes in ``reasons``."""
    if reasons:  # target groups missing: the certificates are still checked, nothing is made
        check_recreatable(aws, snapshot, lb_arn, certificate_map, port=port, target_groups=mapping)
        return None, 0
    prepared = prepare_recreate(
        aws,
        snapshot,
        load_balancer=lb_arn,
        certificate_map=certificate_map,
        port=port,
        target_groups=mapping,
        oidc_secrets=options.oidc_secrets,
        secret_scope=options.secret_scope,
    )
    target = prepared.recreate
    assert target is not None
    created = create_listener(
        aws,
        target,
        journal,
        oidc=default_oidc(target, prepared.oidc_secrets),
        secret_values=prepared.secret_values,
    )
    plan, _done = plan_for_created(
        aws,
        prepared.plan,
        target.load_balancer_arn,
        created,
        oidc_secrets=prepared.oidc_secrets,
        max_listener_rules=prepared.max_listener_rules,
    )
    try:
        apply_with_journal(aws, plan, prepared.secret_values, journal, phase="drill")
    finally:
        for entry in journal:
            entry.setdefault("phase", "drill")
    reasons += [
        f"verify: {line}" for line in differences(plan.expected, capture_listener(aws, created))
    ]
    return created, len(plan.operations) + 1
