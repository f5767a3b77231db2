"""The plan: the minimal, collision-free list of mutating calls from a live listener to a target.

Matching. A rule's identity is its canonical conditions. Live and target rules with equal
conditions are paired (same priority first, then in priority order); a leftover live rule
and a leftover target rule at the same priority are paired too, and changed in place with
``ModifyRule`` (an atomic swap, never a delete and a create). Paired rules get at most one
``ModifyRule`` plus tag calls, and every priority move goes into one ``SetRulePriorities``.

Ordering. The schedule is simulated over the listener's priorities: creates go in as soon as
their priority is free (and the load balancer's rule quota allows), the single reorder goes
in when every target priority is free or held by another moving rule, and a delete goes in
early only when it frees a priority (or quota) something else needs; every other delete comes
last. No step can meet ``PriorityInUse``, and a rule present before and after is never absent.

The listener's own settings (snapshot format 2, ``Desired.listener``) are planned by
:func:`plan_settings` in a full restore when both the target and the live state have them:
one ``ModifyListener`` for what differs of protocol, port, SSL and ALPN policies, default
certificate and mutual TLS (merged with the default actions' call), one
``Add``/``RemoveListenerCertificates`` per certificate (the API takes one a call),
one ``ModifyListenerAttributes`` with the changed keys, and tag calls on the listener's and
the default rule's ARNs. They come before the rules' calls (see :func:`plan_settings` for
their own order).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .canonical import conditions_key
from .errors import InvalidInput, RestoreRefused
from .labels import condition_values, rule_label
from .listener_settings import (
    SECURE_PROTOCOLS,
    attribute_value,
    canonical_mutual_authentication,
    mutual_authentication_request,
)
from .models import CONDITION_CONFIG_KEY, ListenerState
from .operations import (
    EXISTING_SECRET,
    AddListenerCertificates,
    AddTags,
    CreateRule,
    DeleteRule,
    ModifyListener,
    ModifyListenerAttributes,
    ModifyRule,
    Operation,
    PriorityMove,
    RemoveListenerCertificates,
    RemoveTags,
    SetRulePriorities,
    TagTarget,
)

Mode = Literal["full", "selective"]
MATCH_FIELDS = tuple(CONDITION_CONFIG_KEY)


# --- inputs -----------------------------------------------------------------------------


class Desired(BaseModel):
    """A listener's routing in canonical form: default actions and rules (no ARNs), and
    (format 2) its settings, a canonical ``ListenerSettings`` dict; None: leave them alone."""

    model_config = ConfigDict(extra="forbid")
    default_actions: list[dict[str, Any]]
    rules: list[dict[str, Any]]
    listener: dict[str, Any] | None = None


@dataclass(frozen=True)
class Selector:
    """Selective restore: rules at these priorities, or with these condition values."""

    priorities: frozenset[int] = frozenset()
    matches: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, priorities: list[int] | None, matches: list[str] | None) -> Selector:
        parsed = []
        for item in matches or []:
            name, sep, value = item.partition("=")
            if not sep or not value or name not in MATCH_FIELDS:
                raise InvalidInput(
                    f"--match {item!r} is not FIELD=VALUE with FIELD one of "
                    f"{', '.join(MATCH_FIELDS)} (e.g. path-pattern=/api/*)"
                )
            parsed.append((name, value))
        for priority in priorities or []:
            if not 1 <= priority <= 50000:
                raise InvalidInput(f"--priority {priority} is outside 1..50000")
        return cls(frozenset(priorities or []), tuple(parsed))

    @property
    def empty(self) -> bool:
        return not self.priorities and not self.matches

    def selects(self, rule: dict[str, Any]) -> bool:
        if rule["priority"] in self.priorities:
            return True
        for name, value in self.matches:
            for condition in rule["conditions"]:
                if condition["Field"] != name:
                    continue
                values = condition_values(condition)
                if name == "http-header":
                    header, _, wanted = value.partition(":")
                    values_lower = [v.lower() for v in values]
                    if f"{header.lower()}:{wanted}".lower() in values_lower or (
                        not wanted and any(v.startswith(header.lower() + ":") for v in values_lower)
                    ):
                        return True
                elif name == "host-header":  # host names compare case-insensitively
                    if value.lower() in {v.lower() for v in values} or f"~{value}" in values:
                        return True
                elif value in values or f"~{value}" in values:
                    return True
        return False

    def describe(self) -> str:
        parts = [f"--priority {p}" for p in sorted(self.priorities)]
        parts += [f"--match {n}={v}" for n, v in self.matches]
        return " ".join(parts)


# --- choosing what to restore ------------------------------------------------------------

# How the options are spelled where the user wrote them: CLI flags, or workflow input fields.
CLI_NAMES = {
    "mode": "--mode",
    "priority": "--priority N",
    "match": "--match FIELD=VALUE",
    "listener": "--listener-arn",
    "target": "--target-listener-arn",
}
INPUT_NAMES = {
    "mode": "mode",
    "priority": "priorities",
    "match": "match",
    "listener": "listener_arn",
    "target": "target_listener_arn",
}


def choose_selection(
    mode: str | None,
    priorities: list[int] | None,
    matches: list[str] | None,
    names: dict[str, str] = CLI_NAMES,
) -> tuple[Mode, Selector]:
    """The restore mode and selector, checked; the mode defaults to selective with selectors."""
    selector = Selector.parse(priorities, matches)
    if mode is None:
        mode = "full" if selector.empty else "selective"
    if mode not in ("full", "selective"):
        raise InvalidInput(f"{names['mode']} must be full or selective, not {mode!r}")
    chosen = f"{names['priority'].split()[0]} and {names['match'].split()[0]}"
    if mode == "full" and not selector.empty:
        raise InvalidInput(
            f"{chosen} choose rules for a selective restore; drop them for a full restore"
        )
    if mode == "selective" and selector.empty:
        raise InvalidInput(
            f"a selective restore needs at least one {names['priority']} or {names['match']}"
        )
    return mode, selector  # type: ignore[return-value]


# --- output -----------------------------------------------------------------------------


class RuleChange(BaseModel):
    """One rule's before/after, for the human-readable diff."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["create", "modify", "move", "delete", "default-actions", "listener-settings"]
    label: str
    fields: list[str] = Field(default_factory=list)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class Plan(BaseModel):
    """Ordered operations from a listener's live state to a target, and that target."""

    model_config = ConfigDict(extra="forbid")
    listener_arn: str
    mode: Mode
    operations: list[Operation]
    changes: list[RuleChange]
    expected: Desired
    unresolved: list[str] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.operations

    def public(self) -> dict[str, Any]:
        """The ``--json`` form: ``{"changes": N, "operations": [...]}`` (no secrets in it)."""
        return {
            "listener_arn": self.listener_arn,
            "mode": self.mode,
            "changes": len(self.operations),
            "operations": [
                {"step": i, "summary": op.summary(), **op.model_dump(mode="json")}
                for i, op in enumerate(self.operations, start=1)
            ],
            "rules": [c.model_dump(mode="json", exclude_none=True) for c in self.changes],
        }


