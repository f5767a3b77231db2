"""Restore scenarios against the local AWS: outcomes asserted on the listener's real state."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from albrules.aws import Aws
from albrules.errors import RestoreRefused, SnapshotInvalid, TargetGroupsMissing
from albrules.local import elbv2 as fidelity
from albrules.local import faults
from albrules.plan import Selector
from albrules.restore import execute_restore, prepare_restore
from albrules.snapshot import build_snapshot, dumps
from albrules.store import Store
from listeners import content
from local_world import MUTATING, World
from rule_builders import fixed, forward, header, host, path, redirect

REWRITE = [
    {
        "Type": "url-rewrite",
        "UrlRewriteConfig": {"Rewrites": [{"Regex": "^/x(.*)$", "Replace": "$1"}]},
    }
]


@pytest.fixture
def shop(world):
    """A listener with eight varied rules, and its snapshot."""
    lb = world.load_balancer("shop")
    listener = world.listener(lb, 80, forward(world.target_group("web")))
    blue, green, api = (world.target_group(n) for n in ("blue", "green", "api"))
    world.rule(listener, 1, [path("/healthz")], [fixed("200")], {"owner": "sre"})
    world.rule(listener, 5, [host("old.example.com")], [redirect(Host="www.example.com")])
    world.rule(listener, 10, [path("/api/*")], [forward(api)], {"owner": "api"}, REWRITE)
    world.rule(
        listener, 20, [header("X-Canary", "1")], [forward((blue, 80), (green, 20), sticky=300)]
    )
    world.rule(listener, 30, [path("/a/*")], [forward(blue)], {"owner": "a"})
    world.rule(listener, 40, [path("/b/*")], [forward(green)])
    world.rule(listener, 50, [path("/c/*")], [fixed("404")], {"team": "c"})
    world.rule(listener, 60, [host("x.example.com"), path("/x/*")], [forward(blue)])
    snapshot = build_snapshot(world.state(listener))
    by_priority = {int(r["Priority"]): r["RuleArn"] for r in world.rules(listener)}
    return listener, snapshot, by_priority


def bad_deploy(world, arn):
    """Delete one rule, break one's actions, swap two, untag one: four calls to undo."""
    world.elb.delete_rule(RuleArn=arn[30])
    world.elb.modify_rule(RuleArn=arn[40], Actions=[fixed("503")])
    world.elb.set_rule_priorities(
        RulePriorities=[{"RuleArn": arn[1], "Priority": 5}, {"RuleArn": arn[5], "Priority": 1}]
    )
    world.elb.remove_tags(ResourceArns=[arn[50]], TagKeys=["team"])


def restore(aws, snapshot, tmp_path, **kwargs):
    prepared = prepare_restore(aws, snapshot, **{k: v for k, v in kwargs.items() if k != "recheck"})
    outcome = execute_restore(aws, prepared, pre_restore_store=Store(str(tmp_path / "pre")))
    return prepared, outcome


def same_routing(world, listener, snapshot):
    return build_snapshot(world.state(listener)).checksum == snapshot.checksum


def test_a_broken_listener_is_restored_with_one_call_per_change(world, aws, shop, calls, tmp_path):
    listener, snapshot, arn = shop
    bad_deploy(world, arn)
    calls.clear()
    _, outcome = restore(aws, snapshot, tmp_path)
    assert outcome.status == "RESTORED"
    assert same_routing(world, listener, snapshot)
    assert sorted(calls.mutating) == sorted(
        ["CreateRule", "ModifyRule", "AddTags", "SetRulePriorities"]
    )
    kept = {int(r["Priority"]): r["RuleArn"] for r in world.rules(listener)}
    assert kept[1] == arn[1] and kept[5] == arn[5] and kept[40] == arn[40]  # changed in place
    calls.clear()
    prepared, outcome = restore(aws, snapshot, tmp_path)
    assert prepared.plan.empty and outcome.status == "NO_CHANGES" and calls.mutating == []


