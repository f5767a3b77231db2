"""The restore lifecycle: named steps that the CLI's ``restore`` and the restore state machine
both run, so a restore means the same thing from every door.

1. Resolve the target (:mod:`albrules.resolve`): the listener (``choose_target``), in the
   session's region (``check_region``).
2. :func:`check_restorable`: the OIDC client secrets given may be read
   (:mod:`albrules.oidc_secrets`), the listener exists and the snapshot's target groups exist
   there.
3. :func:`take_pre_restore_snapshot`: the listener as it is, stored in the restore's records
   (:mod:`albrules.records`), with the fingerprint of that state.
4. :func:`make_plan`: the account's limits, the other listeners' rules, the plan, and the OIDC
   client secrets it needs (all read, none changed). :func:`prepare_restore` is 2 and 4.
5. :func:`check_unchanged`: the listener is still in the state the plan was made from;
   otherwise :class:`~albrules.errors.ListenerChanged` and nothing is changed.
6. :func:`apply_with_journal`: each call in order, every one journaled.
7. :func:`verify`: the listener equals the plan's expected state.
8. :func:`roll_back`: plan from the live state back to the pre-restore snapshot, apply it with
   the same journal, and report what is left.

In the state machine, 6 and 8 run in slices (:mod:`albrules.slices`): each invocation applies
what fits in its time and the machine runs it again until done, resuming from the journal
(:func:`with_in_flight`, :func:`resume_after_retry`); the rollback's plan is made once, by
its first slice, and stored.
9. The journal is stored with the pre-restore snapshot (``RestoreRecords``).

:func:`execute_restore` runs 5 to 9 for a prepared restore (the CLI); the state machine runs
each as its own task (:mod:`albrules.tasks.restore`). How a restore ends, and what that means
for exit codes and the machine's errors, is :mod:`albrules.outcomes`.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from .aws import Aws, as_albrules_error, error_code, error_message
from .canonical import canonical_json, conditions_key
from .capture import (
    capture_listener,
    count_other_rules,
    describe_listener_certificates,
    describe_rules,
)
from .errors import (
    AlbRulesError,
    ApplyFailed,
    ListenerChanged,
    ListenerLocked,
    ListenerNotFound,
    RestoreRefused,
    SnapshotInvalid,
    VerifyFailed,
)
from .labels import rule_label
from .listener_settings import attribute_value
from .managed import owner_tags_reader, plan_owned
from .models import ListenerState, Snapshot
from .oidc_secrets import SecretScope
from .operations import (
    API_OPERATION,
    CreateRule,
    DeleteRule,
    RemoveListenerCertificates,
    SetRulePriorities,
    describe_mutual_authentication,
    request_for,
)
from .outcomes import exit_code_of
from .plan import (
    CLI_NAMES,
    SETTING_NAMES,
    Desired,
    Mode,
    Plan,
    Selector,
    plan_restore,
    settings_differ,
)
from .records import RestoreRecords, new_restore_id
from .recreate import (
    RecreateTarget,
    check_port_free,
    check_recreatable,
    create_listener,
    delete_created,
    placeholder_listener_arn,
    placeholder_rule_arn,
)
from .resolve import (
    account_limits,
    check_region,
    desired_from_snapshot,
    read_secret_values,
    resolve_target_groups,
    secret_arns,
)
from .slices import Deadline
from .snapshot import build_snapshot
from .store import Store
from .validate import check_rule_count

if TYPE_CHECKING:
    from .catalog import Catalog
    from .locks import RestoreLock

Status = Literal["NO_CHANGES", "DRY_RUN", "RESTORED", "ROLLED_BACK", "ROLLBACK_FAILED"]


def state_fingerprint(state: ListenerState) -> str:
    """SHA-256 of a listener's whole captured state, rule ARNs included: a plan names rules by
    ARN, so a rule deleted and recreated the same is a change for the plan."""
    return hashlib.sha256(canonical_json(state.model_dump(mode="json")).encode()).hexdigest()


# --- 2. the listener and its target groups ---------------------------------------------------


@dataclass(frozen=True)
class RestoreOptions:
    """What a restore restores, as the user chose it."""

    mode: Mode = "full"
    selector: Selector | None = None
    map_by_name: bool = False
    oidc_secrets: dict[str, str] = field(default_factory=dict)
    secret_scope: SecretScope = field(default_factory=SecretScope)
    #: Whether a format 2 snapshot's listener settings are restored too. None: only into the
    #: snapshot's own listener (into another listener a restore brings the routing alone:
    #: that listener keeps its port, protocol, certificates, attributes and tags).
    listener_settings: bool | None = None
    #: leave rules someone else manages out of the plan (see :mod:`albrules.managed`)
    skip_managed: bool = False
    names: dict[str, str] = field(default_factory=lambda: dict(CLI_NAMES))


def restores_settings(snapshot: Snapshot, listener_arn: str, choice: bool | None = None) -> bool:
    """Whether restoring ``snapshot`` into ``listener_arn`` restores the listener's settings
    (see :attr:`RestoreOptions.listener_settings`); a format 1 snapshot has none."""
    if snapshot.listener is None:
        return False
    if choice is not None:
        return choice
    return listener_arn == snapshot.source.listener_arn


@dataclass(frozen=True)
class Target:
    """The listener a restore writes to, as it is now, and the snapshot's target groups there."""

    listener_arn: str
    live: ListenerState
    target_groups: dict[str, str]  # snapshot target group ARN -> the one to use there