# --- matching ---------------------------------------------------------------------------


def _strip_arn(rule: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rule.items() if k != "arn"}


def match_rules(
    live: list[dict[str, Any]], target: list[dict[str, Any]]
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(pairs, unmatched live, unmatched target). Same conditions first, then same priority."""
    live_by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    target_by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rule in live:
        live_by_key[conditions_key(rule["conditions"])].append(rule)
    for rule in target:
        target_by_key[conditions_key(rule["conditions"])].append(rule)
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    left_live: list[dict[str, Any]] = []
    left_target: list[dict[str, Any]] = []
    for key in live_by_key.keys() | target_by_key.keys():
        lives = {r["priority"]: r for r in live_by_key.get(key, [])}
        rest_target = []
        for t in sorted(target_by_key.get(key, []), key=lambda r: r["priority"]):
            if t["priority"] in lives:
                pairs.append((lives.pop(t["priority"]), t))
            else:
                rest_target.append(t)
        rest_live = sorted(lives.values(), key=lambda r: r["priority"])
        pairs += list(zip(rest_live, rest_target, strict=False))
        left_live += rest_live[len(rest_target) :]
        left_target += rest_target[len(rest_live) :]
    # A different rule now sits where the target wants one: change it in place.
    live_at = {r["priority"]: r for r in left_live}
    still_target = []
    for t in sorted(left_target, key=lambda r: r["priority"]):
        if t["priority"] in live_at:
            pairs.append((live_at.pop(t["priority"]), t))
        else:
            still_target.append(t)
    pairs.sort(key=lambda pair: pair[1]["priority"])
    return pairs, sorted(live_at.values(), key=lambda r: r["priority"]), still_target


# --- planning ---------------------------------------------------------------------------


@dataclass
class _Secrets:
    """Where each OIDC client's secret comes from, and what could not be resolved."""

    available: dict[str, str]
    missing: list[tuple[str, str]] = field(default_factory=list)

    def sources(
        self, target_actions: list[dict[str, Any]], live_actions: list[dict[str, Any]], label: str
    ) -> dict[str, str] | None:
        existing = {
            a["AuthenticateOidcConfig"]["ClientId"]
            for a in live_actions
            if a["Type"] == "authenticate-oidc"
        }
        out: dict[str, str] = {}
        ok = True
        for action in target_actions:
            if action["Type"] != "authenticate-oidc":
                continue
            client = action["AuthenticateOidcConfig"]["ClientId"]
            if client in existing:
                out[client] = EXISTING_SECRET
            elif client in self.available:
                out[client] = self.available[client]
            else:
                self.missing.append((client, label))
                ok = False
        return out if ok else None


def _counterparts(
    live: list[dict[str, Any]], target: list[dict[str, Any]], selector: Selector
) -> list[dict[str, Any]]:
    """Unselected live rules a selected snapshot rule takes over: for each set of conditions,
    as many as the selected snapshot rules lack a selected live rule for, once every unselected
    snapshot rule of those conditions has kept its own (at its priority first). An unselected
    live rule is never taken for more (that would delete it)."""
    by_key: dict[
        str,
        tuple[
            list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]
        ],
    ] = defaultdict(lambda: ([], [], [], []))
    for t in target:
        by_key[conditions_key(t["conditions"])][0 if selector.selects(t) else 1].append(t)
    for r in live:
        by_key[conditions_key(r["conditions"])][2 if selector.selects(r) else 3].append(r)
    taken: list[dict[str, Any]] = []
    for selected_t, other_t, selected_l, other_l in by_key.values():
        need = len(selected_t) - len(selected_l)
        if need <= 0 or not other_l:
            continue
        free = sorted(other_l, key=lambda r: r["priority"])
        for t in sorted(other_t, key=lambda r: r["priority"]):  # each keeps its own rule
            own = next((r for r in free if r["priority"] == t["priority"]), None)
            if own is None and len(free) > need:
                own = free[-1]
            if own is not None:
                free.remove(own)
        wanted = {t["priority"] for t in selected_t}
        free.sort(key=lambda r: (r["priority"] not in wanted, r["priority"]))
        taken += free[:need]
    return taken


