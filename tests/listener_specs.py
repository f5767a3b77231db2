"""Random listeners, abstractly, for the planner's properties in every tier (no AWS emulator):
a ``Spec`` per rule, and the strategies that draw listeners and (A, B) pairs of them. Each tier
says how wide to draw (priorities, actions, tags) and builds the rules its own way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import strategies as st

from rule_builders import CONDITION_POOL


@dataclass(frozen=True)
class Spec:
    """One rule, abstractly: which conditions, actions, tags and transform, at which priority."""

    priority: int
    condition: int
    action: int
    tags: tuple[tuple[str, str], ...] = ()
    transform: bool = False


def unique_priorities(items: list[Spec]) -> list[Spec]:
    """The specs with the first of each priority (a listener's priorities are unique)."""
    seen: set[int] = set()
    out = []
    for item in items:
        if item.priority not in seen:
            seen.add(item.priority)
            out.append(item)
    return out


@dataclass(frozen=True)
class Strategies:
    specs: st.SearchStrategy[Spec]
    listeners: st.SearchStrategy[list[Spec]]
    listener_pairs: Callable[[], st.SearchStrategy[tuple[list[Spec], list[Spec]]]]


def strategies(
    *,
    priorities: st.SearchStrategy[int],
    action_count: int,
    tags: st.SearchStrategy[tuple[tuple[str, str], ...]],
    max_rules: int,
) -> Strategies:
    """Specs, listeners of at most ``max_rules`` rules, and (A, B) listener pairs."""
    specs = st.builds(
        Spec,
        priority=priorities,
        condition=st.integers(0, len(CONDITION_POOL) - 1),
        action=st.integers(0, action_count - 1),
        tags=tags,
        transform=st.booleans(),
    )
    listeners = st.lists(specs, max_size=max_rules).map(unique_priorities)

    @st.composite
    def listener_pairs(draw: Any) -> tuple[list[Spec], list[Spec]]:
        """(A, B): B is A after a random mix of edits, or an unrelated listener."""
        a = draw(listeners)
        if draw(st.integers(0, 5)) == 0:
            return a, draw(listeners)
        b = []
        for item in a:
            change = draw(
                st.sampled_from(["keep", "keep", "delete", "action", "tags", "move", "transform"])
            )
            if change == "delete":
                continue
            if change == "action":
                item = replace(item, action=draw(st.integers(0, action_count - 1)))
            elif change == "tags":
                item = replace(item, tags=(("team", draw(st.sampled_from(["x", "y"]))),))
            elif change == "move":
                item = replace(item, priority=draw(priorities))
            elif change == "transform":
                item = replace(item, transform=not item.transform)
            b.append(item)
        b += draw(st.lists(specs, max_size=3))
        draw(st.randoms()).shuffle(b)
        return a, unique_priorities(b)

    return Strategies(specs, listeners, listener_pairs)