def check_restorable(
    aws: Aws,
    snapshot: Snapshot,
    listener_arn: str,
    *,
    map_by_name: bool = False,
    live: ListenerState | None = None,
    oidc_secrets: dict[str, str] | None = None,
    secret_scope: SecretScope | None = None,
) -> Target:
    """The OIDC client secrets given are ones a restore of the listener may read (before
    any AWS call), the target listener exists (in the session's region) and every target group
    the snapshot forwards to exists there. Raises (exit 2) before any change otherwise."""
    (secret_scope or SecretScope()).check_all(oidc_secrets or {}, listener_arn)
    check_region(aws, listener_arn)
    try:
        live = live or capture_listener(aws, listener_arn)
    except ListenerNotFound:
        if not snapshot.can_recreate or listener_arn != snapshot.source.listener_arn:
            raise
        raise ListenerNotFound(
            f"listener {listener_arn} no longer exists; nothing was changed — to create it "
            "again from this snapshot add --recreate-listener (restore machine input: "
            '"recreate_listener": true)'
        ) from None
    mapping = resolve_target_groups(aws, snapshot, live, map_by_name=map_by_name)
    return Target(listener_arn, live, mapping)


# --- 3. the pre-restore snapshot --------------------------------------------------------------


@dataclass(frozen=True)
class PreRestore:
    """The listener as it was before the restore changed anything: the rollback's target."""

    location: str
    snapshot: Snapshot
    fingerprint: str
    sha256: str | None = None  # of the stored bytes


def take_pre_restore_snapshot(records: RestoreRecords, live: ListenerState) -> PreRestore:
    """Store ``live`` (just captured) as the restore's pre-restore snapshot."""
    snapshot = build_snapshot(live)
    location, sha256 = records.save_pre_restore_bytes(snapshot)
    return PreRestore(location, snapshot, state_fingerprint(live), sha256)


# --- 4. the plan ------------------------------------------------------------------------------


