"""Rules someone else owns: the AWS Load Balancer Controller and CloudFormation put back what
they manage, so a restore that changes one of their rules is undone at their next reconcile.

A rule (or the listener, for its default actions and settings) is *managed* when its tags say
who owns it:

- the AWS Load Balancer Controller tags what it creates with ``elbv2.k8s.aws/cluster`` (the
  cluster's name), ``ingress.k8s.aws/stack`` (the ingress group, or namespace/name) and
  ``ingress.k8s.aws/resource``;
- CloudFormation adds ``aws:cloudformation:stack-name`` (and ``stack-id``, ``logical-id``) to
  the resources of a stack where the resource type propagates stack-level tags. Whether
  ``AWS::ElasticLoadBalancingV2::ListenerRule`` carries them is not documented (the resource
  has no ``Tags`` property): a rule is taken as CloudFormation's only when the tag is there.

:func:`plan_owned` plans as :func:`albrules.plan.plan_restore` does and adds a warning per
owner whose rules the plan changes (modify, move, tags, delete; the default actions and
settings when the listener itself is managed). The restore still proceeds; with
``skip_managed`` managed rules are left out of the plan altogether (never touched), and the
warnings say what was left out.

Capture keeps no ``aws:`` tag (AWS manages them, and a restore could not write them back), so
the owners are read with their own DescribeTags (:func:`owner_tags_reader`): for the rules a
plan changes, or, with ``skip_managed``, for every rule of the listener.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from .aws import Aws, as_albrules_error
from .canonical import canonical_json
from .labels import rule_label
from .models import ListenerState
from .operations import CreateRule, Operation, SetRulePriorities
from .plan import CLI_NAMES, Desired, Plan, match_rules, plan_restore

Kind = Literal["aws-load-balancer-controller", "cloudformation"]

CONTROLLER_TAGS = ("elbv2.k8s.aws/cluster", "ingress.k8s.aws/stack", "ingress.k8s.aws/resource")
CLOUDFORMATION_TAGS = (
    "aws:cloudformation:stack-name",
    "aws:cloudformation:stack-id",
    "aws:cloudformation:logical-id",
)


@dataclass(frozen=True, order=True)
class Owner:
    """Who manages a rule or listener, from its tags: the controller of a cluster (and its
    ingress stack), or a CloudFormation stack."""

    kind: Kind
    name: str  # the cluster's name, or the stack's
    stack: str | None = None  # the controller's ingress stack (group or namespace/name)

    def describe(self) -> str:
        if self.kind == "cloudformation":
            return f"CloudFormation stack {self.name}"
        stack = f", ingress stack {self.stack}" if self.stack else ""
        return f"the AWS Load Balancer Controller (cluster {self.name}{stack})"

    def reverts(self) -> str:
        """What happens to a change it does not know about, and where to fix it instead."""
        if self.kind == "cloudformation":
            return (
                "CloudFormation will revert the change at its next reconcile (the stack's next "
                f"update) unless it is fixed at the source (stack {self.name}'s template)"
            )
        return (
            "the controller will revert the change at its next reconcile unless it is fixed at "
            f"the source (the Ingress resources in cluster {self.name})"
        )


def _tag(tags: dict[str, str], key: str) -> str | None:
    """A tag's value; keys compare case-insensitively (``aws:`` is, and a stray capital in a
    controller's key should not hide an owner)."""
    for k, v in tags.items():
        if k.lower() == key:
            return v
    return None


def owner_of(tags: dict[str, str]) -> Owner | None:
    """The owner these tags name, or None. The controller wins over CloudFormation (a
    controller run by a stack still reconciles the rules itself)."""
    cluster = _tag(tags, "elbv2.k8s.aws/cluster")
    stack = _tag(tags, "ingress.k8s.aws/stack")
    if cluster or stack or _tag(tags, "ingress.k8s.aws/resource"):
        return Owner("aws-load-balancer-controller", cluster or "(unnamed)", stack)
    name = _tag(tags, "aws:cloudformation:stack-name")
    if name is None:
        stack_id = _tag(tags, "aws:cloudformation:stack-id")
        if stack_id:  # arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/ID
            parts = stack_id.split("/")
            name = parts[1] if len(parts) > 2 else stack_id
    if name is None and _tag(tags, "aws:cloudformation:logical-id"):
        name = "(unnamed)"
    return Owner("cloudformation", name) if name else None


