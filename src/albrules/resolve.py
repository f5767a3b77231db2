"""What a restore needs to know before it plans: the listener it writes to, the snapshot's
routing with target groups mapped for that listener, the account's limits, and the OIDC client
secrets of rules it must create. Nothing here changes AWS.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .arns import parse_listener_arn
from .aws import Aws, as_albrules_error, error_code
from .canonical import canonical_actions, canonical_rule
from .errors import InvalidInput, Problem, RestoreRefused, TargetGroupsMissing
from .listener_settings import canonical_settings_dict
from .models import ListenerState, Snapshot
from .oidc_secrets import SecretScope, client_secret_of
from .plan import CLI_NAMES, Desired, Plan
from .validate import Limits

TG_BATCH = 20


# --- the desired state, in the target listener's account and region ----------------------


def _forward_groups(
    actions: list[dict[str, Any]], path: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, action in enumerate(actions):
        if action["Type"] == "forward":
            for j, group in enumerate(action["ForwardConfig"]["TargetGroups"]):
                yield f"{path}[{i}].ForwardConfig.TargetGroups[{j}]", group


def _all_groups(snapshot: Snapshot) -> Iterator[tuple[str, dict[str, Any]]]:
    defaults = [a.model_dump(mode="json", exclude_none=True) for a in snapshot.default_actions]
    yield from _forward_groups(defaults, "default_actions")
    for i, rule in enumerate(snapshot.rules):
        actions = [a.model_dump(mode="json", exclude_none=True) for a in rule.actions]
        yield from _forward_groups(actions, f"rules[{i}].actions")


def _describe_groups(aws: Aws, key: str, values: list[str]) -> dict[str, dict[str, Any]]:
    """Target groups by ARN or name; a batch that fails on a missing one is retried one by one."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(values), TG_BATCH):
        batch = values[start : start + TG_BATCH]
        try:
            groups = aws.elbv2.describe_target_groups(**{key: batch})["TargetGroups"]
        except ClientError as err:
            if error_code(err) != "TargetGroupNotFound":
                raise as_albrules_error(err, where="target groups") from err
            groups = []
            for value in batch:
                try:
                    groups += aws.elbv2.describe_target_groups(**{key: [value]})["TargetGroups"]
                except ClientError as one:
                    if error_code(one) != "TargetGroupNotFound":
                        raise as_albrules_error(one, where=f"target group {value}") from one
        except BotoCoreError as err:
            raise as_albrules_error(err) from err
        for group in groups:
            found[
                group["TargetGroupArn"] if key == "TargetGroupArns" else group["TargetGroupName"]
            ] = group
    return found


def resolve_target_groups(
    aws: Aws, snapshot: Snapshot, live: ListenerState, *, map_by_name: bool
) -> dict[str, str]:
    """Map each snapshot target group ARN to one that exists where the restore goes."""
    where = f"account {live.source.account}, region {live.source.region}"
    refs = list(_all_groups(snapshot))
    problems: list[Problem] = []
    mapping: dict[str, str] = {}
    if map_by_name:
        names = sorted({g["TargetGroupName"] for _, g in refs if g.get("TargetGroupName")})
        found = _describe_groups(aws, "Names", names)
        for path, group in refs:
            name = group.get("TargetGroupName")
            if name in found:
                mapping[group["TargetGroupArn"]] = found[name]["TargetGroupArn"]
            else:
                problems.append(
                    Problem(path, f"no target group named {name!r} in {where}; create it first")
                )
    else:
        in_use = {
            g["TargetGroupArn"]
            for r in live.rules
            for _, g in _forward_groups([a.model_dump(exclude_none=True) for a in r.actions], "")
        } | {
            g["TargetGroupArn"]
            for _, g in _forward_groups(
                [a.model_dump(exclude_none=True) for a in live.default_actions], ""
            )
        }
        wanted = sorted({g["TargetGroupArn"] for _, g in refs} - in_use)
        found = _describe_groups(aws, "TargetGroupArns", wanted) if wanted else {}
        for path, group in refs:
            arn = group["TargetGroupArn"]
            if arn in in_use or arn in found:
                mapping[arn] = arn
            else:
                problems.append(
                    Problem(
                        path,
                        f"target group {group.get('TargetGroupName') or arn} ({arn}) does not "
                        f"exist in {where}; pass --map-target-groups-by-name to use the target "
                        "groups of the same names there, or create it",
                    )
                )
    if problems:
        raise TargetGroupsMissing(where, list(dict.fromkeys(problems)))
    return mapping


