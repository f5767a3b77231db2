"""Every SNS message the state machines send, built from literal state documents (no AWS).

The unit copy of tests/test_notifications.py, with the same assertions: every function there is
pure. What the machines actually publish on the deployed stack stays in tests/test_workflows.py.
"""

from __future__ import annotations

import json
from typing import get_args

import pytest

from albrules import notifications as n
from albrules.outcomes import RestoreOutcomeName
from albrules.state_documents import (
    BackupSummary,
    DiscoveryFailure,
    DriftNote,
    ListenerResult,
    Notification,
    PlanSummary,
    RestoreState,
    StepError,
)

ACCOUNT = "123456789012"
LISTENER = (
    f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:listener/app/shop/50dc6c495c0c9188/"
    "f2f7dc8efc522ab2"
)
EXECUTION = f"arn:aws:states:eu-west-1:{ACCOUNT}:execution:albrules-restore:r-1"
BACKUP_EXECUTION = f"arn:aws:states:eu-west-1:{ACCOUNT}:execution:albrules-backup:b-1"
BUCKET = "s3://albrules-snapshots"
PRE = f"{BUCKET}/pre-restore/r-1/{ACCOUNT}/eu-west-1/shop/f2f7dc8efc522ab2/x.json"
CONSOLE = (
    "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1"
    f"#/v2/executions/details/{EXECUTION}"
)
PLAN = PlanSummary(
    changes=4,
    creates=2,
    modifies=1,
    deletes=1,
    operations=[
        "1. modify rule at priority 30: actions => forward shop-app",
        "2. create rule at priority 10: path-pattern=/shop/1/* => forward shop-app",
        "3. create rule at priority 20: path-pattern=/shop/2/* => forward shop-app",
        "4. delete rule at priority 99: host-header=rogue.example.com",
    ],
)


def assert_valid_subject(note: Notification) -> None:
    """SNS Publish: ASCII, no line breaks or control characters, fewer than 100 characters."""
    assert 0 < len(note.subject) < 100
    assert all(" " <= ch <= "~" for ch in note.subject), note.subject
    assert note.subject.startswith("albrules")


def restore_state(**fields: object) -> RestoreState:
    base: dict[str, object] = {
        "request": {
            "snapshot": "snapshots/x.json",
            "requested_by": "alice",
            "reason": "bad deploy",
        },
        "execution_arn": EXECUTION,
        "listener_arn": LISTENER,
        "snapshot_location": f"{BUCKET}/snapshots/x.json",
        "plan_location": f"{BUCKET}/plans/r-1.json",
        "plan": PLAN,
        "changes": 4,
    }
    return RestoreState.model_validate({**base, **fields})


def drifted(name: str = "shop", port: int = 80) -> ListenerResult:
    arn = LISTENER.replace("/shop/", f"/{name}/")
    return ListenerResult(
        listener_arn=arn,
        status="stored",
        location=f"{BUCKET}/snapshots/{name}/new.json",
        rules=4,
        port=port,
        drift=DriftNote(
            previous=f"{BUCKET}/snapshots/{name}/old.json",
            added=1,
            removed=2,
            changed=1,
            lines=[
                "removed priority 10 (path-pattern=/shop/1/*)",
                "removed priority 20 (path-pattern=/shop/2/*)",
                "changed priority 30 (path-pattern=/shop/3/*): actions",
            ],
            more=1,
        ),
    )


def summary(**fields: object) -> BackupSummary:
    base: dict[str, object] = {
        "listeners": 3,
        "rules": 9,
        "stored": 1,
        "unchanged": 2,
        "failed": 0,
        "location": f"{BUCKET}/snapshots",
    }
    return BackupSummary.model_validate({**base, **fields})


# --- the parts every message shares -----------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "link"),
    [
        (EXECUTION, CONSOLE),
        (
            "arn:aws:states:us-east-1:1:execution:m:n",
            "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1"
            "#/v2/executions/details/arn:aws:states:us-east-1:1:execution:m:n",
        ),
        (
            "arn:aws-cn:states:cn-north-1:1:execution:m:n",
            "https://console.amazonaws.cn/states/home?region=cn-north-1"
            "#/v2/executions/details/arn:aws-cn:states:cn-north-1:1:execution:m:n",
        ),
        (
            "arn:aws-us-gov:states:us-gov-west-1:1:execution:m:n",
            "https://console.amazonaws-us-gov.com/states/home?region=us-gov-west-1"
            "#/v2/executions/details/arn:aws-us-gov:states:us-gov-west-1:1:execution:m:n",
        ),
        ("arn:aws-iso:states:us-iso-east-1:1:execution:m:n", None),
        ("arn:aws:states:us-east-1:1:stateMachine:m", None),
        ("not an arn", None),
    ],
)
def test_console_link_is_for_the_executions_own_region_and_partition(
    arn: str, link: str | None
) -> None:
    assert n.console_link(arn) == link