#: All of a resource's tags by ARN, ``aws:`` ones included (see :func:`owner_tags_reader`).
OwnerTags = Callable[[list[str]], dict[str, dict[str, str]]]
TAGS_BATCH = 20  # DescribeTags takes at most 20 ARNs


def owner_tags_reader(aws: Aws) -> OwnerTags:
    """A reader of the tags that name owners (every tag, ``aws:`` ones included), in batches
    of 20 ARNs, each ARN read once however often it is asked for."""
    seen: dict[str, dict[str, str]] = {}

    def read(arns: list[str]) -> dict[str, dict[str, str]]:
        wanted = sorted({a for a in arns if a not in seen})
        for start in range(0, len(wanted), TAGS_BATCH):
            batch = wanted[start : start + TAGS_BATCH]
            try:
                page = aws.elbv2.describe_tags(ResourceArns=batch)
            except (ClientError, BotoCoreError) as err:
                raise as_albrules_error(err, where="the tags that name rules' owners") from err
            for arn in batch:
                seen[arn] = {}
            for item in page.get("TagDescriptions", []):
                seen[item["ResourceArn"]] = {
                    t["Key"]: t.get("Value", "") for t in item.get("Tags", [])
                }
        return {a: seen.get(a, {}) for a in arns}

    return read


@dataclass(frozen=True)
class Ownership:
    """The owners of a live listener's rules (by rule ARN) and of the listener itself."""

    rules: dict[str, Owner]
    listener: Owner | None
    listener_arn: str
    default_rule_arn: str | None

    @classmethod
    def of(cls, live: ListenerState, tags: dict[str, dict[str, str]] | None = None) -> Ownership:
        """From the live tags, and ``tags`` read with :func:`owner_tags_reader` (by ARN)."""
        tags = tags or {}
        rules = {
            r.arn: o
            for r in live.rules
            if (o := owner_of({**r.tags, **tags.get(r.arn, {})})) is not None
        }
        settings = getattr(live, "listener", None)
        own = dict(settings.tags) if settings is not None else {}
        own.update(tags.get(live.source.listener_arn, {}))
        listener = owner_of(own)
        return cls(rules, listener, live.source.listener_arn, live.default_rule_arn)

    def of_arn(self, arn: str) -> Owner | None:
        if arn in self.rules:
            return self.rules[arn]
        if arn in (self.listener_arn, self.default_rule_arn):
            return self.listener
        return None


def _arns(op: Operation) -> list[str]:
    """The existing resources a call changes (a created rule is not one)."""
    if isinstance(op, CreateRule):
        return []
    if isinstance(op, SetRulePriorities):
        return [m.rule_arn for m in op.moves]
    return [a for a in (getattr(op, "rule_arn", None), getattr(op, "listener_arn", None)) if a]


def _what(labels: list[str]) -> str:
    if len(labels) == 1:
        return labels[0]
    return ", ".join(labels[:-1]) + f" and {labels[-1]}"


def warnings_for(
    plan: Plan,
    live: ListenerState,
    option: str = "--skip-managed",
    owner_tags: OwnerTags | None = None,
) -> list[str]:
    """One warning per owner whose rules (or listener) the plan changes."""
    tags = (
        owner_tags(sorted({a for op in plan.operations for a in _arns(op)}))
        if (owner_tags and plan.operations)
        else {}
    )
    ownership = Ownership.of(live, tags)
    if not ownership.rules and ownership.listener is None:
        return []
    by_arn = {r.arn: r for r in live.rules}
    touched: dict[Owner, dict[str, None]] = {}
    for op in plan.operations:
        for arn in _arns(op):
            owner = ownership.of_arn(arn)
            if owner is None:
                continue
            rule = by_arn.get(arn)
            label = f"the rule at {rule_label(_plain(rule))}" if rule else "the listener's settings"
            if rule is None and getattr(op, "default_actions", None) is not None:
                label = "the default actions"
            touched.setdefault(owner, {})[label] = None
    return [
        f"{_what(list(labels))} {'is' if len(labels) == 1 else 'are'} managed by "
        f"{owner.describe()}: {owner.reverts()}; the restore still changes "
        f"{'it' if len(labels) == 1 else 'them'} ({option} leaves managed rules out)"
        for owner, labels in sorted(touched.items())
    ]


def _plain(rule: Any) -> dict[str, Any]:
    raw: dict[str, Any] = rule.model_dump(mode="json", exclude_none=True)
    raw.pop("arn", None)
    return raw


