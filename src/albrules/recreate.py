"""Recreate a deleted listener from a format 2 snapshot (``restore --recreate-listener``).

:func:`check_recreatable` decides, before any change, where the listener goes and refuses
with one sentence when it cannot: a format 1 snapshot, a listener that still exists (restore
into it), a load balancer that cannot be found, a port already taken, a certificate or trust
store missing where the listener goes, a target group missing. Its :class:`RecreateTarget`
is everything the creation needs; it serves one listener of many too (whole-LB restores) and
drills (``port`` and ``target_groups`` given: a scratch load balancer, a free port).

:func:`create_listener` sends CreateListener with the snapshot's settings, default actions
and tags, journaled before the call (a crash after it is found again by load balancer and
port, :func:`find_created`); the rest (additional certificates, attributes, default-rule tags,
rules) is the ordinary plan from the new listener's live state (:mod:`albrules.restore`).
Rolling back a listener albrules created is deleting it (:func:`delete_created`), which takes
its rules with it and leaves the load balancer as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .arns import parse_listener_arn
from .aws import Aws, as_albrules_error, error_code, error_message
from .capture import load_balancer_listeners, resolve_load_balancer
from .errors import ApplyFailed, InvalidInput, ListenerNotFound, RestoreRefused
from .listener_settings import (
    create_listener_request,
    mapped,
    referenced_certificates,
    referenced_trust_store,
)
from .models import ListenerSettings, ListenerState, MutualAuthentication, Snapshot, Source
from .resolve import check_region, desired_from_snapshot, resolve_target_groups

#: The id the new listener (and its default rule) has in a plan made before it exists.
PLACEHOLDER_ID = "0" * 16
CREATE_CALL = "CreateListener"
DELETE_CALL = "DeleteListener"

V1_REFUSAL = (
    "this snapshot is format 1 and holds no listener settings; it cannot recreate a listener "
    "— restore into an existing listener, or take a new backup"
)

Journal = list[dict[str, Any]]


def lock_key(load_balancer_arn: str, port: int) -> str:
    """The restore lock of a listener that does not exist yet: its load balancer and port
    (two recreations of one port cannot race)."""
    return f"{load_balancer_arn}#port/{port}"


def placeholder_listener_arn(load_balancer_arn: str) -> str:
    return f"{load_balancer_arn.replace(':loadbalancer/', ':listener/')}/{PLACEHOLDER_ID}"


def placeholder_rule_arn(load_balancer_arn: str) -> str:
    listener = placeholder_listener_arn(load_balancer_arn)
    return f"{listener.replace(':listener/', ':listener-rule/')}/{PLACEHOLDER_ID}"


@dataclass(frozen=True)
class RecreateTarget:
    """Where and how a listener is recreated: checked, nothing changed yet.

    ``snapshot`` is the snapshot as the new listener must end up: its settings with the port
    and the certificate map applied (what plan and verify compare with); ``original`` the
    snapshot as read. ``target_groups`` maps the snapshot's target group ARNs to the ones
    used."""

    original: Snapshot
    snapshot: Snapshot
    load_balancer_arn: str
    load_balancer_name: str
    port: int
    target_groups: dict[str, str]
    certificate_map: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> ListenerSettings:
        assert self.snapshot.listener is not None
        return self.snapshot.listener

    @property
    def protocol(self) -> str:
        return self.settings.protocol

    @property
    def old_listener_arn(self) -> str:
        return self.original.source.listener_arn

    @property
    def lock_key(self) -> str:
        return lock_key(self.load_balancer_arn, self.port)

    @property
    def placeholder_arn(self) -> str:
        return placeholder_listener_arn(self.load_balancer_arn)

    def summary(self) -> str:
        return (
            f"create listener {self.protocol}:{self.port} on load balancer "
            f"{self.load_balancer_name}"
        )

    def request(
        self, oidc: dict[str, str] | None = None, secret_values: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """CreateListener's keyword arguments (OIDC client secrets filled in from
        ``secret_values`` when given)."""
        defaults = desired_from_snapshot(self.snapshot, self.target_groups).default_actions
        return create_listener_request(
            self.settings,
            defaults,
            self.load_balancer_arn,
            port=self.port,
            oidc=oidc,
            secret_values=secret_values,
        )

    def as_created(self) -> ListenerState:
        """The listener as CreateListener will make it (placeholder ARNs): the state a plan
        is made from before the listener exists."""
        settings = self.settings
        created = settings.model_copy(
            update={"certificates": [], "attributes": {}, "default_rule_tags": {}}
        )
        parsed = parse_listener_arn(self.placeholder_arn)
        desired = desired_from_snapshot(self.snapshot, self.target_groups)
        return ListenerState.model_validate(
            {
                "source": Source(
                    account=parsed.account,
                    region=parsed.region,
                    load_balancer_arn=self.load_balancer_arn,
                    load_balancer_name=self.load_balancer_name,
                    listener_arn=parsed.arn,
                    port=self.port,
                    protocol=self.protocol,
                ).model_dump(exclude_none=True),
                "default_actions": desired.default_actions,
                "rules": [],
                "default_rule_arn": placeholder_rule_arn(self.load_balancer_arn),
                "listener": created.model_dump(exclude_none=True),
            }
        )

    def public(self) -> dict[str, Any]:
        return {
            "old_listener_arn": self.old_listener_arn,
            "load_balancer_arn": self.load_balancer_arn,
            "load_balancer_name": self.load_balancer_name,
            "protocol": self.protocol,
            "port": self.port,
            "certificate_map": dict(self.certificate_map),
            "summary": self.summary(),
        }


# --- the checks --------------------------------------------------------------------------------


def listener_exists(aws: Aws, listener_arn: str) -> bool:
    try:
        found = aws.elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"]
    except ClientError as err:
        if error_code(err) in ("ListenerNotFound", "LoadBalancerNotFound"):
            return False
        raise as_albrules_error(err, where=f"listener {listener_arn}") from err
    except BotoCoreError as err:
        raise as_albrules_error(err) from err
    return bool(found)


def _describe_balancer(aws: Aws, **kwargs: Any) -> dict[str, Any] | None:
    try:
        found = aws.elbv2.describe_load_balancers(**kwargs)["LoadBalancers"]
    except ClientError as err:
        if error_code(err) in ("LoadBalancerNotFound", "ValidationError"):
            return None
        raise as_albrules_error(err, where="load balancers") from err
    except BotoCoreError as err:
        raise as_albrules_error(err) from err
    return found[0] if found else None


def find_load_balancer(aws: Aws, snapshot: Snapshot, load_balancer: str | None) -> tuple[str, str]:
    """(ARN, name) of the load balancer the listener goes on: the one named (an ARN, or a
    name found with DescribeLoadBalancers: a load balancer recreated under the same name),
    else the snapshot's (by ARN, then by its name)."""
    source = snapshot.source
    if load_balancer:
        arn = resolve_load_balancer(aws, load_balancer)  # a name: found by name, or refused
        balancer = _describe_balancer(aws, LoadBalancerArns=[arn])
        if balancer is None:
            raise ListenerNotFound(
                f"load balancer {arn} does not exist; pass --load-balancer NAME to find one by "
                "name, check --region and --profile"
            )
        return arn, str(balancer["LoadBalancerName"])
    balancer = _describe_balancer(aws, LoadBalancerArns=[source.load_balancer_arn])
    if balancer is None:
        balancer = _describe_balancer(aws, Names=[source.load_balancer_name])
    if balancer is None:
        raise ListenerNotFound(
            f"the snapshot's load balancer {source.load_balancer_name} "
            f"({source.load_balancer_arn}) no longer exists and none has its name; create it "
            "again, or pass --load-balancer ARN_OR_NAME to recreate the listener on another"
        )
    if balancer.get("Type", "application") != "application":
        raise InvalidInput(
            f"{balancer['LoadBalancerName']} is a {balancer.get('Type')} load balancer; albrules "
            "recreates Application Load Balancer listeners"
        )
    return str(balancer["LoadBalancerArn"]), str(balancer["LoadBalancerName"])