def test_pre_restore_snapshot_and_journal_are_stored(world, aws, shop, tmp_path):
    listener, snapshot, arn = shop
    world.elb.delete_rule(RuleArn=arn[60])
    broken = build_snapshot(world.state(listener))
    _, outcome = restore(aws, snapshot, tmp_path)
    stored = json.loads(Path(outcome.pre_restore).read_text())
    assert stored["checksum"] == broken.checksum
    journal = json.loads(Path(outcome.journal_location).read_text())
    assert [(e["call"], e["status"]) for e in journal] == [("CreateRule", "done")]


def test_default_actions_and_transforms_are_restored(world, aws, shop, tmp_path):
    listener, snapshot, arn = shop
    world.elb.modify_listener(ListenerArn=listener, DefaultActions=[fixed("500")])
    world.elb.modify_rule(RuleArn=arn[10], ResetTransforms=True)
    world.elb.modify_rule(RuleArn=arn[30], Transforms=REWRITE)
    _, outcome = restore(aws, snapshot, tmp_path)
    assert outcome.status == "RESTORED"
    assert same_routing(world, listener, snapshot)
    assert world.rules(listener)[3].get("Transforms", []) == []


def test_a_rule_replaced_at_its_priority_is_modified_in_place(world, aws, shop, calls, tmp_path):
    listener, snapshot, arn = shop
    world.elb.delete_rule(RuleArn=arn[50])
    world.rule(listener, 50, [path("/other/*")], [fixed("418")], {"team": "c"})
    calls.clear()
    _, outcome = restore(aws, snapshot, tmp_path)
    assert outcome.status == "RESTORED" and same_routing(world, listener, snapshot)
    assert calls.mutating == ["ModifyRule"]


def test_shifting_every_priority_is_one_reorder(world, aws, shop, calls, tmp_path):
    listener, snapshot, arn = shop
    moves = [{"RuleArn": a, "Priority": p + 1} for p, a in arn.items()]
    world.elb.set_rule_priorities(RulePriorities=moves)
    calls.clear()
    _, outcome = restore(aws, snapshot, tmp_path)
    assert outcome.status == "RESTORED" and same_routing(world, listener, snapshot)
    assert calls.mutating == ["SetRulePriorities"]


def test_creates_come_before_deletes_and_no_kept_rule_ever_goes_missing(
    world, aws, shop, calls, tmp_path
):
    listener, snapshot, arn = shop
    world.elb.delete_rule(RuleArn=arn[20])
    world.rule(listener, 25, [path("/new/*")], [fixed("200")])
    world.elb.delete_rule(RuleArn=arn[40])
    calls.clear()
    prepared, _outcome = restore(aws, snapshot, tmp_path)
    assert [op.op for op in prepared.plan.operations] == [
        "create-rule",
        "create-rule",
        "delete-rule",
    ]
    assert same_routing(world, listener, snapshot)


def test_quota_forces_a_delete_before_a_create(world, aws, tmp_path):
    fidelity.CONFIG["rules_per_load_balancer"] = 3
    listener = world.listener(world.load_balancer())
    for priority in (1, 2, 3):
        world.rule(listener, priority, [path(f"/{priority}")])
    snapshot = build_snapshot(world.state(listener))
    rules = world.rules(listener)
    world.elb.delete_rule(RuleArn=rules[2]["RuleArn"])
    world.rule(listener, 4, [path("/intruder")])
    prepared, outcome = restore(aws, snapshot, tmp_path)
    assert [op.op for op in prepared.plan.operations] == ["delete-rule", "create-rule"]
    assert outcome.status == "RESTORED" and same_routing(world, listener, snapshot)