def test_without_a_known_console_the_message_says_where_to_look() -> None:
    lines = n.execution_lines("arn:aws-iso:states:us-iso-east-1:1:execution:m:n")
    assert (
        lines[1]
        == "Console: open Step Functions in us-iso-east-1 and search for the execution above"
    )


def test_subjects_are_made_fit_for_sns() -> None:
    assert n.subject("a\nb\tc  d") == "a b c d"
    assert n.subject("caf\u00e9 \u2192 ok") == "caf ok"
    long = n.subject("x" * 300)
    assert len(long) == 99 and long.endswith("...")


def test_listener_labels() -> None:
    assert n.listener_label(LISTENER, 443) == "shop:443"
    assert n.listener_label(LISTENER) == "shop listener f2f7dc8e"
    assert n.listener_label(None) == "an unknown listener"
    assert n.listener_label("not-an-arn") == "not-an-arn"


# --- backup -------------------------------------------------------------------------------------


def test_a_clean_backup_sends_nothing() -> None:
    quiet = ListenerResult(listener_arn=LISTENER, status="unchanged", rules=3, port=80)
    assert n.backup_notifications(summary(), [quiet], BACKUP_EXECUTION) == (None, None)


def test_a_first_snapshot_is_not_drift() -> None:
    first = ListenerResult(listener_arn=LISTENER, status="stored", rules=3, port=80)
    assert n.backup_notifications(summary(), [first], BACKUP_EXECUTION) == (None, None)


def test_drift_on_one_listener_names_it_and_its_rules() -> None:
    failure, drift = n.backup_notifications(
        summary(drifted=1), [drifted()], BACKUP_EXECUTION, f"{BUCKET}/runs/b-1/summary.json"
    )

    assert failure is None and drift is not None
    assert_valid_subject(drift)
    assert drift.subject == "albrules: drift detected on shop:80 (4 rule change(s))"
    body = drift.message
    assert body.startswith("Drift detected: 1 listener(s) changed since their previous snapshot.")
    assert "Backup: 3 listener(s), 9 rule(s): 1 stored, 2 unchanged, 0 failed." in body
    assert "shop:80: 1 added, 2 removed, 1 changed" in body
    assert f"  listener: {LISTENER}" in body
    assert "  - removed priority 10 (path-pattern=/shop/1/*)" in body
    assert "  - changed priority 30 (path-pattern=/shop/3/*): actions" in body
    assert "  - and 1 more" in body
    assert f"  whole difference:  albrules plan {BUCKET}/snapshots/shop/old.json" in body
    assert f"  to undo it:        albrules restore {BUCKET}/snapshots/shop/old.json" in body
    assert f"Every listener's result: {BUCKET}/runs/b-1/summary.json" in body
    assert body.endswith(f"Console: {n.console_link(BACKUP_EXECUTION)}")
    assert "eu-west-1.console.aws.amazon.com" in body


def test_drift_on_many_listeners_counts_them() -> None:
    results = [drifted(f"lb-{i:02d}", 443) for i in range(25)]
    _, drift = n.backup_notifications(summary(listeners=25, drifted=25), results, BACKUP_EXECUTION)

    assert drift is not None
    assert_valid_subject(drift)
    assert drift.subject == "albrules: drift detected on 25 listeners (100 rule change(s))"
    assert "lb-19:443: " in drift.message and "lb-20:443: " not in drift.message
    assert "... and 5 more listener(s) drifted." in drift.message


def test_failures_and_drift_are_one_message() -> None:
    gone = ListenerResult(
        listener_arn=LISTENER.replace("/shop/", "/old/"),
        status="failed",
        error="ListenerNotFound",
        cause=json.dumps(
            {"errorType": "ListenerNotFound", "errorMessage": "listener old does not exist"}
        ),
    )
    unreachable = DiscoveryFailure(
        account_id="210987654321", region="eu-west-1", error="AccessDenied: cannot assume role"
    )
    state = summary(failed=1, drifted=1, failed_listeners=[gone], discovery_failures=[unreachable])

    failure, drift = n.backup_notifications(state, [drifted(), gone], BACKUP_EXECUTION)

    assert drift is None and failure is not None
    assert_valid_subject(failure)
    assert failure.subject == (
        "albrules backup: 1 of 3 listener(s) failed, 1 target(s) not reachable, drift on 1"
    )
    body = failure.message
    assert body.startswith("The backup did not back up every listener; the others were backed up.")
    assert "- old listener f2f7dc8e: ListenerNotFound: listener old does not exist" in body
    assert "- account 210987654321 eu-west-1: AccessDenied: cannot assume role" in body
    assert "Drift since the previous snapshots:" in body
    assert "shop:80: 1 added, 2 removed, 1 changed" in body
    assert body.endswith(f"Console: {n.console_link(BACKUP_EXECUTION)}")


