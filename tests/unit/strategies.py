"""Random listeners for the unit tier's property tests (no AWS emulator).

The same shapes as tests/listeners.py (which imports the moto fixtures, so it cannot be used
here), plus OIDC actions (their client secrets must flow through the plan) and priorities at
the ends of the range. A ``Case`` seeds an ``Elbv2Model`` with listener A through the API and
gives the planner's inputs for B.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from albrules.canonical import canonical_actions, canonical_rule
from albrules.models import ListenerState
from albrules.plan import Desired, Selector
from listener_specs import Spec, strategies
from rule_builders import (
    CONDITION_POOL,
    TRANSFORM,
    fixed,
    forward,
    redirect,
)

from .elbv2_model import ACCOUNT, REGION, Elbv2Model, capture_state

TG_PREFIX = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup"
GROUPS = [
    f"{TG_PREFIX}/tg0/0123456789abcdef",
    f"{TG_PREFIX}/tg1/1123456789abcdef",
    f"{TG_PREFIX}/tg2/2123456789abcdef",
]
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:web-oidc-AbCdEf"
SECRET_VALUE = "s3cr3t-from-secrets-manager"
SEEDED_SECRET = "the-secret-already-on-the-load-balancer"
OIDC_SECRETS = {"web": SECRET_ARN}
SECRET_VALUES = {SECRET_ARN: SECRET_VALUE}


def oidc(client: str = "web", order: int = 1, secret: str = SEEDED_SECRET) -> dict[str, Any]:
    """An authenticate-oidc action in the write form a seed uses (with its secret)."""
    return {
        "Type": "authenticate-oidc",
        "Order": order,
        "AuthenticateOidcConfig": {
            "Issuer": "https://idp.example.com",
            "AuthorizationEndpoint": "https://idp.example.com/authorize",
            "TokenEndpoint": "https://idp.example.com/token",
            "UserInfoEndpoint": "https://idp.example.com/userinfo",
            "ClientId": client,
            "ClientSecret": secret,
        },
    }


ACTION_COUNT = 7
DEFAULT_POOL: list[list[dict[str, Any]]] = [
    [fixed("404")],
    [forward(GROUPS[0])],
    [redirect(Protocol="HTTPS", Port="443")],
    [oidc(), {**forward(GROUPS[1]), "Order": 2}],
]


def actions_for(index: int) -> list[dict[str, Any]]:
    kinds = [
        [fixed("200")],
        [fixed("503")],
        [forward(GROUPS[0])],
        [forward((GROUPS[0], 3), (GROUPS[1], 1))],
        [forward((GROUPS[1], 1), (GROUPS[2], 1), sticky=120)],
        [redirect(Host="new.example.com")],
        [oidc(), {**forward(GROUPS[2]), "Order": 2}],
    ]
    return kinds[index % len(kinds)]


# At most two tags from three keys and two values (drawn from a list: a filtered draw of unique
# keys costs more than the rest of an example).
TAG_SETS: list[tuple[tuple[str, str], ...]] = [()] + [
    tuple(zip(keys, values, strict=True))
    for n in (1, 2)
    for keys in itertools.combinations(("cost", "env", "team"), n)
    for values in itertools.product("ab", repeat=n)
]
priorities = st.integers(1, 30) | st.sampled_from([1, 49999, 50000])

_drawn = strategies(
    priorities=priorities,
    action_count=ACTION_COUNT,
    tags=st.sampled_from(TAG_SETS),
    max_rules=10,
)
specs, listeners, listener_pairs = _drawn.specs, _drawn.listeners, _drawn.listener_pairs


def rule_dict(spec: Spec) -> dict[str, Any]:
    """The rule in the write form (an OIDC action carries its seeded secret)."""
    return {
        "priority": spec.priority,
        "conditions": CONDITION_POOL[spec.condition],
        "actions": actions_for(spec.action),
        "transforms": TRANSFORM if spec.transform else [],
        "tags": dict(spec.tags),
    }


def seed(model: Elbv2Model, items: list[Spec]) -> None:
    """Create A's rules through the model's API, as a person or a deploy would."""
    for spec in items:
        rule = rule_dict(spec)
        kwargs: dict[str, Any] = {
            "ListenerArn": model.listener_arn,
            "Priority": rule["priority"],
            "Conditions": rule["conditions"],
            "Actions": rule["actions"],
        }
        if rule["tags"]:
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in rule["tags"].items()]
        if rule["transforms"]:
            kwargs["Transforms"] = rule["transforms"]
        model.create_rule(**kwargs)


def desired_of(items: list[Spec], default: int) -> Desired:
    """The planner's target for B: what ``desired_from_snapshot`` gives (target groups kept)."""
    rules = sorted((canonical_rule(rule_dict(s)) for s in items), key=lambda r: r["priority"])
    return Desired(default_actions=canonical_actions(DEFAULT_POOL[default]), rules=rules)


@dataclass
class Case:
    """A live listener A (in a fresh model) and a target B, with the load balancer's quota."""

    a: list[Spec]
    b: list[Spec]
    default_a: int
    default_b: int
    other_rules: int
    room: int  # rules this listener may hold: the quota less the other listeners' rules
    atomic_priorities: bool = True

    def model(self) -> Elbv2Model:
        model = Elbv2Model(
            DEFAULT_POOL[self.default_a],
            rules_per_load_balancer=self.room + self.other_rules,
            other_rules=self.other_rules,
            target_groups=GROUPS,
            atomic_priorities=self.atomic_priorities,
        )
        seed(model, self.a)
        model.calls.clear()
        return model

    def live(self, model: Elbv2Model) -> ListenerState:
        state = capture_state(model, model.listener_arn)
        model.calls.clear()
        return state

    def desired(self) -> Desired:
        return desired_of(self.b, self.default_b)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    a, b = draw(listener_pairs())
    need = max(len(a), len(b))
    # Mostly room enough for the plan; sometimes exactly enough; sometimes too little for B.
    room = draw(
        st.one_of(
            st.integers(need, need + 3),
            st.just(need),
            st.integers(len(a), max(len(a), need - 1)),
        )
    )
    return Case(
        a=a,
        b=b,
        default_a=draw(st.integers(0, len(DEFAULT_POOL) - 1)),
        default_b=draw(st.integers(0, len(DEFAULT_POOL) - 1)),
        other_rules=draw(st.integers(0, 5)),
        room=room,
    )


@st.composite
def selectors(draw: st.DrawFn, case: Case) -> Selector:
    """Priorities of A or B (and sometimes a --match on a pool value): what a person picks."""
    known = sorted({s.priority for s in case.a} | {s.priority for s in case.b})
    chosen = (
        draw(st.lists(st.sampled_from(known), min_size=1, max_size=3, unique=True)) if known else []
    )
    matches: list[str] = []
    if draw(st.integers(0, 3)) == 0 or not chosen:
        matches.append(
            draw(
                st.sampled_from(
                    [
                        "path-pattern=/a/*",
                        "host-header=D.example.com",
                        "http-header=X-Env:prod",
                        "query-string=v=2",
                        "path-pattern=^/r[0-9]+$",
                        "http-request-method=POST",
                    ]
                )
            )
        )
    return Selector.parse(chosen, matches)
