"""The drill's report and message, without AWS: exit codes by outcome, the headline, the
scratch load balancer compared before and after, the scheduled drills' notification."""

from __future__ import annotations

from albrules.drill import DrillReport, compare_scratch
from albrules.notifications import drill_results
from albrules.outcomes import DRILL_EXIT_CODES, EXIT_CODE_OF_ERROR

LISTENER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/1/2"


def report(status: str, reasons: list[str] | None = None) -> DrillReport:
    return DrillReport(
        status=status,  # type: ignore[arg-type]
        snapshot="s3://bucket/snapshots/x.json",
        checksum="ab" * 32,
        listener_arn=LISTENER,
        schema_version=2,
        load_balancer_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/scratch/9",
        load_balancer_name="scratch",
        port=8000,
        rules=3,
        calls=4,
        reasons=reasons or [],
        started_at="2026-12-04T01:00:00+00:00",
        ended_at="2026-12-04T01:00:05+00:00",
    )


def test_exit_codes_are_their_own_and_documented() -> None:
    assert DRILL_EXIT_CODES == {"RESTORABLE": 0, "NOT_RESTORABLE": 5, "CLEANUP_FAILED": 6}
    assert not set(DRILL_EXIT_CODES.values()) - {0} & set(EXIT_CODE_OF_ERROR.values())
    assert report("RESTORABLE").exit_code == 0 and report("RESTORABLE").restorable
    assert report("NOT_RESTORABLE", ["missing target group: x"]).exit_code == 5
    assert report("CLEANUP_FAILED", ["could not delete"]).exit_code == 6


def test_the_headline_names_the_first_reason_or_what_was_proven() -> None:
    ok = report("RESTORABLE").headline()
    assert "is restorable" in ok and "port 8000 of scratch" in ok and "as it was" in ok
    bad = report("NOT_RESTORABLE", ["certificate c does not exist", "other"])
    assert bad.headline().endswith("(2 reason(s)): certificate c does not exist")
    assert bad.headline(reasons=False).endswith("(2 reason(s), below)")


def test_the_scratch_load_balancer_compares_by_listener_and_rules() -> None:
    one = {"listener": {"ListenerArn": "a", "Port": 80}, "rules": [{"Priority": "1"}]}
    two = {"listener": {"ListenerArn": "b", "Port": 8000}, "rules": []}
    assert compare_scratch([one], [one]) == []
    assert compare_scratch([one], [one, two]) == ["listener b was added and is still there"]
    assert compare_scratch([one, two], [one]) == ["listener b is gone"]
    changed = {**one, "rules": []}
    assert compare_scratch([one], [changed]) == ["listener a or its rules changed"]


def test_the_scheduled_drills_message_names_each_snapshot_not_restorable() -> None:
    fine = drill_results([report("RESTORABLE")], "scratch")
    assert fine.subject == "albrules: 1 snapshot(s) restorable"
    assert f"restorable: {LISTENER} (3 rules)" in fine.message
    failed = drill_results(
        [report("RESTORABLE"), report("NOT_RESTORABLE", ["missing target group: 'api'"])],
        "scratch",
    )
    assert failed.subject == "albrules: 1 snapshot(s) not restorable"
    assert "1 of 2 drilled snapshot(s) could not be restored on scratch." in failed.message
    assert "  - missing target group: 'api'" in failed.message
    assert "albrules drill SNAPSHOT --load-balancer scratch" in failed.message
