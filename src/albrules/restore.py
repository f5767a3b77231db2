"""Restore: preflight, pre-restore snapshot, apply with a journal, verify, roll back on failure.

Nothing mutating happens in :func:`prepare_restore`: every check that can refuse a restore
(snapshot of another listener, missing target groups, quota, OIDC secrets, selective
conflicts) runs there. :func:`execute_restore` then stores a pre-restore snapshot before the
first mutating call, applies the plan in order, verifies the listener against the plan's
expected state, and on any failure plans from the live state back to the pre-restore
snapshot, applies that and verifies it. The outcome is never a silent partial state.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from .arns import parse_listener_arn
from .aws import Aws, error_code, error_message, explain
from .canonical import canonical_actions, canonical_json, canonical_rule, conditions_key
from .capture import capture_listener, count_other_rules, describe_rules
from .errors import (
    AlbRulesError,
    ApplyFailed,
    InvalidInput,
    Problem,
    RestoreRefused,
    SnapshotInvalid,
    TargetGroupsMissing,
    VerifyFailed,
)
from .labels import rule_label
from .models import ListenerState, Snapshot
from .operations import API_OPERATION, CreateRule, DeleteRule, request_for
from .plan import CLI_NAMES, Desired, Mode, Plan, Selector, plan_restore
from .snapshot import build_snapshot
from .store import Store
from .validate import Limits, check_rule_count

Status = Literal["NO_CHANGES", "DRY_RUN", "RESTORED", "ROLLED_BACK", "ROLLBACK_FAILED"]
EXIT_CODES = {"NO_CHANGES": 0, "DRY_RUN": 0, "RESTORED": 0, "ROLLED_BACK": 3, "ROLLBACK_FAILED": 4}
TG_BATCH = 20


# --- the desired state, in the target listener's account and region ----------------------


def _forward_groups(actions: list[dict[str, Any]], path: str):
    for i, action in enumerate(actions):
        if action["Type"] == "forward":
            for j, group in enumerate(action["ForwardConfig"]["TargetGroups"]):
                yield f"{path}[{i}].ForwardConfig.TargetGroups[{j}]", group


def _all_groups(snapshot: Snapshot):
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
                raise explain(err, where="target groups") from err
            groups = []
            for value in batch:
                try:
                    groups += aws.elbv2.describe_target_groups(**{key: [value]})["TargetGroups"]
                except ClientError as one:
                    if error_code(one) != "TargetGroupNotFound":
                        raise explain(one, where=f"target group {value}") from one
        except BotoCoreError as err:
            raise explain(err) from err
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


def _retarget_actions(actions: list[dict[str, Any]], mapping: dict[str, str]) -> list[dict]:
    actions = copy.deepcopy(actions)
    for action in actions:
        if action["Type"] == "forward":
            for group in action["ForwardConfig"]["TargetGroups"]:
                group["TargetGroupArn"] = mapping.get(
                    group["TargetGroupArn"], group["TargetGroupArn"]
                )
                group.pop("TargetGroupName", None)
    return canonical_actions(actions)


def desired_from_snapshot(snapshot: Snapshot, mapping: dict[str, str] | None = None) -> Desired:
    """The snapshot's routing, canonical, with target group ARNs mapped for the target."""
    mapping = mapping or {}
    defaults = [a.model_dump(mode="json", exclude_none=True) for a in snapshot.default_actions]
    rules = []
    for rule in snapshot.rules:
        raw = rule.model_dump(mode="json", exclude_none=True)
        raw["actions"] = _retarget_actions(raw["actions"], mapping)
        rules.append(canonical_rule(raw))
    return Desired(default_actions=_retarget_actions(defaults, mapping), rules=rules)


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
            raise explain(err, where="account limits") from err
        warnings.append(
            "could not read the account's ELB limits (elasticloadbalancing:DescribeAccountLimits "
            "denied); the documented defaults were used"
        )
    except BotoCoreError as err:
        raise explain(err) from err
    return Limits.from_account_limits(items)