def _selective_scope(
    live: list[dict[str, Any]], target: list[dict[str, Any]], selector: Selector
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(live rules in scope, target rules in scope, live rules left untouched)."""
    if selector.empty:
        raise InvalidInput("selective mode needs at least one --priority N or --match FIELD=VALUE")
    scope_t = [t for t in target if selector.selects(t)]
    keys_t = {conditions_key(t["conditions"]) for t in scope_t}
    scope_l = [r for r in live if selector.selects(r)] + _counterparts(live, target, selector)
    if not scope_t and not scope_l:
        raise InvalidInput(
            f"{selector.describe()} selects no rule in the snapshot or the listener; "
            "check the priorities and values with `albrules show`"
        )
    in_scope = {r["arn"] for r in scope_l}
    fixed = [r for r in live if r["arn"] not in in_scope]
    unselected = {conditions_key(t["conditions"]): t for t in target if not selector.selects(t)}
    for rule in scope_l:
        key = conditions_key(rule["conditions"])
        if key in unselected and key not in keys_t:
            other = unselected[key]
            raise RestoreRefused(
                f"the selected live rule at {rule_label(rule)} is the snapshot's rule at priority "
                f"{other['priority']}, which is not selected; add --priority {other['priority']} "
                "so it is restored rather than replaced"
            )
    held = {r["priority"]: r for r in fixed}
    for t in scope_t:
        if t["priority"] in held:
            raise RestoreRefused(
                f"priority {t['priority']} is held by the live rule at "
                f"{rule_label(held[t['priority']])}, which is not selected; add "
                f"--priority {t['priority']} to replace it too, or restore with --mode full"
            )
    return scope_l, scope_t, fixed


def _ordered_moves(moves: list[PriorityMove]) -> list[PriorityMove]:
    """Moves in an order that is conflict-free even if applied one by one, where one exists."""
    pending = sorted(moves, key=lambda m: m.to_priority)
    occupied = {m.from_priority for m in moves}
    out: list[PriorityMove] = []
    while pending:
        ready = [m for m in pending if m.to_priority not in occupied]
        if not ready:  # a cycle (a swap): only the whole call's final state is conflict-free
            out += pending
            break
        move = ready[0]
        occupied.discard(move.from_priority)
        occupied.add(move.to_priority)
        out.append(move)
        pending.remove(move)
    return out


def schedule(
    first: list[Any],
    creates: list[CreateRule],
    moves: list[PriorityMove],
    deletes: list[DeleteRule],
    holders: dict[int, str],
    max_rules: int | None,
) -> list[Any]:
    """Order creates, the one reorder and deletes so that no call can collide."""
    ops = list(first)
    holders = dict(holders)
    creates = sorted(creates, key=lambda c: c.priority)
    deletes = sorted(deletes, key=lambda d: d.priority)
    movers = {m.rule_arn for m in moves}
    moves_pending = bool(moves)
    limit = max_rules if max_rules is not None else float("inf")
    while creates or moves_pending or deletes:
        progressed = False
        for create in list(creates):
            if create.priority not in holders and len(holders) < limit:
                ops.append(create)
                holders[create.priority] = f"new@{create.priority}"
                creates.remove(create)
                progressed = True
        if moves_pending and all(holders.get(m.to_priority) in (None, *movers) for m in moves):
            ops.append(SetRulePriorities(moves=_ordered_moves(moves)))
            holders = {p: arn for p, arn in holders.items() if arn not in movers}
            holders.update({m.to_priority: m.rule_arn for m in moves})
            moves_pending = False
            continue
        if progressed:
            continue
        needed = {c.priority for c in creates}
        if moves_pending:
            needed |= {m.to_priority for m in moves}
        blocking = [d for d in deletes if d.priority in needed]
        if blocking:
            chosen = [blocking[0]]
        elif creates and deletes:
            chosen = [deletes[0]]  # the rule quota is full: make room
        elif deletes:
            # Last of all, the rules a rollback could only recreate with an OIDC secret.
            chosen = sorted(deletes, key=lambda d: (bool(d.oidc_clients), d.priority))
        else:
            raise RestoreRefused(
                f"the plan needs {len(holders) + len(creates)} rules on the listener but the "
                f"load balancer's quota leaves room for {max_rules}; raise the quota "
                "(rules per Application Load Balancer) or restore fewer rules"
            )
        for delete in chosen:
            ops.append(delete)
            deletes.remove(delete)
            holders.pop(delete.priority, None)
    return ops


# --- the listener's own settings (format 2) -------------------------------------------------

#: Settings a plan compares, in the order they are shown, with their names in words.
SETTING_NAMES = {
    "protocol": "protocol",
    "port": "port",
    "ssl_policy": "SSL policy",
    "alpn_policy": "ALPN policy",
    "default_certificate": "default certificate",
    "certificates": "additional certificates",
    "mutual_authentication": "mutual TLS",
    "attributes": "attributes",
    "tags": "listener tags",
    "default_rule_tags": "default rule tags",
}


def settings_differ(have: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """The settings (keys of :data:`SETTING_NAMES`) that differ between two canonical
    ``ListenerSettings`` dicts; attributes compare by effective value (absent: default)."""
    out = []
    for key in SETTING_NAMES:
        if key == "attributes":
            if _attribute_changes(have.get("attributes") or {}, want.get("attributes") or {}):
                out.append(key)
        elif key == "mutual_authentication":
            if canonical_mutual_authentication(have.get(key)) != canonical_mutual_authentication(
                want.get(key)
            ):
                out.append(key)
        elif key in ("certificates", "tags", "default_rule_tags"):
            if (have.get(key) or None) != (want.get(key) or None):
                out.append(key)
        elif have.get(key) != want.get(key):
            out.append(key)
    return out


def _attribute_changes(have: dict[str, str], want: dict[str, str]) -> dict[str, str]:
    """Attributes to send: each whose effective value differs. A key the target does not
    name and whose default is unknown is left as it is (the snapshot did not hold it)."""
    out = {}
    for key in sorted(have.keys() | want.keys()):
        wanted = attribute_value(want, key)
        if wanted is not None and wanted != attribute_value(have, key):
            out[key] = wanted
    return out


def _tag_ops(
    arn: str | None, target: TagTarget, have: dict[str, str], want: dict[str, str]
) -> list[Any]:
    if arn is None:
        return []
    ops: list[Any] = []
    add = {k: v for k, v in sorted(want.items()) if have.get(k) != v}
    remove = sorted(k for k in have if k not in want)
    if add:
        ops.append(AddTags(rule_arn=arn, priority=0, tags=add, target=target))
    if remove:
        ops.append(RemoveTags(rule_arn=arn, priority=0, keys=remove, target=target))
    return ops


def plan_settings(
    listener_arn: str,
    default_rule_arn: str | None,
    have: dict[str, Any],
    want: dict[str, Any],
    listener_call: ModifyListener | None,
) -> list[Any]:
    """The calls that bring a listener's settings from ``have`` to ``want`` (canonical
    ``ListenerSettings`` dicts), with ``listener_call`` (the default actions' ModifyListener,
    or None) merged into the one ModifyListener. Nothing that does not change is sent.

    Order, so that no call meets a state AWS refuses: certificates to remove (never the one
    becoming the default) before the ModifyListener; HTTP to HTTPS sends protocol, default
    certificate, SSL policy and mutual TLS in that one call, as the API requires; HTTPS to
    HTTP sends the protocol alone (AWS drops the policy, the certificate and mutual TLS) after
    the additional certificates and the attributes are set while the listener still takes
    them; certificates to add after it; then the attributes (otherwise), then the tags."""
    secure_before = have["protocol"] in SECURE_PROTOCOLS
    secure_after = want["protocol"] in SECURE_PROTOCOLS
    modify: dict[str, Any] = {}
    for key in ("protocol", "port"):
        if have.get(key) != want.get(key):
            modify[key] = want[key]
    if secure_after:
        switching = not secure_before
        if want.get("ssl_policy") and (switching or have.get("ssl_policy") != want["ssl_policy"]):
            modify["ssl_policy"] = want["ssl_policy"]
        if want.get("alpn_policy") and have.get("alpn_policy") != want["alpn_policy"]:
            modify["alpn_policy"] = want["alpn_policy"]
        if want.get("default_certificate") and (
            switching or have.get("default_certificate") != want["default_certificate"]
        ):
            modify["default_certificate"] = want["default_certificate"]
        auth_have = canonical_mutual_authentication(have.get("mutual_authentication"))
        auth_want = canonical_mutual_authentication(want.get("mutual_authentication"))
        if (switching and auth_want is not None) or (not switching and auth_have != auth_want):
            modify["mutual_authentication"] = mutual_authentication_request(auth_want)
    ops_before: list[Any] = []
    ops_after: list[Any] = []
    new_default = want.get("default_certificate") if secure_after else None
    live_extra = set(have.get("certificates") or []) - {new_default}
    want_extra = set(want.get("certificates") or []) if secure_after else set()
    if secure_before:
        ops_before += [
            RemoveListenerCertificates(listener_arn=listener_arn, certificate=arn)
            for arn in sorted(live_extra - want_extra)
        ]
    ops_after += [
        AddListenerCertificates(listener_arn=listener_arn, certificate=arn)
        for arn in sorted(want_extra - (live_extra if secure_before else set()))
    ]
    attributes = _attribute_changes(have.get("attributes") or {}, want.get("attributes") or {})
    if attributes:
        op = ModifyListenerAttributes(listener_arn=listener_arn, attributes=attributes)
        (ops_before if secure_before and not secure_after else ops_after).append(op)
    call: list[Any] = []
    if modify or listener_call is not None:
        base = listener_call or ModifyListener(listener_arn=listener_arn)
        call = [base.model_copy(update=modify)]
    tags = _tag_ops(listener_arn, "listener", have.get("tags") or {}, want.get("tags") or {})
    tags += _tag_ops(
        default_rule_arn,
        "default-rule",
        have.get("default_rule_tags") or {},
        want.get("default_rule_tags") or {},
    )
    return ops_before + call + ops_after + tags


def plan_restore(
    live: ListenerState,
    desired: Desired,
    *,
    mode: Mode = "full",
    selector: Selector | None = None,
    oidc_secrets: dict[str, str] | None = None,
    max_listener_rules: int | None = None,
    on_missing_secret: Literal["refuse", "skip"] = "refuse",
) -> Plan:
    """Plan the calls that bring ``live`` to ``desired`` (all of it, or the selected rules).

    ``oidc_secrets`` maps OIDC client IDs to Secrets Manager ARNs. ``max_listener_rules`` is
    how many rules this listener may hold under the load balancer's quota (None: no limit).
    With ``on_missing_secret="skip"`` (rollback) a change that needs a secret nobody gave is
    left out and listed in ``unresolved`` instead of refusing the whole plan.
    """
    live_rules = [r.model_dump(mode="json", exclude_none=True) for r in live.rules]
    live_defaults = [a.model_dump(mode="json", exclude_none=True) for a in live.default_actions]
    listener_arn = live.source.listener_arn
    secrets = _Secrets(dict(oidc_secrets or {}))
    fixed: list[dict[str, Any]]
    if mode == "full":
        scope_l, scope_t, fixed = live_rules, list(desired.rules), []
    else:
        scope_l, scope_t, fixed = _selective_scope(
            live_rules, desired.rules, selector or Selector()
        )

    pairs, gone, new = match_rules(scope_l, scope_t)
    first: list[Any] = []
    changes: list[RuleChange] = []
    moves: list[PriorityMove] = []
    unresolved: list[str] = []

    listener_call: ModifyListener | None = None
    if mode == "full" and live_defaults != desired.default_actions:
        sources = secrets.sources(desired.default_actions, live_defaults, "the default actions")
        if sources is not None:
            listener_call = ModifyListener(
                listener_arn=listener_arn,
                default_actions=desired.default_actions,
                oidc=sources,
            )
        changes.append(
            RuleChange(
                kind="default-actions",
                label="default actions",
                fields=["actions"],
                before={"actions": live_defaults},
                after={"actions": desired.default_actions},
            )
        )

    settings = mode == "full" and desired.listener is not None and live.listener is not None
    if settings and desired.listener is not None and live.listener is not None:
        have = live.listener.model_dump(mode="json", exclude_none=True)
        differ = settings_differ(have, desired.listener)
        first += plan_settings(
            listener_arn, live.default_rule_arn, have, desired.listener, listener_call
        )
        if differ:
            changes.append(
                RuleChange(
                    kind="listener-settings",
                    label="listener settings",
                    fields=differ,
                    before={k: have.get(k) for k in differ},
                    after={k: desired.listener.get(k) for k in differ},
                )
            )
    elif listener_call is not None:
        first.append(listener_call)

    for old, want in pairs:
        label = rule_label(want)
        fields = []
        modify: dict[str, Any] = {}
        if old["conditions"] != want["conditions"]:
            modify["conditions"] = want["conditions"]
            fields.append("conditions")
        if old["actions"] != want["actions"]:
            modify["actions"] = want["actions"]
            fields.append("actions")
        if old["transforms"] != want["transforms"]:
            if want["transforms"]:
                modify["transforms"] = want["transforms"]
            else:
                modify["reset_transforms"] = True
            fields.append("transforms")
        if modify:
            sources = {}
            if "actions" in modify:
                sources = secrets.sources(want["actions"], old["actions"], label)
            if sources is None:
                unresolved.append(f"modify {label}: needs an OIDC client secret")
            else:
                first.append(
                    ModifyRule(
                        rule_arn=old["arn"], priority=old["priority"], oidc=sources, **modify
                    )
                )
        add = {k: v for k, v in want["tags"].items() if old["tags"].get(k) != v}
        remove = sorted(k for k in old["tags"] if k not in want["tags"])
        if add:
            first.append(AddTags(rule_arn=old["arn"], priority=old["priority"], tags=add))
        if remove:
            first.append(RemoveTags(rule_arn=old["arn"], priority=old["priority"], keys=remove))
        if add or remove:
            fields.append("tags")
        if old["priority"] != want["priority"]:
            moves.append(
                PriorityMove(
                    rule_arn=old["arn"],
                    from_priority=old["priority"],
                    to_priority=want["priority"],
                )
            )
            fields.append("priority")
        if fields:
            changes.append(
                RuleChange(
                    kind="move" if fields == ["priority"] else "modify",
                    label=label,
                    fields=fields,
                    before=_strip_arn(old),
                    after=want,
                )
            )

    creates = []
    for want in new:
        label = rule_label(want)
        sources = secrets.sources(want["actions"], [], label)
        if sources is None:
            unresolved.append(f"create {label}: needs an OIDC client secret")
            continue
        creates.append(
            CreateRule(
                listener_arn=listener_arn,
                priority=want["priority"],
                conditions=want["conditions"],
                actions=want["actions"],
                transforms=want["transforms"],
                tags=want["tags"],
                oidc=sources,
            )
        )
        changes.append(RuleChange(kind="create", label=label, fields=["rule"], after=want))
    deletes = []
    for old in gone:
        deletes.append(
            DeleteRule(
                rule_arn=old["arn"],
                priority=old["priority"],
                conditions=old["conditions"],
                oidc_clients=[
                    a["AuthenticateOidcConfig"]["ClientId"]
                    for a in old["actions"]
                    if a["Type"] == "authenticate-oidc"
                ],
            )
        )
        changes.append(
            RuleChange(
                kind="delete", label=rule_label(old), fields=["rule"], before=_strip_arn(old)
            )
        )

    if secrets.missing and on_missing_secret == "refuse":
        needs = "; ".join(
            f"{where} uses OIDC client {client!r}" for client, where in secrets.missing
        )
        clients = sorted({client for client, _ in secrets.missing})
        example = " ".join(f"--oidc-secret {c}=SECRET_ARN" for c in clients)
        raise RestoreRefused(
            f"{needs}; AWS never returns OIDC client secrets, so creating or changing it needs "
            f"the secret from Secrets Manager: pass {example}"
        )

    holders = {r["priority"]: r["arn"] for r in live_rules}
    operations = schedule(first, creates, moves, deletes, holders, max_listener_rules)
    expected_rules = sorted(
        [_strip_arn(r) for r in fixed] + list(scope_t), key=lambda r: r["priority"]
    )
    expected = Desired(
        default_actions=desired.default_actions if mode == "full" else live_defaults,
        rules=expected_rules,
        listener=desired.listener if settings else None,
    )
    changes.sort(key=_change_order)
    return Plan(
        listener_arn=listener_arn,
        mode=mode,
        operations=operations,
        changes=changes,
        expected=expected,
        unresolved=unresolved,
    )


def _change_order(change: RuleChange) -> tuple[int, int]:
    rule = change.after or change.before or {}
    first = {"listener-settings": -1, "default-actions": 0}
    return (first.get(change.kind, 1), rule.get("priority", 0))