def test_a_snapshot_over_the_quota_is_refused(world, aws, tmp_path, calls):
    fidelity.CONFIG["rules_per_load_balancer"] = 10
    lb = world.load_balancer()
    listener, other = world.listener(lb, 80), world.listener(lb, 81)
    for priority in range(1, 5):
        world.rule(listener, priority, [path(f"/{priority}")])
    snapshot = build_snapshot(world.state(listener))
    for arn in [r["RuleArn"] for r in world.rules(listener)]:
        world.elb.delete_rule(RuleArn=arn)
    for priority in range(1, 8):
        world.rule(other, priority, [path(f"/o{priority}")])
    calls.clear()
    with pytest.raises(SnapshotInvalid) as err:
        prepare_restore(aws, snapshot)
    assert "4 rules plus 7 on its other listeners is 11; the account allows 10" in str(
        err.value.problems[0]
    )
    assert calls.mutating == []


def test_selective_restore_by_priority_leaves_other_rules_alone(world, aws, shop, tmp_path):
    listener, snapshot, arn = shop
    world.elb.delete_rule(RuleArn=arn[30])
    world.elb.modify_rule(RuleArn=arn[40], Actions=[fixed("503")])
    _prepared, outcome = restore(
        aws, snapshot, tmp_path, mode="selective", selector=Selector.parse([30], None)
    )
    assert outcome.status == "RESTORED"
    rules = {int(r["Priority"]): r for r in world.rules(listener)}
    assert rules[30]["Conditions"][0]["Values"] == ["/a/*"]
    assert rules[40]["Actions"][0]["Type"] == "fixed-response"  # not selected: left as it is


def test_selective_restore_by_condition_value(world, aws, shop, tmp_path):
    listener, snapshot, arn = shop
    world.elb.modify_rule(RuleArn=arn[10], Actions=[fixed("503")])
    world.elb.modify_rule(RuleArn=arn[60], Actions=[fixed("503")])
    selector = Selector.parse(None, ["path-pattern=/api/*"])
    _, outcome = restore(aws, snapshot, tmp_path, mode="selective", selector=selector)
    assert outcome.status == "RESTORED"
    rules = {int(r["Priority"]): r for r in world.rules(listener)}
    assert rules[10]["Actions"][0]["Type"] == "forward"
    assert rules[60]["Actions"][0]["Type"] == "fixed-response"


def test_selective_restore_refuses_to_replace_an_unselected_rule(world, aws, shop, calls, tmp_path):
    listener, snapshot, arn = shop
    world.elb.delete_rule(RuleArn=arn[30])
    world.rule(listener, 30, [path("/squatter")])
    world.elb.set_rule_priorities(RulePriorities=[{"RuleArn": arn[40], "Priority": 45}])
    world.rule(listener, 40, [path("/b2")])
    calls.clear()
    with pytest.raises(RestoreRefused, match="priority 40 is held by the live rule"):
        prepare_restore(
            aws, snapshot, mode="selective", selector=Selector.parse(None, ["path-pattern=/b/*"])
        )
    with pytest.raises(
        RestoreRefused,
        match=r"snapshot.s rule at priority 40, which is not selected; add --priority 40",
    ):
        prepare_restore(aws, snapshot, mode="selective", selector=Selector.parse([45], None))
    assert calls.mutating == []


def test_restore_into_another_region_maps_target_groups_by_name(world, aws, shop, tmp_path):
    _listener, snapshot, _ = shop
    west = World(boto3.Session(region_name="us-west-2"))
    for name in ("web", "blue", "green", "api"):
        west.target_group(name)
    target = west.listener(west.load_balancer("shop-dr"))
    west_aws = Aws(west.session)
    with pytest.raises(TargetGroupsMissing, match="do not exist in account") as err:
        prepare_restore(west_aws, snapshot, target_listener_arn=target)
    assert "does not exist in account 123456789012, region us-west-2" in str(err.value.problems[0])
    _, outcome = restore(west_aws, snapshot, tmp_path, target_listener_arn=target, map_by_name=True)
    assert outcome.status == "RESTORED"
    restored = build_snapshot(west.state(target))
    assert len(restored.rules) == len(snapshot.rules)
    groups = {
        g.TargetGroupName: g.TargetGroupArn
        for r in restored.rules
        for a in r.actions
        if a.ForwardConfig
        for g in a.ForwardConfig.TargetGroups
    }
    assert all(":us-west-2:" in arn for arn in groups.values()) and set(groups) == {
        "blue",
        "green",
        "api",
    }