def read_secret_values(aws: Aws, arns: list[str]) -> dict[str, str]:
    """Secret values by ARN. A JSON secret may hold ``client_secret`` (or ``ClientSecret``)."""
    values: dict[str, str] = {}
    for arn in sorted(set(arns)):
        try:
            secret = aws.secrets.get_secret_value(SecretId=arn)
        except (ClientError, BotoCoreError) as err:
            reason = explain(err, service="secretsmanager", where=f"secret {arn}")
            raise RestoreRefused(f"cannot read the OIDC client secret: {reason}") from err
        text = secret.get("SecretString")
        if text is None:
            raise RestoreRefused(
                f"secret {arn} has no SecretString; store the client secret as text"
            )
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            text = parsed.get("client_secret") or parsed.get("ClientSecret") or text
        values[arn] = text
    return values


def secret_arns(plan: Plan) -> list[str]:
    arns = []
    for op in plan.operations:
        for source in getattr(op, "oidc", {}).values():
            if source.startswith("arn:"):
                arns.append(source)
    return arns


# --- preparation (no changes) -----------------------------------------------------------


@dataclass
class Prepared:
    """Everything checked and planned; nothing changed yet."""

    snapshot: Snapshot
    live: ListenerState
    desired: Desired
    plan: Plan
    oidc_secrets: dict[str, str]
    secret_values: dict[str, str] = field(repr=False, default_factory=dict)
    max_listener_rules: int | None = None
    warnings: list[str] = field(default_factory=list)


def restore_target(
    snapshot_listener: str,
    listener_arn: str | None,
    target: str | None,
    names: dict[str, str] = CLI_NAMES,
) -> str:
    """The listener a restore writes to. Restoring into another listener must be explicit."""
    if listener_arn and target and listener_arn != target:
        raise InvalidInput(f"{names['listener']} and {names['target']} disagree; give one of them")
    if listener_arn and not target and listener_arn != snapshot_listener:
        raise RestoreRefused(
            f"the snapshot is of listener {snapshot_listener}, not {listener_arn}; to "
            f"restore it into {listener_arn}, pass {names['target']} {listener_arn}"
        )
    return target or listener_arn or snapshot_listener


def check_target(snapshot: Snapshot, aws: Aws, target_listener_arn: str | None) -> str:
    target = target_listener_arn or snapshot.source.listener_arn
    parsed = parse_listener_arn(target)
    if aws.region and parsed.region != aws.region:
        raise InvalidInput(
            f"listener {target} is in {parsed.region} but the AWS session is for {aws.region}; "
            f"pass --region {parsed.region}"
        )
    return target


def prepare_restore(
    aws: Aws,
    snapshot: Snapshot,
    *,
    target_listener_arn: str | None = None,
    mode: Mode = "full",
    selector: Selector | None = None,
    map_by_name: bool = False,
    oidc_secrets: dict[str, str] | None = None,
    live: ListenerState | None = None,
) -> Prepared:
    """Check everything and plan. Raises (exit 2) before any change on any problem."""
    target = check_target(snapshot, aws, target_listener_arn)
    live = live or capture_listener(aws, target)
    mapping = resolve_target_groups(aws, snapshot, live, map_by_name=map_by_name)
    desired = desired_from_snapshot(snapshot, mapping)
    warnings: list[str] = []
    limits = account_limits(aws, warnings)
    other = count_other_rules(aws, live.source.load_balancer_arn, target)
    max_rules = max(limits.rules_per_load_balancer - other, len(live.rules))
    options: dict[str, Any] = {"mode": mode, "selector": selector, "oidc_secrets": oidc_secrets}
    unbounded = plan_restore(live, desired, **options)
    problems = check_rule_count(len(unbounded.expected.rules), other, limits)
    if problems and len(unbounded.expected.rules) > len(live.rules):
        raise SnapshotInvalid("the snapshot", problems)
    plan = plan_restore(live, desired, max_listener_rules=max_rules, **options)
    values = read_secret_values(aws, secret_arns(plan))
    return Prepared(
        snapshot=snapshot,
        live=live,
        desired=desired,
        plan=plan,
        oidc_secrets=dict(oidc_secrets or {}),
        secret_values=values,
        max_listener_rules=max_rules,
        warnings=warnings,
    )


# --- apply and verify -------------------------------------------------------------------


def _redacted(kwargs: dict[str, Any]) -> dict[str, Any]:
    safe = copy.deepcopy(kwargs)
    for action in safe.get("Actions", []) + safe.get("DefaultActions", []):
        config = action.get("AuthenticateOidcConfig")
        if config and "ClientSecret" in config:
            config["ClientSecret"] = "<from Secrets Manager>"
    return safe