def check_port_free(aws: Aws, load_balancer_arn: str, name: str, port: int) -> None:
    for listener in load_balancer_listeners(aws, load_balancer_arn):
        if int(listener.get("Port", 0)) == port:
            raise RestoreRefused(
                f"port {port} of load balancer {name} is already taken by listener "
                f"{listener['ListenerArn']}; nothing was changed, restore into it with "
                f"--target-listener-arn {listener['ListenerArn']}, or delete it first"
            )


def _certificate_missing(aws: Aws, arn: str, account: str, region: str) -> str | None:
    """Why the certificate cannot be used where the listener goes, or None if it exists."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        return "is not a certificate ARN"
    service, cert_region, cert_account = parts[2], parts[3], parts[4]
    if service == "acm":
        if cert_region != region or cert_account != account:
            return f"is in account {cert_account}, region {cert_region}"
        try:
            aws.client("acm").describe_certificate(CertificateArn=arn)
        except ClientError as err:
            if error_code(err) in ("ResourceNotFoundException", "ValidationException"):
                return "does not exist"
            raise as_albrules_error(err, service="acm", where=f"certificate {arn}") from err
        except BotoCoreError as err:
            raise as_albrules_error(err, service="acm") from err
        return None
    if service == "iam" and ":server-certificate/" in arn:
        if cert_account != account:
            return f"is in account {cert_account}"
        try:
            aws.client("iam").get_server_certificate(ServerCertificateName=arn.rsplit("/", 1)[-1])
        except ClientError as err:
            if error_code(err) in ("NoSuchEntity", "NoSuchEntityException"):
                return "does not exist"
            raise as_albrules_error(err, service="iam", where=f"certificate {arn}") from err
        except BotoCoreError as err:
            raise as_albrules_error(err, service="iam") from err
        return None
    return "is neither an ACM certificate nor an IAM server certificate"


def _trust_store_missing(aws: Aws, arn: str, account: str, region: str) -> str | None:
    parts = arn.split(":")
    if len(parts) < 6 or parts[3] != region or parts[4] != account:
        return f"is not a trust store of account {account}, region {region}"
    try:
        found = aws.elbv2.describe_trust_stores(TrustStoreArns=[arn]).get("TrustStores", [])
    except ClientError as err:
        if error_code(err) == "TrustStoreNotFound":
            return "does not exist"
        raise as_albrules_error(err, where=f"trust store {arn}") from err
    except BotoCoreError as err:
        raise as_albrules_error(err) from err
    return None if found else "does not exist"


def _check_certificate_map(settings: ListenerSettings, certificate_map: dict[str, str]) -> None:
    named = set(referenced_certificates(settings))
    store = referenced_trust_store(settings)
    if store:
        named.add(store)
    for old in certificate_map:
        if old not in named:
            raise InvalidInput(
                f"--certificate-map {old}=...: the snapshot names no certificate or trust store "
                f"{old}; it names {', '.join(sorted(named)) or 'none'}"
            )


def _check_certificates(
    aws: Aws, settings: ListenerSettings, certificate_map: dict[str, str], where: Source
) -> None:
    """Every certificate and trust store the (mapped) settings name exists where the listener
    goes; else one refusal naming each missing one and what to do."""
    missing: list[str] = []
    for arn in referenced_certificates(settings):
        why = _certificate_missing(aws, arn, where.account, where.region)
        if why:
            was = [o for o, n in certificate_map.items() if n == arn]
            label = f"{arn} (mapped from {was[0]})" if was else arn
            missing.append(f"certificate {label} {why}")
    store = referenced_trust_store(settings)
    if store:
        why = _trust_store_missing(aws, store, where.account, where.region)
        if why:
            missing.append(f"trust store {store} {why}")
    if missing:
        raise RestoreRefused(
            f"cannot recreate the listener in account {where.account}, region {where.region}: "
            f"{'; '.join(missing)}; nothing was changed — import or request the certificate in "
            "ACM (create the trust store), or pass --certificate-map OLD=NEW to use another"
        )


def _mapped_settings(
    settings: ListenerSettings, port: int, certificate_map: dict[str, str]
) -> ListenerSettings:
    auth = settings.mutual_authentication
    if auth is not None and auth.TrustStoreArn:
        auth = MutualAuthentication.model_validate(
            {
                **auth.model_dump(exclude_none=True),
                "TrustStoreArn": mapped(auth.TrustStoreArn, certificate_map),
            }
        )
    default = settings.default_certificate
    return settings.model_copy(
        update={
            "port": port,
            "default_certificate": mapped(default, certificate_map) if default else None,
            "certificates": sorted(
                {mapped(c, certificate_map) for c in settings.certificates}
                - {mapped(default, certificate_map) if default else ""}
            ),
            "mutual_authentication": auth,
        }
    )


def check_recreatable(
    aws: Aws,
    snapshot: Snapshot,
    load_balancer: str | None,
    certificate_map: dict[str, str] | None = None,
    *,
    port: int | None = None,
    map_by_name: bool = False,
    target_groups: dict[str, str] | None = None,
) -> RecreateTarget:
    """Where the snapshot's listener can be recreated, checked; refuses (exit 2) before any
    change otherwise. ``port``: another port than the snapshot's (drills); ``target_groups``:
    a ready mapping of the snapshot's target group ARNs (drills), else they are checked as a
    restore checks them, by name when the load balancer is not the snapshot's."""
    if snapshot.listener is None:
        raise RestoreRefused(V1_REFUSAL)
    certificate_map = dict(certificate_map or {})
    _check_certificate_map(snapshot.listener, certificate_map)
    source = snapshot.source
    check_region(aws, source.listener_arn)
    arn, name = find_load_balancer(aws, snapshot, load_balancer)
    if (
        arn == source.load_balancer_arn
        and port is None
        and listener_exists(aws, source.listener_arn)
    ):
        raise RestoreRefused(
            f"listener {source.listener_arn} still exists; restore into it without "
            "--recreate-listener (nothing was changed)"
        )
    chosen_port = port if port is not None else snapshot.listener.port
    check_port_free(aws, arn, name, chosen_port)
    settings = _mapped_settings(snapshot.listener, chosen_port, certificate_map)
    where = Source(
        account=source.account,
        region=source.region,
        load_balancer_arn=arn,
        load_balancer_name=name,
        listener_arn=placeholder_listener_arn(arn),
    )
    _check_certificates(aws, settings, certificate_map, where)
    wanted = snapshot.model_copy(update={"listener": settings})
    if target_groups is None:
        empty = ListenerState(source=where, default_actions=[], rules=[])
        target_groups = resolve_target_groups(
            aws, snapshot, empty, map_by_name=map_by_name or arn != source.load_balancer_arn
        )
    return RecreateTarget(
        original=snapshot,
        snapshot=wanted,
        load_balancer_arn=arn,
        load_balancer_name=name,
        port=chosen_port,
        target_groups=dict(target_groups),
        certificate_map=certificate_map,
    )