def _oidc(client: str = "shop-client") -> dict:
    return {
        "Type": "authenticate-oidc",
        "Order": 1,
        "AuthenticateOidcConfig": {
            "Issuer": "https://idp.example.com",
            "AuthorizationEndpoint": "https://idp.example.com/auth",
            "TokenEndpoint": "https://idp.example.com/token",
            "UserInfoEndpoint": "https://idp.example.com/me",
            "ClientId": client,
            "ClientSecret": "initial-secret",
        },
    }


def _secret_in_emulator(listener_rules, priority):
    backend = fidelity.elbv2_models.elbv2_backends["123456789012"]["us-east-1"]
    for lb in backend.load_balancers.values():
        for lst in lb.listeners.values():
            for rule in lst.rules.values():
                if (
                    not rule.is_default
                    and rule.arn in listener_rules
                    and int(rule.priority) == priority
                ):
                    return rule.actions[0]._albrules_secrets
    return None


def test_oidc_rule_needs_its_secret_to_be_created(world, aws, tmp_path, calls):
    listener = world.listener(world.load_balancer())
    tg = world.target_group("app")
    world.rule(listener, 7, [path("/private/*")], [_oidc(), {**forward(tg), "Order": 2}])
    snapshot = build_snapshot(world.state(listener))
    assert b"ClientSecret" not in dumps(snapshot)
    world.elb.delete_rule(RuleArn=world.rules(listener)[0]["RuleArn"])
    calls.clear()
    with pytest.raises(
        RestoreRefused,
        match=r"priority 7 .* uses OIDC client 'shop-client'.*--oidc-secret shop-client=SECRET_ARN",
    ):
        prepare_restore(aws, snapshot)
    assert calls.mutating == []
    secret = world.session.client("secretsmanager").create_secret(
        Name="albrules/shop-oidc", SecretString=json.dumps({"client_secret": "from-vault"})
    )["ARN"]
    _, outcome = restore(aws, snapshot, tmp_path, oidc_secrets={"shop-client": secret})
    assert outcome.status == "RESTORED" and same_routing(world, listener, snapshot)
    arns = {r["RuleArn"] for r in world.rules(listener)}
    assert _secret_in_emulator(arns, 7) == {"shop-client": "from-vault"}
    assert "from-vault" not in json.dumps(outcome.journal)


def test_oidc_rule_changed_in_place_keeps_its_secret(world, aws, tmp_path):
    listener = world.listener(world.load_balancer())
    tg, other = world.target_group("app"), world.target_group("other")
    arn = world.rule(listener, 7, [path("/private/*")], [_oidc(), {**forward(tg), "Order": 2}])
    snapshot = build_snapshot(world.state(listener))
    changed = _oidc()
    changed["AuthenticateOidcConfig"].pop("ClientSecret")
    changed["AuthenticateOidcConfig"]["UseExistingClientSecret"] = True
    world.elb.modify_rule(RuleArn=arn, Actions=[changed, {**forward(other), "Order": 2}])
    _, outcome = restore(aws, snapshot, tmp_path)
    assert outcome.status == "RESTORED" and same_routing(world, listener, snapshot)
    assert _secret_in_emulator({arn}, 7) == {"shop-client": "initial-secret"}


@pytest.mark.parametrize("step", [1, 2, 3, 4])
def test_failure_at_each_step_rolls_back_to_the_pre_restore_state(world, aws, shop, tmp_path, step):
    listener, snapshot, arn = shop
    bad_deploy(world, arn)
    before = content(world.state(listener))
    faults.inject(",".join(MUTATING), nth=step, code="InternalFailure")
    prepared, outcome = restore(aws, snapshot, tmp_path)
    assert len(prepared.plan.operations) == 4
    assert outcome.status == "ROLLED_BACK", outcome.message
    assert outcome.exit_code == 3
    assert content(world.state(listener)) == before
    assert any(e["phase"] == "rollback" for e in outcome.journal) or step == 1