def _already_done(aws: Aws, op: Any, err: ClientError) -> bool:
    """After botocore retried a call whose first attempt landed, AWS answers as if it clashed."""
    if err.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) == 0:
        return False
    code = error_code(err)
    if isinstance(op, DeleteRule) and code == "RuleNotFound":
        return True
    if isinstance(op, CreateRule) and code == "PriorityInUse":
        for rule in describe_rules(aws, op.listener_arn):
            if rule.get("Priority") == str(op.priority) and conditions_key(
                rule.get("Conditions", [])
            ) == conditions_key(op.conditions):
                return True
    return False


def apply_plan(
    aws: Aws,
    plan: Plan,
    secret_values: dict[str, str],
    journal: list[dict[str, Any]],
    *,
    phase: str = "restore",
) -> None:
    """Run each operation in order, journaling it. Raises ApplyFailed at the first failure."""
    total = len(plan.operations)
    for step, op in enumerate(plan.operations, start=1):
        method, kwargs = request_for(op, secret_values)
        entry: dict[str, Any] = {
            "phase": phase,
            "step": step,
            "call": API_OPERATION[op.op],
            "summary": op.summary(),
            "request": _redacted(kwargs),
            "status": "started",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        journal.append(entry)
        try:
            response = getattr(aws.elbv2, method)(**kwargs)
        except ClientError as err:
            if _already_done(aws, op, err):
                entry["status"] = "done"
                entry["note"] = "a retried attempt found the first attempt had succeeded"
                continue
            entry["status"] = "failed"
            entry["error"] = f"{error_code(err)}: {error_message(err)}"
            reason = explain(err, where=f"listener {plan.listener_arn}")
            raise ApplyFailed(
                f"step {step} of {total} ({op.summary()}) failed: {reason}",
                index=step,
                journal=journal,
            ) from err
        except BotoCoreError as err:
            entry["status"] = "failed"
            entry["error"] = str(err)
            raise ApplyFailed(
                f"step {step} of {total} ({op.summary()}) failed: {explain(err)}",
                index=step,
                journal=journal,
            ) from err
        except KeyboardInterrupt:
            entry["status"] = "interrupted"
            raise ApplyFailed(
                f"interrupted at step {step} of {total} ({op.summary()})",
                index=step,
                journal=journal,
            ) from None
        entry["status"] = "done"
        if isinstance(op, CreateRule):
            entry["rule_arn"] = response["Rules"][0]["RuleArn"]


def differences(expected: Desired, state: ListenerState) -> list[str]:
    """How a listener differs from an expected state, one line per difference."""
    out = []
    actual_defaults = [a.model_dump(mode="json", exclude_none=True) for a in state.default_actions]
    if canonical_json(actual_defaults) != canonical_json(expected.default_actions):
        out.append("the default actions differ")
    actual = {
        r.priority: {
            k: v for k, v in r.model_dump(mode="json", exclude_none=True).items() if k != "arn"
        }
        for r in state.rules
    }
    want = {r["priority"]: r for r in expected.rules}
    for priority in sorted(actual.keys() | want.keys()):
        have, need = actual.get(priority), want.get(priority)
        if have is None:
            out.append(f"missing rule at {rule_label(need)}")
        elif need is None:
            out.append(f"unexpected rule at {rule_label(have)}")
        elif canonical_json(have) != canonical_json(need):
            fields = [
                k for k in ("conditions", "actions", "transforms", "tags") if have[k] != need[k]
            ]
            out.append(f"rule at {rule_label(need)}: {', '.join(fields)} differ")
    return out


def verify(aws: Aws, listener_arn: str, expected: Desired) -> ListenerState:
    state = capture_listener(aws, listener_arn)
    found = differences(expected, state)
    if found:
        raise VerifyFailed(
            f"after applying, listener {listener_arn} does not match the target "
            f"({len(found)} difference(s): {found[0]})",
            found,
        )
    return state


# --- the whole restore ------------------------------------------------------------------


class Outcome(BaseModel):
    """What a restore did, for people (CLI) and machines (``--json``, Step Functions)."""

    model_config = ConfigDict(extra="forbid")
    status: Status
    listener_arn: str
    changes: int
    message: str
    pre_restore: str | None = None
    journal_location: str | None = None
    journal: list[dict[str, Any]] = Field(default_factory=list)
    differences: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]