@dataclass
class Prepared:
    """Everything checked and planned; nothing changed yet."""

    snapshot: Snapshot
    live: ListenerState
    desired: Desired
    plan: Plan
    oidc_secrets: dict[str, str]
    secret_values: dict[str, str] = field(repr=False, default_factory=dict)
    secret_scope: SecretScope = field(default_factory=SecretScope)
    max_listener_rules: int | None = None
    warnings: list[str] = field(default_factory=list)
    # a listener to recreate (--recreate-listener): the plan is made from it as created
    recreate: RecreateTarget | None = None

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the state the plan was made from (see :func:`check_unchanged`)."""
        return state_fingerprint(self.live)


def make_plan(aws: Aws, snapshot: Snapshot, target: Target, options: RestoreOptions) -> Prepared:
    """Plan from the target's live state to the snapshot, within the load balancer's rule
    quota, and read the OIDC client secrets the plan needs. Raises (exit 2) on any problem."""
    live = target.live
    settings = restores_settings(snapshot, target.listener_arn, options.listener_settings)
    desired = desired_from_snapshot(snapshot, target.target_groups, settings=settings)
    warnings: list[str] = []
    limits = account_limits(aws, warnings)
    other = count_other_rules(aws, live.source.load_balancer_arn, target.listener_arn)
    max_rules = max(limits.rules_per_load_balancer - other, len(live.rules))
    kwargs: dict[str, Any] = {
        "mode": options.mode,
        "selector": options.selector,
        "oidc_secrets": options.oidc_secrets,
        "skip_managed": options.skip_managed,
        "names": options.names,
        "owner_tags": owner_tags_reader(aws),
    }
    unbounded = plan_owned(live, desired, **kwargs)
    problems = check_rule_count(len(unbounded.expected.rules), other, limits)
    if problems and len(unbounded.expected.rules) > len(live.rules):
        raise SnapshotInvalid("the snapshot", problems)
    plan = plan_owned(live, desired, max_listener_rules=max_rules, **kwargs)
    return Prepared(
        snapshot=snapshot,
        live=live,
        desired=desired,
        plan=plan,
        oidc_secrets=dict(options.oidc_secrets),
        secret_values=read_secret_values(
            aws, secret_arns(plan), target.listener_arn, options.secret_scope
        ),
        secret_scope=options.secret_scope,
        max_listener_rules=max_rules,
        warnings=warnings,
    )


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
    secret_scope: SecretScope | None = None,
    listener_settings: bool | None = None,
    skip_managed: bool = False,
    names: dict[str, str] | None = None,
) -> Prepared:
    """Check everything and plan (steps 2 and 4). Raises (exit 2) before any change on any
    problem. ``live``: the listener's state when the caller has just captured it.
    ``secret_scope``: the OIDC client secrets it may read (default: names under albrules/).
    ``listener_settings``: :attr:`RestoreOptions.listener_settings`; ``skip_managed``: leave
    rules someone else manages out of the plan; ``names``: how the options are spelled where
    the user wrote them (CLI flags by default)."""
    listener_arn = target_listener_arn or snapshot.source.listener_arn
    scope = secret_scope or SecretScope()
    secrets = dict(oidc_secrets or {})
    target = check_restorable(
        aws,
        snapshot,
        listener_arn,
        map_by_name=map_by_name,
        live=live,
        oidc_secrets=secrets,
        secret_scope=scope,
    )
    options = RestoreOptions(
        mode,
        selector,
        map_by_name,
        secrets,
        scope,
        listener_settings,
        skip_managed=skip_managed,
        names=dict(names or CLI_NAMES),
    )
    return make_plan(aws, snapshot, target, options)


# --- 5. the listener has not changed ----------------------------------------------------------


def check_unchanged(aws: Aws, listener_arn: str, fingerprint: str, since: str) -> ListenerState:
    """The listener, captured again, if it is still in the state whose fingerprint is given;
    ListenerChanged (nothing was changed) otherwise. ``since``: what that state is, in words
    ("the plan was made")."""
    live = capture_listener(aws, listener_arn)
    if state_fingerprint(live) != fingerprint:
        raise ListenerChanged(
            f"listener {listener_arn} changed after {since}; nothing was changed, start the "
            "restore again to plan from its current state"
        )
    return live


# --- 6 and 7. apply and verify ---------------------------------------------------------------


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
    if isinstance(op, RemoveListenerCertificates):
        listed = describe_listener_certificates(aws, op.listener_arn)
        return not any(
            c["CertificateArn"] == op.certificate and not c.get("IsDefault") for c in listed
        )
    if isinstance(op, CreateRule) and code == "PriorityInUse":
        return _find_rule(aws, op) is not None
    return False


def _find_rule(aws: Aws, op: CreateRule) -> str | None:
    """The ARN of the rule the CreateRule ``op`` would have made, if the listener has it."""
    for rule in describe_rules(aws, op.listener_arn):
        if rule.get("Priority") == str(op.priority) and conditions_key(
            rule.get("Conditions", [])
        ) == conditions_key(op.conditions):
            return str(rule["RuleArn"])
    return None


def _rule_priorities(aws: Aws, arns: list[str]) -> dict[str, str]:
    """Rule ARN -> priority, for the rules of ``arns`` that exist."""
    found: dict[str, str] = {}
    for start in range(0, len(arns), 20):
        try:
            rules = aws.elbv2.describe_rules(RuleArns=arns[start : start + 20])["Rules"]
        except ClientError as err:
            if error_code(err) != "RuleNotFound":
                raise
            for arn in arns[start : start + 20]:  # one by one: which ones are gone
                try:
                    rules = aws.elbv2.describe_rules(RuleArns=[arn])["Rules"]
                except ClientError as one:
                    if error_code(one) != "RuleNotFound":
                        raise
                    continue
                found.update({r["RuleArn"]: r["Priority"] for r in rules})
            continue
        found.update({r["RuleArn"]: r["Priority"] for r in rules})
    return found


def took_effect(aws: Aws, op: Any) -> tuple[bool, str | None]:
    """Whether a call journaled as started, with no outcome (its invocation died or timed
    out around it), took effect: read from the live listener, never guessed. (True, the new
    rule's ARN) for a CreateRule that landed.

    CreateRule, DeleteRule and SetRulePriorities are read back (sent twice they would fail
    or, for a reorder through temporary priorities, could undo a later move). The others
    replace what they set whole (ModifyRule's lists, ModifyListener's default actions, tags
    by key), so sending one again leaves the listener as sending it once: they count as not
    applied, and are sent again."""
    if isinstance(op, CreateRule):
        arn = _find_rule(aws, op)
        return arn is not None, arn
    if isinstance(op, DeleteRule):
        return not _rule_priorities(aws, [op.rule_arn]), None
    if isinstance(op, SetRulePriorities):
        have = _rule_priorities(aws, [m.rule_arn for m in op.moves])
        return all(have.get(m.rule_arn) == str(m.to_priority) for m in op.moves), None
    return False, None


def _of(entry: dict[str, Any], tag: str | None) -> bool:
    return tag is None or entry.get("plan") == tag


def _steps_of(journal: list[dict[str, Any]], phase: str, tag: str | None) -> list[dict[str, Any]]:
    """The journal's step entries of ``phase`` (and of the plan tagged ``tag``, if given: a
    rollback planned again has its own steps)."""
    return [
        e for e in journal if e.get("phase", "restore") == phase and e.get("step") and _of(e, tag)
    ]


def with_in_flight(
    plan: Plan,
    journal: list[dict[str, Any]],
    in_flight: dict[str, Any] | None,
    *,
    phase: str = "restore",
    tag: str | None = None,
) -> list[dict[str, Any]]:
    """The journal as the write-ahead mark (``RestoreRecords.write_in_flight``) says it was
    when the invocation ended: an invocation that was killed (a timeout) could not store its
    journal, so the steps the mark counts as done are added back (rebuilt from the plan, the
    new rules' ARNs unknown) and the marked call, "started". A mark older than the journal
    changes nothing."""
    if not in_flight or not isinstance(in_flight.get("entry"), dict):
        return journal
    entry = dict(in_flight["entry"])
    if entry.get("phase", "restore") != phase or not entry.get("step") or not _of(entry, tag):
        return journal
    steps = [int(e["step"]) for e in _steps_of(journal, phase, tag)]
    last = max(steps, default=0)
    marked = int(entry["step"])
    if marked <= last:
        return journal
    done = int(in_flight.get("done", 0))
    for step in range(last + 1, min(marked, done + 1)):
        op = plan.operations[step - 1]
        journal.append(
            {
                "phase": phase,
                "step": step,
                "call": API_OPERATION[op.op],
                "summary": op.summary(),
                "status": "done",
                "note": "rebuilt from the plan: its invocation ended before storing the journal",
                **({"plan": tag} if tag else {}),
            }
        )
    journal.append(entry)
    return journal


def resume_after_retry(
    aws: Aws,
    plan: Plan,
    journal: list[dict[str, Any]],
    *,
    phase: str = "restore",
    tag: str | None = None,
) -> int:
    """The first step of ``plan`` still to do, from the journal of its earlier slices or of
    an earlier attempt (retried after the Lambda service failed or the function timed out).

    The journal is write-ahead: a step is "started" before its call. A last step that is
    "done" resumes after it. A last step still "started" (the invocation died around its
    call) is checked against the live listener first (:func:`took_effect`): done, the apply
    goes on after it; not done, it is sent again, once. A journal that does not read as
    steps 1, 2, ... in order, or whose last step failed, raises ApplyFailed (the restore is
    rolled back: the approved plan is never re-planned). ``journal`` gets a note of what was
    found when a step was in doubt."""
    earlier = _steps_of(journal, phase, tag)
    if not earlier:
        return 1
    total = len(plan.operations)
    then = (
        "is rolled back to its pre-restore snapshot"
        if phase == "restore"
        else "must be put back by hand"
    )
    last = earlier[-1]
    step = int(last["step"])
    done = sorted({int(e["step"]) for e in earlier if e.get("status") == "done"})
    expected = list(range(1, step + (last.get("status") == "done")))
    if done != expected or step > total:
        raise ApplyFailed(
            f"the journal of this restore does not read as the plan's steps in order ({len(done)} "
            f"of {total} steps done, step {step} the last); listener {plan.listener_arn} {then}",
            index=step,
            journal=journal,
        )
    status = last.get("status")
    if status == "done":
        return step + 1
    if status != "started":
        raise ApplyFailed(
            f"an earlier attempt of this {phase} ended at step {step} of {total} ({status}); "
            f"listener {plan.listener_arn} {then}",
            index=step,
            journal=journal,
        )
    op = plan.operations[step - 1]
    landed, rule_arn = took_effect(aws, op)
    journal.append(
        {
            "phase": phase,
            "call": "RetriedApply",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "status": "done",
            "journal_said": f"{len(done)} of {total} steps done, step {step} the last started",
            "note": (
                f"step {step} had taken effect; going on from step {step + 1}"
                if landed
                else f"step {step} had not taken effect; sending it again"
            ),
        }
    )
    if landed:
        last["status"] = "done"
        last["note"] = "its invocation ended before noting it; the live listener shows it done"
        if rule_arn:
            last["rule_arn"] = rule_arn
        return step + 1
    last["status"] = "not-applied"
    last["note"] = "its invocation ended around the call; the live listener shows it not done"
    return step


def apply_with_journal(
    aws: Aws,
    plan: Plan,
    secret_values: dict[str, str],
    journal: list[dict[str, Any]],
    *,
    phase: str = "restore",
    before_call: Callable[[list[dict[str, Any]]], object] | None = None,
    deadline: Deadline | None = None,
    start: int = 1,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Run each operation in order from step ``start``, journaling it. Raises ApplyFailed at
    the first failure. True when the plan is done; False when ``deadline`` (a Lambda
    invocation's, :mod:`albrules.slices`) left no room for the next step: the steps not yet
    done are for the next slice (:func:`resume_after_retry` finds where). Without a
    deadline (the CLI) it always goes to the end.

    ``journal`` is extended in place, so a caller keeps what was done even when this raises.
    ``before_call(journal)`` runs before each call, the call's entry already "started" (the
    state machine stores the journal there: a write-ahead journal that an attempt retried
    after dying mid-way reads). ``extra`` goes into each entry (a rollback slice's number)."""
    total = len(plan.operations)
    for step, op in enumerate(plan.operations, start=1):
        if step < start:
            continue
        if deadline is not None and step > start and not deadline.room_for_another():
            journal.append(
                {
                    "phase": phase,
                    "call": "SliceEnded",
                    "status": "done",
                    "at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "note": f"stopped before step {step} of {total}: {deadline.why_stopped()}",
                    **(extra or {}),
                }
            )
            return False
        began = time.monotonic()
        method, kwargs = request_for(op, secret_values)
        entry: dict[str, Any] = {
            "phase": phase,
            "step": step,
            "call": API_OPERATION[op.op],
            "summary": op.summary(),
            "request": _redacted(kwargs),
            "status": "started",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            **(extra or {}),
        }
        journal.append(entry)
        if before_call is not None:
            before_call(journal)
        try:
            response = getattr(aws.elbv2, method)(**kwargs)
        except ClientError as err:
            if _already_done(aws, op, err):
                entry["status"] = "done"
                entry["note"] = "a retried attempt found the first attempt had succeeded"
                if deadline is not None:
                    deadline.record(time.monotonic() - began)
                continue
            entry["status"] = "failed"
            entry["error"] = f"{error_code(err)}: {error_message(err)}"
            reason = as_albrules_error(err, where=f"listener {plan.listener_arn}")
            raise ApplyFailed(
                f"step {step} of {total} ({op.summary()}) failed: {reason}",
                index=step,
                journal=journal,
            ) from err
        except BotoCoreError as err:
            entry["status"] = "failed"
            entry["error"] = str(err)
            raise ApplyFailed(
                f"step {step} of {total} ({op.summary()}) failed: {as_albrules_error(err)}",
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
        if deadline is not None:
            deadline.record(time.monotonic() - began)
    return True


def _shown(value: Any) -> str:
    if value in (None, [], {}, ""):
        return "none"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def setting_differences(have: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """How a listener's settings differ from the expected ones, in plain words, one line per
    setting (per attribute and per tag set): "the listener's port is 8080, expected 80"."""
    out = []
    for key in settings_differ(have, want):
        name = SETTING_NAMES[key]
        if key == "certificates":
            extra = sorted(set(have.get(key) or []) - set(want.get(key) or []))
            missing = sorted(set(want.get(key) or []) - set(have.get(key) or []))
            words = []
            if missing:
                words.append(f"missing {', '.join(missing)}")
            if extra:
                words.append(f"not expected {', '.join(extra)}")
            out.append(f"the listener's additional certificates differ: {'; '.join(words)}")
        elif key == "mutual_authentication":
            out.append(
                "the listener's mutual TLS is "
                f"{describe_mutual_authentication(have.get(key) or {'Mode': 'off'})}, expected "
                f"{describe_mutual_authentication(want.get(key) or {'Mode': 'off'})}"
            )
        elif key == "attributes":
            attributes_have, attributes_want = have.get(key) or {}, want.get(key) or {}
            for attribute in sorted(attributes_have.keys() | attributes_want.keys()):
                wanted = attribute_value(attributes_want, attribute)
                found = attribute_value(attributes_have, attribute)
                if wanted is not None and wanted != found:
                    out.append(
                        f"the listener's attribute {attribute} is {found!r}, expected {wanted!r}"
                    )
        elif key in ("tags", "default_rule_tags"):
            tags_have, tags_want = have.get(key) or {}, want.get(key) or {}
            wrong = sorted(
                k
                for k in tags_have.keys() | tags_want.keys()
                if tags_have.get(k) != tags_want.get(k)
            )
            whose = "the listener's tags" if key == "tags" else "the default rule's tags"
            out.append(f"{whose} differ: {', '.join(wrong)}")
        else:
            found, wanted = _shown(have.get(key)), _shown(want.get(key))
            out.append(f"the listener's {name} is {found}, expected {wanted}")
    return out


def differences(expected: Desired, state: ListenerState) -> list[str]:
    """How a listener differs from an expected state, one line per difference."""
    out = []
    if expected.listener is not None:
        if state.listener is None:
            out.append("the listener's settings were not read, so they could not be compared")
        else:
            settings = state.listener.model_dump(mode="json", exclude_none=True)
            out += setting_differences(settings, expected.listener)
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
            out.append(f"missing rule at {rule_label(want[priority])}")
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


# --- 8. roll back ----------------------------------------------------------------------------


def plan_rollback(
    aws: Aws,
    listener_arn: str,
    pre: Snapshot,
    *,
    oidc_secrets: dict[str, str] | None = None,
    max_listener_rules: int | None = None,
) -> Plan:
    """The plan from the live listener back to the pre-restore snapshot (what cannot be
    restored, an OIDC secret missing, is in its ``unresolved``)."""
    return plan_restore(
        capture_listener(aws, listener_arn),
        desired_from_snapshot(pre),
        mode="full",
        oidc_secrets=oidc_secrets,
        max_listener_rules=max_listener_rules,
        on_missing_secret="skip",
    )


def rollback_secrets(
    aws: Aws,
    back: Plan,
    listener_arn: str,
    secret_values: dict[str, str] | None = None,
    secret_scope: SecretScope | None = None,
) -> dict[str, str]:
    """The OIDC client secrets the rollback plan needs: those given, and the others read
    (each checked against ``secret_scope``, default: under albrules/)."""
    values = dict(secret_values or {})
    missing = [a for a in secret_arns(back) if a not in values]
    if missing:
        values.update(read_secret_values(aws, missing, listener_arn, secret_scope or SecretScope()))
    return values


def roll_back(
    aws: Aws,
    listener_arn: str,
    pre: Snapshot,
    journal: list[dict[str, Any]],
    *,
    oidc_secrets: dict[str, str] | None = None,
    secret_values: dict[str, str] | None = None,
    max_listener_rules: int | None = None,
    secret_scope: SecretScope | None = None,
) -> list[str]:
    """Back to the pre-restore snapshot, straight through (the CLI; the state machine rolls
    back in slices, :func:`albrules.tasks.restore.roll_back_listener`). Returns the
    differences left (empty: rolled back)."""
    back = plan_rollback(
        aws, listener_arn, pre, oidc_secrets=oidc_secrets, max_listener_rules=max_listener_rules
    )
    values = rollback_secrets(aws, back, listener_arn, secret_values, secret_scope)
    apply_with_journal(aws, back, values, journal, phase="rollback")
    state = capture_listener(aws, listener_arn)
    return differences(back.expected, state) + [f"not rolled back: {u}" for u in back.unresolved]


# --- the whole restore, for a prepared plan (the CLI) -----------------------------------------


class RestoreResult(BaseModel):
    """What a restore did, for people (CLI) and machines (``--json``)."""

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
        return exit_code_of(self.status)


def unapplied(prepared: Prepared, dry_run: bool) -> RestoreResult | None:
    """The result of a restore that applies nothing (no change needed, or a dry run); None when
    the plan must be applied."""
    base = _base(prepared)
    if prepared.plan.empty and prepared.recreate is None:
        return RestoreResult(
            status="NO_CHANGES", message="the listener already matches; nothing to do", **base
        )
    if dry_run:
        return RestoreResult(status="DRY_RUN", message="dry run: nothing was changed", **base)
    return None


def undo_under_lock(lock: RestoreLock | None, undo: Callable[[], list[str]]) -> list[str]:
    """Run a rollback once the lock is retaken for it (when there is one): what is left, or
    why the rollback did not start or failed (empty: done). Never raises."""
    try:
        if lock is not None:
            lock.retake_for_rollback()
        return undo()
    except ListenerLocked as taken:
        return [f"the rollback was not started: {taken}"]
    except Exception as again:
        return [f"the rollback failed: {as_albrules_error(again)}"]


def _base(prepared: Prepared) -> dict[str, Any]:
    recreate = prepared.recreate
    return {
        "listener_arn": recreate.old_listener_arn if recreate else prepared.plan.listener_arn,
        "changes": len(prepared.plan.operations) + (1 if recreate else 0),
        "warnings": list(prepared.warnings) + list(prepared.plan.warnings),
    }


def _rolled_back_result(
    left: list[str],
    journal: list[dict[str, Any]],
    journal_at: str | None,
    failure: BaseException,
    base: dict[str, Any],
    *,
    rolled_back: str,
    not_finished: Callable[[str], str],
) -> RestoreResult:
    """How a failed restore ended once its rollback ran: ROLLED_BACK (``rolled_back``) when
    nothing is ``left``, else ROLLBACK_FAILED (``not_finished`` of the first thing left)."""
    if not left:
        return RestoreResult(
            status="ROLLED_BACK",
            message=rolled_back,
            journal_location=journal_at,
            journal=journal,
            differences=getattr(failure, "differences", []),
            **base,
        )
    return RestoreResult(
        status="ROLLBACK_FAILED",
        message=not_finished(left[0]),
        journal_location=journal_at,
        journal=journal,
        differences=left,
        **base,
    )


def execute_restore(
    aws: Aws,
    prepared: Prepared,
    *,
    pre_restore_store: Store,
    recheck: bool = False,
    restore_id: str | None = None,
    lock: RestoreLock | None = None,
    catalog: Catalog | None = None,
) -> RestoreResult:
    """Apply a prepared plan with pre-restore snapshot, verification and automatic rollback.

    The restore's records go to ``<pre_restore_store>/<restore_id>/`` (a new id by default).
    With ``recheck``, the listener is captured again first (time passed since the plan: a
    person read it) and the restore stops with ListenerChanged if it moved. With ``lock``
    (held by the caller), the restore checks it still holds it before any change (LockLost
    otherwise) and takes it again before a rollback, which never fights another holder.
    A prepared recreation is :func:`execute_recreate`'s (``catalog``: the history's)."""
    if prepared.recreate is not None:
        return execute_recreate(
            aws,
            prepared,
            pre_restore_store=pre_restore_store,
            recheck=recheck,
            restore_id=restore_id,
            lock=lock,
            catalog=catalog,
        )
    done = unapplied(prepared, dry_run=False)
    if done is not None:
        return done
    plan = prepared.plan
    arn = plan.listener_arn
    base = _base(prepared)
    live = prepared.live
    if recheck:
        live = check_unchanged(aws, arn, prepared.fingerprint, "the plan was made")
    if lock is not None:
        lock.check()
    records = RestoreRecords(pre_restore_store, restore_id or new_restore_id())
    pre = take_pre_restore_snapshot(records, live)
    journal: list[dict[str, Any]] = []
    base["pre_restore"] = pre.location
    try:
        apply_with_journal(aws, plan, prepared.secret_values, journal)
        verify(aws, arn, plan.expected)
    except Exception as failure:  # anything at all, a bug included: never leave it half-done
        reason = str(as_albrules_error(failure))
        left = undo_under_lock(
            lock,
            lambda: roll_back(
                aws,
                arn,
                pre.snapshot,
                journal,
                oidc_secrets=prepared.oidc_secrets,
                secret_values=prepared.secret_values,
                max_listener_rules=prepared.max_listener_rules,
                secret_scope=prepared.secret_scope,
            ),
        )
        journal_at = records.try_write_journal(journal, base["warnings"])
        stored = journal_at or "(in --json output; it could not be stored)"
        return _rolled_back_result(
            left,
            journal,
            journal_at,
            failure,
            base,
            rolled_back=(
                f"the restore failed and was rolled back; listener {arn} is as it was before "
                f"({reason})"
            ),
            not_finished=lambda first: (
                f"the restore failed ({reason}) and the rollback did not finish ({first}); "
                f"finish by hand from the pre-restore snapshot {pre.location} and the "
                f"journal {stored}"
            ),
        )
    journal_at = records.try_write_journal(journal, base["warnings"])
    return RestoreResult(
        status="RESTORED",
        message=f"restored {len(plan.operations)} change(s) to listener {arn} and verified it",
        journal_location=journal_at,
        journal=journal,
        **base,
    )


# --- recreating a deleted listener (--recreate-listener) ---------------------------------------


def default_oidc(target: RecreateTarget, oidc_secrets: dict[str, str]) -> dict[str, str]:
    """The OIDC client secret of each ``authenticate-oidc`` default action: CreateListener
    needs it (no existing secret to keep on a new listener)."""
    wanted: dict[str, str] = {}
    for action in target.snapshot.default_actions:
        config = action.AuthenticateOidcConfig
        if config is None:
            continue
        source = oidc_secrets.get(config.ClientId)
        if not source or not source.startswith("arn:"):
            raise RestoreRefused(
                f"the default action authenticates with OIDC client {config.ClientId}, and a new "
                f"listener needs its client secret; pass --oidc-secret {config.ClientId}="
                "SECRET_ARN (nothing was changed)"
            )
        wanted[config.ClientId] = source
    return wanted


def prepare_recreate(
    aws: Aws,
    snapshot: Snapshot,
    *,
    load_balancer: str | None = None,
    certificate_map: dict[str, str] | None = None,
    port: int | None = None,
    map_by_name: bool = False,
    target_groups: dict[str, str] | None = None,
    oidc_secrets: dict[str, str] | None = None,
    secret_scope: SecretScope | None = None,
) -> Prepared:
    """Check that the snapshot's listener can be recreated (:func:`check_recreatable`) and
    plan, from the listener as CreateListener will make it, everything else: additional
    certificates, attributes, default-rule tags and every rule. Raises (exit 2) before any
    change on any problem. The plan names the new listener by a placeholder ARN until it
    exists (:func:`plan_for_created`)."""
    scope = secret_scope or SecretScope()
    secrets = dict(oidc_secrets or {})
    target = check_recreatable(
        aws,
        snapshot,
        load_balancer,
        certificate_map,
        port=port,
        map_by_name=map_by_name,
        target_groups=target_groups,
    )
    scope.check_all(secrets, target.placeholder_arn)
    wanted_oidc = default_oidc(target, secrets)
    live = target.as_created()
    prepared = make_plan(
        aws,
        target.snapshot,
        Target(target.placeholder_arn, live, target.target_groups),
        RestoreOptions("full", None, map_by_name, secrets, scope, listener_settings=True),
    )
    prepared.snapshot = snapshot
    prepared.recreate = target
    prepared.secret_values.update(
        read_secret_values(aws, list(wanted_oidc.values()), target.placeholder_arn, scope)
    )
    return prepared


def substitute_listener(plan: Plan, load_balancer_arn: str, live: ListenerState) -> Plan:
    """The plan made before the listener existed, naming the new listener and its default
    rule instead of the placeholders."""
    text = plan.model_dump_json()
    text = text.replace(placeholder_rule_arn(load_balancer_arn), live.default_rule_arn or "")
    text = text.replace(placeholder_listener_arn(load_balancer_arn), live.source.listener_arn)
    return Plan.model_validate_json(text)


def plan_for_created(
    aws: Aws,
    planned: Plan,
    load_balancer_arn: str,
    listener_arn: str,
    *,
    oidc_secrets: dict[str, str] | None = None,
    max_listener_rules: int | None = None,
) -> tuple[Plan, bool]:
    """The approved plan for the listener just created, and whether it is already done (a
    retried apply that finished). Raises ApplyFailed (so the listener is deleted again) when
    the new listener is not as the plan expected it: the plan applied is the one planned."""
    live = capture_listener(aws, listener_arn)
    plan = substitute_listener(planned, load_balancer_arn, live)
    if not differences(plan.expected, live):
        return plan, True
    again = plan_restore(
        live,
        plan.expected,
        mode="full",
        oidc_secrets=oidc_secrets,
        max_listener_rules=max_listener_rules,
    )
    if [op.model_dump(mode="json") for op in again.operations] != [
        op.model_dump(mode="json") for op in plan.operations
    ]:
        raise ApplyFailed(
            f"the new listener {listener_arn} is not as the plan expected it after "
            f"CreateListener ({len(again.operations)} change(s) needed, {len(plan.operations)} "
            "planned); it is deleted again",
            index=0,
            journal=[],
        )
    return plan, False


def record_recreation(
    catalog: Catalog, target: RecreateTarget, listener_arn: str, execution_arn: str | None
) -> None:
    """The listener's history links the new listener and the old one."""
    catalog.record_recreation(
        old_listener_arn=target.old_listener_arn,
        new_listener_arn=listener_arn,
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        execution_arn=execution_arn,
    )


def execute_recreate(
    aws: Aws,
    prepared: Prepared,
    *,
    pre_restore_store: Store,
    recheck: bool = False,
    restore_id: str | None = None,
    lock: RestoreLock | None = None,
    catalog: Catalog | None = None,
) -> RestoreResult:
    """Recreate the listener of a prepared recreation: CreateListener (journaled first), the
    plan from its live state applied and verified; on any failure the new listener is deleted
    (the rollback of a listener albrules created). ``catalog``: where the history links the
    new listener to the old one."""
    target = prepared.recreate
    if target is None:  # pragma: no cover - the callers choose
        raise ValueError("execute_recreate needs a prepared recreation")
    base = _base(prepared)
    if recheck:
        check_port_free(aws, target.load_balancer_arn, target.load_balancer_name, target.port)
    if lock is not None:
        lock.check()
    records = RestoreRecords(pre_restore_store, restore_id or new_restore_id())
    journal: list[dict[str, Any]] = []
    wanted_oidc = default_oidc(target, prepared.oidc_secrets)
    created: str | None = None
    try:
        created = create_listener(
            aws, target, journal, oidc=wanted_oidc, secret_values=prepared.secret_values
        )
        plan, _done = plan_for_created(
            aws,
            prepared.plan,
            target.load_balancer_arn,
            created,
            oidc_secrets=prepared.oidc_secrets,
            max_listener_rules=prepared.max_listener_rules,
        )
        apply_with_journal(aws, plan, prepared.secret_values, journal)
        verify(aws, created, plan.expected)
    except Exception as failure:  # anything at all: never leave a half-made listener
        reason = str(as_albrules_error(failure))
        left = undo_under_lock(lock, lambda: delete_created(aws, journal))
        journal_at = records.try_write_journal(journal, base["warnings"])
        gone = f"listener {created} was deleted" if created else "no listener was created"
        stored = journal_at or "(in --json output; it could not be stored)"
        return _rolled_back_result(
            left,
            journal,
            journal_at,
            failure,
            base,
            rolled_back=(
                f"the recreation failed and was rolled back ({gone}; load balancer "
                f"{target.load_balancer_name} is as it was) ({reason})"
            ),
            not_finished=lambda first: (
                f"the recreation failed ({reason}) and the rollback did not finish ({first}); "
                f"delete listener {created or '(on port ' + str(target.port) + ')'} of load "
                f"balancer {target.load_balancer_name} by hand (journal {stored})"
            ),
        )
    journal_at = records.try_write_journal(journal, base["warnings"])
    base["listener_arn"] = created
    if catalog is not None:
        try:
            record_recreation(catalog, target, created, None)
        except AlbRulesError as err:
            base["warnings"].append(f"the history could not link the new listener: {err}")
    return RestoreResult(
        status="RESTORED",
        message=(
            f"recreated listener {target.protocol}:{target.port} as {created} on load balancer "
            f"{target.load_balancer_name} (was {target.old_listener_arn}), applied "
            f"{len(plan.operations)} more change(s) and verified it"
        ),
        journal_location=journal_at,
        journal=journal,
        **base,
    )