def without_managed(
    live: ListenerState,
    desired: Desired,
    mode: str = "full",
    owner_tags: OwnerTags | None = None,
) -> tuple[ListenerState, Desired, list[str]]:
    """The live listener without its managed rules, the target without the rules that would
    change them (the snapshot's counterpart of a managed rule, or a rule wanted at a priority
    one holds), and what was left out, in words. A managed listener keeps its default actions
    (and settings)."""
    arns = [live.source.listener_arn, *(r.arn for r in live.rules)]
    ownership = Ownership.of(live, owner_tags(arns) if owner_tags else None)
    managed = [r for r in live.rules if r.arn in ownership.rules]
    if not managed and ownership.listener is None:
        return live, desired, []
    pairs, gone, _new = match_rules(
        [{**_plain(r), "arn": r.arn} for r in live.rules], list(desired.rules)
    )
    paired = {old["arn"]: want for old, want in pairs}
    held = {r.priority for r in managed}
    dropped: set[int] = set()  # indexes into desired.rules
    notes: list[str] = []
    for rule in managed:
        owner = ownership.rules[rule.arn]
        want = paired.get(rule.arn)
        if want is not None:
            dropped.add(next(i for i, t in enumerate(desired.rules) if t is want))
            if canonical_json(_plain(rule)) != canonical_json(want):
                notes.append(
                    f"left out: the rule at {rule_label(_plain(rule))}, managed by "
                    f"{owner.describe()}, differs from the snapshot and is not changed"
                )
        elif any(g["arn"] == rule.arn for g in gone):
            notes.append(
                f"left out: the rule at {rule_label(_plain(rule))}, managed by "
                f"{owner.describe()}, is not in the snapshot and is not deleted"
            )
    for i, want in enumerate(desired.rules):
        if i not in dropped and want["priority"] in held:
            dropped.add(i)
            notes.append(
                f"left out: the snapshot's rule at {rule_label(want)}; its priority is held by a "
                "managed rule, which is not changed"
            )
    update: dict[str, Any] = {"rules": [t for i, t in enumerate(desired.rules) if i not in dropped]}
    if ownership.listener is not None:
        live_defaults = [a.model_dump(mode="json", exclude_none=True) for a in live.default_actions]
        if mode == "full" and canonical_json(live_defaults) != canonical_json(
            desired.default_actions
        ):
            notes.append(
                f"left out: the default actions, managed by {ownership.listener.describe()}, "
                "differ from the snapshot and are not changed"
            )
        update["default_actions"] = live_defaults
        if "listener" in Desired.model_fields:  # format 2: the listener's settings too
            update["listener"] = None
    kept = live.model_copy(
        update={"rules": [r for r in live.rules if r.arn not in ownership.rules]}
    )
    return kept, desired.model_copy(update=update), notes


def plan_owned(
    live: ListenerState,
    desired: Desired,
    *,
    skip_managed: bool = False,
    names: dict[str, str] = CLI_NAMES,
    max_listener_rules: int | None = None,
    owner_tags: OwnerTags | None = None,
    **kwargs: Any,
) -> Plan:
    """:func:`~albrules.plan.plan_restore` with managed rules warned about, or (with
    ``skip_managed``) left out: then no call of the plan touches a managed rule, and the
    plan's expected state keeps them as they are. ``owner_tags`` reads the tags capture
    leaves out (:func:`owner_tags_reader`); without it, the live state's tags alone."""
    option = names.get("skip_managed", "--skip-managed")
    if not skip_managed:
        plan = plan_restore(live, desired, max_listener_rules=max_listener_rules, **kwargs)
        warnings = warnings_for(plan, live, option, owner_tags)
        return plan.model_copy(update={"warnings": warnings})
    kept, target, notes = without_managed(live, desired, kwargs.get("mode", "full"), owner_tags)
    managed = [r for r in live.rules if r not in kept.rules]
    room = None if max_listener_rules is None else max(0, max_listener_rules - len(managed))
    plan = plan_restore(kept, target, max_listener_rules=room, **kwargs)
    expected_rules = sorted(
        list(plan.expected.rules) + [_plain(r) for r in managed], key=lambda r: r["priority"]
    )
    expected = plan.expected.model_copy(update={"rules": expected_rules})
    return plan.model_copy(update={"expected": expected, "warnings": notes})