def rollback_to(
    aws: Aws,
    listener_arn: str,
    pre: Snapshot,
    journal: list[dict[str, Any]],
    *,
    oidc_secrets: dict[str, str] | None = None,
    secret_values: dict[str, str] | None = None,
    max_listener_rules: int | None = None,
) -> list[str]:
    """Back to the pre-restore snapshot. Returns the differences left (empty: rolled back)."""
    live = capture_listener(aws, listener_arn)
    back = plan_restore(
        live,
        desired_from_snapshot(pre),
        mode="full",
        oidc_secrets=oidc_secrets,
        max_listener_rules=max_listener_rules,
        on_missing_secret="skip",
    )
    values = dict(secret_values or {})
    missing = [a for a in secret_arns(back) if a not in values]
    if missing:
        values.update(read_secret_values(aws, missing))
    apply_plan(aws, back, values, journal, phase="rollback")
    state = capture_listener(aws, listener_arn)
    return differences(back.expected, state) + [f"not rolled back: {u}" for u in back.unresolved]


def _rollback(
    aws: Aws, prepared: Prepared, pre: Snapshot, journal: list[dict[str, Any]]
) -> list[str]:
    return rollback_to(
        aws,
        prepared.plan.listener_arn,
        pre,
        journal,
        oidc_secrets=prepared.oidc_secrets,
        secret_values=prepared.secret_values,
        max_listener_rules=prepared.max_listener_rules,
    )


def execute_restore(
    aws: Aws,
    prepared: Prepared,
    *,
    pre_restore_store: Store,
    recheck: bool = False,
) -> Outcome:
    """Apply a prepared plan with pre-restore snapshot, verification and automatic rollback."""
    plan = prepared.plan
    arn = plan.listener_arn
    base: dict[str, Any] = {
        "listener_arn": arn,
        "changes": len(plan.operations),
        "warnings": list(prepared.warnings),
    }
    if plan.empty:
        return Outcome(
            status="NO_CHANGES", message="the listener already matches; nothing to do", **base
        )
    live = prepared.live
    if recheck:
        now = capture_listener(aws, arn)
        if now.model_dump() != prepared.live.model_dump():
            raise RestoreRefused(
                f"listener {arn} changed after the plan was made; nothing was changed, run the "
                "restore again to plan from its current state"
            )
        live = now
    pre = build_snapshot(live)
    saved = pre_restore_store.save(pre, force=True)
    journal: list[dict[str, Any]] = []
    base["pre_restore"] = saved.location
    try:
        apply_plan(aws, plan, prepared.secret_values, journal)
        verify(aws, arn, plan.expected)
    except Exception as failure:  # anything at all, a bug included: never leave it half-done
        reason = str(explain(failure))
        try:
            left = _rollback(aws, prepared, pre, journal)
        except Exception as again:
            left = [f"the rollback failed: {explain(again)}"]
        journal_at = _write_journal(pre_restore_store, saved.location, journal, base["warnings"])
        if not left:
            return Outcome(
                status="ROLLED_BACK",
                message=(
                    f"the restore failed and was rolled back; listener {arn} is as it was before "
                    f"({reason})"
                ),
                journal_location=journal_at,
                journal=journal,
                differences=getattr(failure, "differences", []),
                **base,
            )
        return Outcome(
            status="ROLLBACK_FAILED",
            message=(
                f"the restore failed ({reason}) and the rollback did not finish ({left[0]}); "
                f"finish by hand from the pre-restore snapshot {saved.location} and the "
                f"journal {journal_at or '(in --json output; it could not be stored)'}"
            ),
            journal_location=journal_at,
            journal=journal,
            differences=left,
            **base,
        )
    journal_at = _write_journal(pre_restore_store, saved.location, journal, base["warnings"])
    return Outcome(
        status="RESTORED",
        message=f"restored {len(plan.operations)} change(s) to listener {arn} and verified it",
        journal_location=journal_at,
        journal=journal,
        **base,
    )


def _write_journal(
    store: Store, snapshot_location: str, journal: list[dict[str, Any]], warnings: list[str]
) -> str | None:
    """Store the journal beside the pre-restore snapshot. A failure here must never hide the
    outcome of the restore itself: it becomes a warning, and the journal stays in the outcome."""
    body = json.dumps(journal, indent=2).encode("utf-8")
    try:
        return store.write_beside(snapshot_location, ".journal.json", body)
    except (AlbRulesError, OSError, ClientError, BotoCoreError) as err:
        warnings.append(f"could not store the journal beside {snapshot_location}: {err}")
        return None