# --- create, find, delete --------------------------------------------------------------------


def _entry(call: str, phase: str, summary: str, target: RecreateTarget) -> dict[str, Any]:
    return {
        "phase": phase,
        "step": 0,
        "call": call,
        "summary": summary,
        "load_balancer_arn": target.load_balancer_arn,
        "port": target.port,
        "status": "started",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def redacted_request(request: dict[str, Any]) -> dict[str, Any]:
    safe = {k: v for k, v in request.items() if k != "DefaultActions"}
    safe["DefaultActions"] = [
        {
            **a,
            **(
                {
                    "AuthenticateOidcConfig": {
                        **a["AuthenticateOidcConfig"],
                        "ClientSecret": "<from Secrets Manager>",
                    }
                }
                if "ClientSecret" in a.get("AuthenticateOidcConfig", {})
                else {}
            ),
        }
        for a in request.get("DefaultActions", [])
    ]
    return safe


def create_listener(
    aws: Aws,
    target: RecreateTarget,
    journal: Journal | None = None,
    *,
    oidc: dict[str, str] | None = None,
    secret_values: dict[str, str] | None = None,
    before_call: Callable[[Journal], object] | None = None,
) -> str:
    """CreateListener with the snapshot's settings, default actions and tags; the new
    listener's ARN. The call is journaled before it is sent (``before_call(journal)`` stores
    the journal then), so a crash after it is rolled back by load balancer and port. Raises
    ApplyFailed if AWS refuses it."""
    journal = journal if journal is not None else []
    request = target.request(oidc, secret_values)
    entry = _entry(CREATE_CALL, "restore", target.summary(), target)
    entry["request"] = redacted_request(request)
    journal.append(entry)
    if before_call is not None:
        before_call(journal)
    try:
        response = aws.elbv2.create_listener(**request)
    except (ClientError, BotoCoreError) as err:
        entry["status"] = "failed"
        entry["error"] = (
            f"{error_code(err)}: {error_message(err)}" if isinstance(err, ClientError) else str(err)
        )
        # AWS's answer says nothing was created, unless the SDK retried (the first attempt may
        # have landed) or no answer came: then the rollback looks on the port.
        retried = isinstance(err, ClientError) and err.response.get("ResponseMetadata", {}).get(
            "RetryAttempts", 0
        )
        entry["created"] = "unknown" if retried or isinstance(err, BotoCoreError) else "no"
        reason = as_albrules_error(err, where=f"load balancer {target.load_balancer_name}")
        raise ApplyFailed(f"{target.summary()} failed: {reason}", index=0, journal=journal) from err
    arn = str(response["Listeners"][0]["ListenerArn"])
    entry["status"] = "done"
    entry["listener_arn"] = arn
    return arn


def created_entry(journal: Journal) -> dict[str, Any] | None:
    """The journal's CreateListener entry, if the restore got as far as sending it."""
    return next((e for e in journal if e.get("call") == CREATE_CALL), None)


def find_created(aws: Aws, journal: Journal) -> str | None:
    """The listener this restore created, from the journal (its ARN once the call answered;
    by load balancer and port when it was sent and the answer lost: the port was free and the
    restore holds its lock), or None if none was created."""
    entry = created_entry(journal)
    if entry is None or entry.get("created") == "no":
        return None
    if entry.get("listener_arn"):
        return str(entry["listener_arn"])
    for listener in load_balancer_listeners(aws, str(entry["load_balancer_arn"])):
        if int(listener.get("Port", 0)) == int(entry["port"]):
            return str(listener["ListenerArn"])
    return None


def delete_created(aws: Aws, journal: Journal) -> list[str]:
    """Roll back a recreation: delete the listener this restore created (and so its rules).
    Returns what is left (empty: the load balancer is as it was)."""
    entry = created_entry(journal)
    if entry is None:
        return []
    arn = find_created(aws, journal)
    if arn is None:
        return []
    delete = {
        "phase": "rollback",
        "step": 0,
        "call": DELETE_CALL,
        "summary": f"delete listener {arn} (created by this restore)",
        "request": {"ListenerArn": arn},
        "status": "started",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    journal.append(delete)
    try:
        aws.elbv2.delete_listener(ListenerArn=arn)
    except ClientError as err:
        if error_code(err) != "ListenerNotFound":
            delete["status"] = "failed"
            delete["error"] = f"{error_code(err)}: {error_message(err)}"
            return [f"could not delete listener {arn}: {as_albrules_error(err)}"]
    except BotoCoreError as err:
        delete["status"] = "failed"
        delete["error"] = str(err)
        return [f"could not delete listener {arn}: {as_albrules_error(err)}"]
    delete["status"] = "done"
    left = still_there(aws, journal)
    return [f"listener {left} still exists after DeleteListener"] if left else []


def still_there(aws: Aws, journal: Journal) -> str | None:
    """The listener this restore created, if it still exists (after a rollback: None)."""
    arn = find_created(aws, journal)
    return arn if arn is not None and listener_exists(aws, arn) else None