def test_failures_alone_keep_the_short_subject() -> None:
    gone = ListenerResult(listener_arn=LISTENER, status="failed", error="X", cause="boom")
    failure, _ = n.backup_notifications(
        summary(failed=1, failed_listeners=[gone]), [gone], BACKUP_EXECUTION
    )
    assert failure is not None
    assert failure.subject == "albrules backup: 1 of 3 listener(s) failed"
    assert "- shop listener f2f7dc8e: X: boom" in failure.message


# --- restore ------------------------------------------------------------------------------------


def test_the_approval_request_has_the_plan_the_links_and_the_commands() -> None:
    links = {
        "review": "https://approve.example/?token=R",
        "approve": "https://approve.example/?token=A",
        "reject": "https://approve.example/?token=J",
    }
    note = n.approval_request(restore_state(), links, 1_795_000_000)

    assert_valid_subject(note)
    assert note.subject == "albrules: approve restore of shop listener f2f7dc8e (4 rule change(s))"
    body = note.message
    assert body.startswith("A restore of shop listener f2f7dc8e is waiting for your approval")
    assert "Requested by (as given by the requester): alice\nReason: bad deploy" in body
    assert "Expires: 2026-11-18 11:06:40 UTC" in body
    assert (
        "Plan: 4 mutating call(s) for 4 changed rule(s): 2 to create, 1 to modify, 1 to delete."
        in body
    )
    assert "  4. delete rule at priority 99: host-header=rogue.example.com" in body
    assert "Review the plan and decide: https://approve.example/?token=R" in body
    assert "Approve: https://approve.example/?token=A" in body
    assert "Reject: https://approve.example/?token=J" in body
    assert f"  albrules approve {EXECUTION}" in body
    assert f"  albrules reject {EXECUTION} --reason '...'" in body
    assert body.endswith(f"Console: {CONSOLE}")


def test_the_approval_request_without_links_still_has_the_commands() -> None:
    body = n.approval_request(restore_state(), None, 1_795_000_000).message
    assert "https://approve" not in body and f"albrules approve {EXECUTION}" in body


@pytest.mark.parametrize("outcome", get_args(RestoreOutcomeName))
def test_every_restore_outcome_has_a_clear_message(outcome: str) -> None:
    note = n.restore_outcome(restore_state(), outcome)

    assert_valid_subject(note)
    assert note.subject.startswith("albrules: restore of shop listener f2f7dc8e ")
    assert note.subject.endswith(" (4 rule change(s))")
    assert note.message.splitlines()[0] == n.HEADLINES[outcome].format(
        label="shop listener f2f7dc8e"
    )
    assert f"Listener: {LISTENER}" in note.message
    assert "Plan: 4 mutating call(s) for 4 changed rule(s)" in note.message
    assert note.message.endswith(f"Console: {CONSOLE}")


def test_restored() -> None:
    note = n.restore_outcome(restore_state(), "RESTORED")
    assert (
        note.subject == "albrules: restore of shop listener f2f7dc8e succeeded (4 rule change(s))"
    )
    assert "Requested by (as given by the requester): alice" in note.message


def test_rolled_back_says_the_listener_is_as_it_was_and_why() -> None:
    error = StepError(
        Error="ApplyFailed",
        Cause=json.dumps({"errorType": "ApplyFailed", "errorMessage": "step 2 failed"}),
    )
    state = restore_state(
        error=error, pre_restore_location=PRE, journal_location=f"{BUCKET}/j.json"
    )
    note = n.restore_outcome(state, "ROLLED_BACK")
    assert note.subject == (
        "albrules: restore of shop listener f2f7dc8e failed and was rolled back (4 rule change(s))"
    )
    assert "the listener is as it was before the restore" in note.message
    assert "What went wrong: ApplyFailed: step 2 failed" in note.message
    assert f"Pre-restore snapshot: {PRE}" in note.message
    assert f"Journal of the calls made: {BUCKET}/j.json" in note.message
    assert "albrules restore" not in note.message  # nothing to do by hand


