"""Random listeners for property tests, and helpers to build them in the local AWS."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from albrules.canonical import canonical_rule, conditions_key
from albrules.local.elbv2 import elbv2_models
from albrules.models import ListenerState, Snapshot
from albrules.snapshot import build_snapshot
from listener_specs import Spec, strategies
from local_world import World
from rule_builders import CONDITION_POOL, TRANSFORM, fixed, forward, redirect


def action_for(index: int, groups: list[str]) -> dict[str, Any]:
    kinds = [
        fixed("200"),
        fixed("503"),
        forward(groups[0]),
        forward((groups[0], 3), (groups[1], 1)),
        forward((groups[1], 1), (groups[2], 1), sticky=120),
        redirect(Host="new.example.com"),
    ]
    return kinds[index % len(kinds)]


_drawn = strategies(
    priorities=st.integers(1, 30),
    action_count=6,
    tags=st.lists(
        st.tuples(st.sampled_from(["team", "env", "cost"]), st.sampled_from(["a", "b"])),
        max_size=2,
        unique_by=lambda t: t[0],
    ).map(tuple),
    max_rules=9,
)
specs, listeners, listener_pairs = _drawn.specs, _drawn.listeners, _drawn.listener_pairs


def rule_dict(spec: Spec, groups: list[str]) -> dict[str, Any]:
    return {
        "priority": spec.priority,
        "conditions": CONDITION_POOL[spec.condition],
        "actions": [action_for(spec.action, groups)],
        "transforms": TRANSFORM if spec.transform else [],
        "tags": dict(spec.tags),
    }


@dataclass
class Bench:
    """A load balancer with target groups where listeners come and go, one per example."""

    world: World
    lb: str = ""
    groups: list[str] = field(default_factory=list)
    port: int = 1000

    def __post_init__(self) -> None:
        self.lb = self.world.load_balancer("bench")
        self.groups = [self.world.target_group(f"tg{i}") for i in range(3)]

    def listener(self, items: list[Spec]) -> str:
        self.port += 1
        arn = self.world.listener(self.lb, self.port)
        for spec in items:
            rule = rule_dict(spec, self.groups)
            self.world.rule(
                arn,
                spec.priority,
                rule["conditions"],
                rule["actions"],
                rule["tags"],
                rule["transforms"],
            )
        return arn

    def drop(self, listener: str) -> None:
        self.world.elb.delete_listener(ListenerArn=listener)

    def snapshot(self, items: list[Spec], listener: str) -> Snapshot:
        """The snapshot a backup of ``items`` in ``listener`` would have written."""
        state = self.world.state(listener)
        rules = [
            {**canonical_rule(rule_dict(s, self.groups)), "arn": f"{listener}/r{i}"}
            for i, s in enumerate(items)
        ]
        fake = ListenerState.model_validate(
            {
                **state.model_dump(mode="json", exclude_none=True),
                "rules": sorted(rules, key=lambda r: r["priority"]),
            }
        )
        return build_snapshot(fake)


def content(state: ListenerState) -> list[dict[str, Any]]:
    """A listener's rules without ARNs, by priority: what 'equal' means for routing."""
    return [
        {k: v for k, v in r.model_dump(mode="json", exclude_none=True).items() if k != "arn"}
        for r in state.rules
    ]


def live_keys(listener: str) -> set[str]:
    """Condition keys present in the listener right now, read from the emulator itself."""
    backend = elbv2_models.elbv2_backends["123456789012"]["us-east-1"]
    for balancer in backend.load_balancers.values():
        if listener in balancer.listeners:
            rules = balancer.listeners[listener].rules.values()
            return {conditions_key(r.conditions) for r in rules if not r.is_default}
    return set()


def keys_of(items: list[Spec]) -> set[str]:
    return {conditions_key(CONDITION_POOL[s.condition]) for s in items}
