"""Sliced apply (issue 13, section 4): the deadline math of ``albrules.slices``, and a plan
applied in slices over the ELBv2 model, cut off anywhere (the call made or not), resumed from
the journal: it ends at the plan's target with each call made once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from albrules.canonical import canonical_rule
from albrules.errors import ApplyFailed, RestoreRefused
from albrules.operations import CreateRule, DeleteRule, SetRulePriorities, request_for
from albrules.plan import Desired, Plan, plan_restore
from albrules.restore import (
    apply_with_journal,
    differences,
    resume_after_retry,
    with_in_flight,
)
from albrules.slices import JOURNAL_RESERVE_SECONDS, Deadline
from rule_builders import fixed, path

from .elbv2_model import Elbv2Model, capture_state
from .profiles import PROFILE
from .strategies import OIDC_SECRETS, SECRET_VALUES, Case, cases

READ_BACK = (CreateRule, DeleteRule, SetRulePriorities)


@dataclass
class ModelAws:
    elbv2: Elbv2Model
    region: str = "us-east-1"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Context:
    """A Lambda context whose time left is set by the test."""

    def __init__(self, millis: int) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


# --- the deadline ---------------------------------------------------------------------------


def test_the_margin_is_the_slowest_step_times_the_factor_plus_the_reserve() -> None:
    clock = Clock()
    deadline = Deadline.after(300, clock=clock)
    assert deadline.reserve == JOURNAL_RESERVE_SECONDS  # 5 s of a 300 s function
    assert deadline.margin == 5.0 and deadline.room_for_another()
    deadline.record(0.2)
    deadline.record(1.5)
    deadline.record(0.1)
    assert deadline.slowest == 1.5 and deadline.margin == pytest.approx(1.5 * 3 + 5)
    clock.now = 300 - 9.6  # 9.6 s left: more than the 9.5 s margin
    assert deadline.room_for_another()
    clock.now = 300 - 9.4
    assert not deadline.room_for_another()
    assert "slowest step 1.500 s x 3" in deadline.why_stopped()


def test_a_short_timeout_keeps_a_quarter_of_it_as_reserve() -> None:
    assert Deadline.of_lambda(Context(2000)).reserve == pytest.approx(0.5)  # type: ignore[union-attr]
    assert Deadline.of_lambda(Context(300_000)).reserve == JOURNAL_RESERVE_SECONDS  # type: ignore[union-attr]
    context = Context(2000)
    deadline = Deadline.of_lambda(context)
    assert deadline is not None and deadline.room_for_another()
    context.millis = 400  # under the reserve: no room
    assert not deadline.room_for_another()


def test_without_a_lambda_context_there_is_no_deadline() -> None:
    assert Deadline.of_lambda(None) is None
    assert Deadline.of_lambda(object()) is None


# --- slices over the model ------------------------------------------------------------------


def after_steps(n: int) -> Deadline:
    """A deadline with room for ``n`` steps in its slice (whatever they take)."""
    deadline = Deadline(lambda: 1.0 if deadline.steps < n else 0.0, reserve=0.5, factor=0)
    return deadline


class Crash(BaseException):
    """The invocation killed around a call (a timeout, the Lambda service)."""


def planned(case: Case) -> tuple[Elbv2Model, Plan]:
    model = case.model()
    try:
        plan = plan_restore(
            case.live(model),
            case.desired(),
            oidc_secrets=OIDC_SECRETS,
            max_listener_rules=case.room,
        )
    except RestoreRefused:
        assume(False)
        raise
    assume(len(plan.operations) >= 2)
    return model, plan


def calls_made(model: Elbv2Model) -> int:
    return len(model.mutations())


@settings(PROFILE, max_examples=60)
@given(
    case=cases(),
    sizes=st.lists(st.integers(1, 4), min_size=1, max_size=6),
    crash_at=st.integers(1, 40),
    landed=st.booleans(),
)
def test_a_plan_in_slices_cut_off_anywhere_resumes_to_its_target_with_each_call_once(
    case: Case, sizes: list[int], crash_at: int, landed: bool
) -> None:
    model, plan = planned(case)
    total = len(plan.operations)
    crash_at = min(crash_at, total)
    aws: Any = ModelAws(model)
    journal: list[dict[str, Any]] = []
    marks: list[dict[str, Any]] = []

    def mark(journal: list[dict[str, Any]]) -> None:  # the write-ahead mark, then maybe death
        done = sum(1 for e in journal if e.get("step") and e["status"] == "done")
        marks.append({"entry": dict(journal[-1]), "done": done})
        if journal[-1]["step"] == crash_at and not crashed:
            if landed:  # the call reached AWS before the invocation died
                method, kwargs = request_for(plan.operations[crash_at - 1], SECRET_VALUES)
                getattr(model, method)(**kwargs)
            raise Crash

    crashed = False
    slices = 0
    start = 1
    while True:
        slices += 1
        assert slices <= total + 3, "the slices do not move the plan on"
        stored = [dict(e) for e in journal]  # what the last slice stored
        deadline = after_steps(sizes[(slices - 1) % len(sizes)])
        try:
            if apply_with_journal(
                aws, plan, SECRET_VALUES, journal, before_call=mark, deadline=deadline, start=start
            ):
                break
        except Crash:
            crashed = True
            # Killed: nothing stored but the marks; the next slice rebuilds from them.
            journal = with_in_flight(plan, stored, marks[-1])
        start = resume_after_retry(aws, plan, journal)

    assert not differences(plan.expected, capture_state(model, model.listener_arn))
    # Each call once; a call in doubt that landed is read back (never sent again) unless it
    # only sets what it sets (ModifyRule, ModifyListener, tags): that one is sent again.
    op = plan.operations[crash_at - 1]
    resent = crashed and landed and not isinstance(op, READ_BACK)
    assert calls_made(model) == total + resent
    done = [e["step"] for e in journal if e.get("step") and e["status"] == "done"]
    assert done == list(range(1, total + 1))


def test_a_journal_out_of_order_or_ending_in_a_failure_is_not_resumed() -> None:
    model = Elbv2Model()
    aws: Any = ModelAws(model)
    fake = _two_step_plan(model)
    with pytest.raises(ApplyFailed, match="in order"):
        resume_after_retry(aws, fake, [{"phase": "restore", "step": 2, "status": "done"}])
    with pytest.raises(ApplyFailed, match="ended at step 1 of 2 \\(failed\\)"):
        resume_after_retry(aws, fake, [{"phase": "restore", "step": 1, "status": "failed"}])
    assert resume_after_retry(aws, fake, []) == 1
    assert resume_after_retry(aws, fake, [{"phase": "restore", "step": 1, "status": "done"}]) == 2


def _two_step_plan(model: Elbv2Model) -> Plan:
    live = capture_state(model, model.listener_arn)
    rules = [
        {
            "priority": p,
            "conditions": [path(f"/{p}")],
            "actions": [fixed()],
            "transforms": [],
            "tags": {},
        }
        for p in (1, 2)
    ]
    desired = Desired(
        default_actions=[
            a.model_dump(mode="json", exclude_none=True) for a in live.default_actions
        ],
        rules=[canonical_rule(r) for r in rules],
    )
    plan = plan_restore(live, desired)
    assert len(plan.operations) == 2
    return plan