def test_rollback_failed_is_loud_and_gives_the_exact_recovery_command() -> None:
    state = restore_state(
        request={"snapshot": "x", "oidc_secrets": {"web": "arn:aws:secretsmanager:eu:1:secret:w"}},
        pre_restore_location=PRE,
        error=StepError(Error="ApplyFailed", Cause="step 2 failed"),
        rollback_error=StepError(Error="RollbackFailed", Cause="DeleteRule refused"),
    )
    note = n.restore_outcome(state, "ROLLBACK_FAILED")

    assert "ROLLBACK FAILED" in note.subject
    lines = note.message.splitlines()
    assert lines[0].startswith(
        "ACTION NEEDED: shop listener f2f7dc8e is NOT as it was before the restore."
    )
    secret = " --oidc-secret web=arn:aws:secretsmanager:eu:1:secret:w"
    assert f"  albrules restore {PRE} --listener-arn {LISTENER}{secret} --yes" in lines[:6]
    assert f"  albrules plan {PRE} --listener-arn {LISTENER}{secret}" in lines[:6]
    assert f"(with credentials for account {ACCOUNT} in eu-west-1)" in lines[2]
    assert "Why the rollback failed: RollbackFailed: DeleteRule refused" in note.message


def test_a_refused_input_has_no_listener_yet() -> None:
    state = RestoreState(
        request={"snapshot": "nope"},
        execution_arn=EXECUTION,
        error=StepError(Error="InvalidInput", Cause="the restore input is not valid"),
    )
    note = n.restore_outcome(state, "REFUSED")
    assert note.subject == "albrules: restore of an unknown listener was refused"
    assert "Listener: not known (the input was refused)" in note.message
    assert "Snapshot: nope" in note.message
    assert "What went wrong: InvalidInput: the restore input is not valid" in note.message


def test_a_rejection_says_who_and_why() -> None:
    state = restore_state(
        error=StepError(Error="ApprovalRejected", Cause="rejected by carol: wrong snapshot")
    )
    note = n.restore_outcome(state, "REJECTED")
    assert "What went wrong: ApprovalRejected: rejected by carol: wrong snapshot" in note.message
    assert "nothing was changed" in note.message.splitlines()[0]


def test_a_long_load_balancer_name_still_fits() -> None:
    arn = LISTENER.replace("/shop/", f"/{'x' * 32}/")
    note = n.restore_outcome(
        restore_state(
            listener_arn=arn, changes=12345, plan=PlanSummary(changes=12345, creates=12345)
        ),
        "ROLLBACK_FAILED",
    )
    assert_valid_subject(note)
    assert len(note.subject) == 99
    assert note.subject.startswith("albrules: restore of xxxxxxxxxxxxxxxxxxxx")
    assert note.subject.endswith("... failed and the ROLLBACK FAILED (12345 rule change(s))")


def test_a_drifted_listener_whose_report_was_not_read_is_still_named() -> None:
    counts_only = drifted().model_copy(update={"drift": DriftNote(added=1, removed=2, changed=1)})
    _, drift = n.backup_notifications(summary(drifted=1), [counts_only], BACKUP_EXECUTION)
    assert drift is not None
    assert "shop:80: 1 added, 2 removed, 1 changed" in drift.message
    assert f"new snapshot:      {BUCKET}/snapshots/shop/new.json" in drift.message
    assert "albrules restore" not in drift.message.split("If a change")[0]


def test_plan_lines_name_the_default_actions_and_an_empty_plan() -> None:
    only_defaults = PlanSummary(changes=1, default_actions=1, operations=["1. set defaults"])
    assert n.plan_lines(only_defaults, None)[0] == (
        "Plan: 1 mutating call(s) for 0 changed rule(s) and the default actions."
    )
    assert n.plan_lines(PlanSummary(changes=0), None) == [
        "Plan: no change: the listener already matches the snapshot."
    ]
    many = PlanSummary(changes=25, creates=25, operations=["x"] * 20, more=5)
    assert n.plan_lines(many, "s3://b/plans/r.json")[-1] == (
        "  ... and 5 more (full plan: s3://b/plans/r.json)"
    )


def test_subjects_count_rules_and_the_body_counts_calls_when_moves_share_one_call() -> None:
    # 3 creates, 3 modifies and 2 moves: 8 rules, but the two moves are one SetRulePriorities.
    plan = PlanSummary(changes=7, creates=3, modifies=3, moves=2, operations=["1. x"] * 7)
    state = restore_state(plan=plan, changes=7)
    approval = n.approval_request(state, None, 1_900_000_000)
    outcome = n.restore_outcome(state, "RESTORED")
    assert approval.subject.endswith(" (8 rule change(s))")
    assert outcome.subject.endswith(" succeeded (8 rule change(s))")
    for note in (approval, outcome):
        assert (
            "Plan: 7 mutating call(s) for 8 changed rule(s): 3 to create, 3 to modify, 2 to move."
            in note.message.splitlines()
        )