def test_when_the_rollback_fails_too_the_outcome_says_so(world, aws, shop, tmp_path):
    _listener, snapshot, arn = shop
    world.elb.delete_rule(RuleArn=arn[30])
    world.elb.modify_rule(RuleArn=arn[40], Actions=[fixed("503")])
    faults.inject("CreateRule", nth=1, code="InternalFailure")  # the restore's create fails,
    faults.inject("ModifyRule", nth=2, times=0, code="InternalFailure")  # and so does the undo
    _, outcome = restore(aws, snapshot, tmp_path)
    assert outcome.status == "ROLLBACK_FAILED" and outcome.exit_code == 4
    assert outcome.pre_restore in outcome.message and outcome.journal_location in outcome.message
    journal = json.loads(Path(outcome.journal_location).read_text())
    assert [e["status"] for e in journal if e["phase"] == "rollback"][-1] == "failed"


def test_a_concurrent_change_fails_verification_and_is_rolled_back(world, aws, shop, tmp_path):
    listener, snapshot, arn = shop
    world.elb.delete_rule(RuleArn=arn[30])
    before = content(world.state(listener))
    intruder = world.session.client("elbv2")

    def meddle(**kwargs):
        if kwargs.get("model").name == "CreateRule":
            aws.elbv2.meta.events.unregister("after-call.elastic-load-balancing-v2", meddle)
            intruder.modify_rule(RuleArn=arn[60], Actions=[fixed("418")])

    aws.elbv2.meta.events.register("after-call.elastic-load-balancing-v2", meddle)
    _, outcome = restore(aws, snapshot, tmp_path)
    assert outcome.status == "ROLLED_BACK"
    assert "does not match the target" in outcome.message
    assert any("priority 60" in d for d in outcome.differences)
    assert content(world.state(listener)) == before


def test_a_lost_create_response_is_recognised_on_retry(world, aws, shop, tmp_path):
    listener, snapshot, arn = shop
    world.elb.delete_rule(RuleArn=arn[30])
    faults.inject("CreateRule", nth=1, code="Throttling", after=True)
    _, outcome = restore(aws, snapshot, tmp_path)
    assert outcome.status == "RESTORED" and same_routing(world, listener, snapshot)
    assert "first attempt had succeeded" in outcome.journal[0]["note"]


def test_a_bug_mid_apply_is_rolled_back_too(world, aws, shop, tmp_path, monkeypatch):
    listener, snapshot, arn = shop
    bad_deploy(world, arn)
    before = content(world.state(listener))
    from albrules import restore as engine

    real = engine.request_for
    seen = []

    def flaky(op, secrets):
        seen.append(op.op)
        if len(seen) == 3:
            raise KeyError("a bug")
        return real(op, secrets)

    monkeypatch.setattr(engine, "request_for", flaky)
    prepared = prepare_restore(aws, snapshot)
    outcome = execute_restore(aws, prepared, pre_restore_store=Store(str(tmp_path / "pre")))
    assert outcome.status == "ROLLED_BACK" and "unexpected error" in outcome.message
    assert content(world.state(listener)) == before


def test_a_journal_that_cannot_be_stored_does_not_hide_the_outcome(world, aws, shop, tmp_path):
    listener, snapshot, arn = shop
    bad_deploy(world, arn)

    class ReadOnlyJournal(Store):
        def write_file(self, *args, **kwargs):
            raise OSError("read-only file system")

    prepared = prepare_restore(aws, snapshot)
    outcome = execute_restore(aws, prepared, pre_restore_store=ReadOnlyJournal(str(tmp_path)))
    assert outcome.status == "RESTORED" and same_routing(world, listener, snapshot)
    assert outcome.journal_location is None and "could not store the journal" in outcome.warnings[0]
    assert len(outcome.journal) == 4