def _retarget_actions(
    actions: list[dict[str, Any]], mapping: dict[str, str]
) -> list[dict[str, Any]]:
    actions = copy.deepcopy(actions)
    for action in actions:
        if action["Type"] == "forward":
            for group in action["ForwardConfig"]["TargetGroups"]:
                group["TargetGroupArn"] = mapping.get(
                    group["TargetGroupArn"], group["TargetGroupArn"]
                )
                group.pop("TargetGroupName", None)
    return canonical_actions(actions)


def desired_from_snapshot(
    snapshot: Snapshot, mapping: dict[str, str] | None = None, *, settings: bool = True
) -> Desired:
    """The snapshot's routing, canonical, with target group ARNs mapped for the target, and
    (``settings``, format 2) the listener's settings (:mod:`albrules.listener_settings`)."""
    mapping = mapping or {}
    listener = None
    if settings and snapshot.listener is not None:
        listener = canonical_settings_dict(
            snapshot.listener.model_dump(mode="json", exclude_none=True)
        )
    defaults = [a.model_dump(mode="json", exclude_none=True) for a in snapshot.default_actions]
    rules = []
    for rule in snapshot.rules:
        raw = rule.model_dump(mode="json", exclude_none=True)
        raw["actions"] = _retarget_actions(raw["actions"], mapping)
        rules.append(canonical_rule(raw))
    return Desired(
        default_actions=_retarget_actions(defaults, mapping), rules=rules, listener=listener
    )


# --- account limits and secrets -----------------------------------------------------------


def account_limits(aws: Aws, warnings: list[str]) -> Limits:
    items: list[dict[str, Any]] = []
    marker = None
    try:
        while True:
            page = aws.elbv2.describe_account_limits(**({"Marker": marker} if marker else {}))
            items += page.get("Limits", [])
            marker = page.get("NextMarker")
            if not marker:
                break
    except ClientError as err:
        if error_code(err) not in ("AccessDenied", "AccessDeniedException"):
            raise as_albrules_error(err, where="account limits") from err
        warnings.append(
            "could not read the account's ELB limits (elasticloadbalancing:DescribeAccountLimits "
            "denied); the documented defaults were used"
        )
    except BotoCoreError as err:
        raise as_albrules_error(err) from err
    return Limits.from_account_limits(items)


def read_secret_values(
    aws: Aws, arns: list[str], listener_arn: str, scope: SecretScope
) -> dict[str, str]:
    """The client secret of each ARN (see :func:`~albrules.oidc_secrets.client_secret_of`),
    each checked against ``scope`` for a restore of ``listener_arn`` before it is read."""
    wanted = sorted(set(arns))
    for arn in wanted:
        scope.check(arn, listener_arn)
    values: dict[str, str] = {}
    for arn in wanted:
        try:
            secret = aws.secrets.get_secret_value(SecretId=arn)
        except (ClientError, BotoCoreError) as err:
            reason = as_albrules_error(err, service="secretsmanager", where=f"secret {arn}")
            raise RestoreRefused(f"cannot read the OIDC client secret: {reason}") from err
        text = secret.get("SecretString")
        if text is None:
            raise RestoreRefused(
                f"secret {arn} has no SecretString; store the client secret as text"
            )
        values[arn] = client_secret_of(arn, str(text))
    return values


def secret_arns(plan: Plan) -> list[str]:
    arns = []
    for op in plan.operations:
        for source in getattr(op, "oidc", {}).values():
            if source.startswith("arn:"):
                arns.append(source)
    return arns


# --- the target listener -------------------------------------------------------------------


def choose_target(
    snapshot_listener: str,
    listener_arn: str | None,
    target: str | None,
    names: dict[str, str] = CLI_NAMES,
) -> str:
    """The listener a restore writes to, as its canonical ARN (:func:`parse_listener_arn`):
    every ARN is normalised here, so a lock, an audit record or an S3 key never sees a
    variant spelling. Restoring into another listener must be explicit."""
    snapshot_listener = parse_listener_arn(snapshot_listener).arn
    listener_arn = parse_listener_arn(listener_arn).arn if listener_arn else None
    target = parse_listener_arn(target).arn if target else None
    if listener_arn and target and listener_arn != target:
        raise InvalidInput(f"{names['listener']} and {names['target']} disagree; give one of them")
    if listener_arn and not target and listener_arn != snapshot_listener:
        raise RestoreRefused(
            f"the snapshot is of listener {snapshot_listener}, not {listener_arn}; to "
            f"restore it into {listener_arn}, pass {names['target']} {listener_arn}"
        )
    return target or listener_arn or snapshot_listener


def check_region(aws: Aws, target: str) -> None:
    """The session must be in the listener's region (its account is checked by AWS itself)."""
    parsed = parse_listener_arn(target)
    if aws.region and parsed.region != aws.region:
        raise InvalidInput(
            f"listener {target} is in {parsed.region} but the AWS session is for {aws.region}; "
            f"pass --region {parsed.region}"
        )
