"""Restore drills through the CLI on the local AWS (`albrules drill`): a snapshot is restored
into a new listener on a scratch load balancer, verified and deleted; the scratch load
balancer is exactly as it was afterwards, after a failure too."""

from __future__ import annotations

import json

import pytest

from albrules.drill import run_drill, scratch_state
from albrules.errors import RestoreRefused
from albrules.local import faults
from albrules.store import read_snapshot
from cli_runs import cli
from rule_builders import fixed, forward, host, path


@pytest.fixture
def shop(world, tmp_path):
    """A production listener with 5 rules, backed up; and a scratch load balancer with a
    listener of its own on 8000 (so the drill takes 8001)."""
    lb = world.load_balancer("shop")
    listener = world.listener(lb, 80)
    web, api = world.target_group("web"), world.target_group("api")
    for priority, value in ((10, "/a/*"), (20, "/b/*"), (30, "/c/*")):
        world.rule(listener, priority, [path(value)], [forward(web)], {"team": value[1]})
    world.rule(listener, 40, [host("api.example.com")], [forward(api)])
    world.rule(listener, 50, [path("/old/*")], [fixed("410")])
    snapshot = tmp_path / "shop.json"
    assert cli("backup", "--listener-arn", listener, "--out", str(snapshot))[0] == 0
    scratch = world.load_balancer("scratch")
    taken = world.listener(scratch, 8000)
    world.rule(taken, 5, [path("/x/*")], [fixed("200")])
    return snapshot, scratch


def test_a_drill_reports_a_snapshot_restorable_and_leaves_the_scratch_lb_as_it_was(world, shop):
    snapshot, scratch = shop
    before = scratch_state(world.aws, scratch)
    code, out, err = cli("drill", str(snapshot), "--load-balancer", "scratch", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "RESTORABLE" and report["reasons"] == []
    assert report["port"] == 8001 and report["rules"] == 5
    assert report["drill_listener_arn"] and report["scratch_unchanged"]
    calls = [e["call"] for e in report["journal"]]
    assert calls[0] == "CreateListener" and calls[-1] == "DeleteListener"
    assert calls.count("CreateRule") == 5
    assert scratch_state(world.aws, scratch) == before
    code, out, _ = cli("drill", str(snapshot), "--load-balancer", "scratch")
    assert code == 0 and "RESTORABLE" in out and "is restorable" in out


def test_a_missing_target_group_is_a_reason_and_nothing_is_created(world, shop):
    snapshot, scratch = shop
    api = world.elb.describe_target_groups(Names=["api"])["TargetGroups"][0]["TargetGroupArn"]
    for listener in world.elb.describe_listeners(
        LoadBalancerArn=api
        and world.elb.describe_load_balancers(Names=["shop"])["LoadBalancers"][0]["LoadBalancerArn"]
    )["Listeners"]:
        for rule in world.rules(listener["ListenerArn"]):
            if rule["Priority"] == "40":
                world.elb.delete_rule(RuleArn=rule["RuleArn"])
    world.elb.delete_target_group(TargetGroupArn=api)
    before = scratch_state(world.aws, scratch)
    code, out, _ = cli("drill", str(snapshot), "--load-balancer", "scratch", "--json")
    assert code == 5
    report = json.loads(out)
    assert report["status"] == "NOT_RESTORABLE"
    assert any("missing target group" in r and "'api'" in r for r in report["reasons"])
    assert report["journal"] == [] and report["drill_listener_arn"] is None
    assert scratch_state(world.aws, scratch) == before


def test_a_call_aws_refuses_is_a_reason_and_the_scratch_lb_is_put_back(world, shop):
    snapshot, scratch = shop
    before = scratch_state(world.aws, scratch)
    faults.inject("CreateRule", code="TooManyRules", nth=3)
    code, out, _ = cli("drill", str(snapshot), "--load-balancer", "scratch", "--json")
    assert code == 5
    report = json.loads(out)
    assert report["status"] == "NOT_RESTORABLE"
    assert any("AWS refused a call" in r and "TooManyRules" in r for r in report["reasons"])
    assert report["journal"][-1]["call"] == "DeleteListener"
    assert report["scratch_unchanged"]
    assert scratch_state(world.aws, scratch) == before


def test_a_drill_that_cannot_delete_its_listener_says_so(world, shop):
    snapshot, _scratch = shop
    faults.inject("DeleteListener", code="AccessDenied")
    code, out, _ = cli("drill", str(snapshot), "--load-balancer", "scratch", "--json")
    assert code == 6
    report = json.loads(out)
    assert report["status"] == "CLEANUP_FAILED" and not report["scratch_unchanged"]
    assert any("could not delete the drill listener" in r for r in report["reasons"])


def test_an_unknown_scratch_lb_or_no_free_port_is_refused_before_any_change(world, shop):
    snapshot, scratch = shop
    code, _, err = cli("drill", str(snapshot), "--load-balancer", "nope")
    assert code == 2 and "nope" in err
    for port in range(8001, 8004):
        world.listener(scratch, port)
    before = scratch_state(world.aws, scratch)

    with pytest.raises(RestoreRefused, match="every drill port"):
        run_drill(
            world.aws,
            read_snapshot(str(snapshot), None),
            str(snapshot),
            "scratch",
            ports=range(8000, 8004),
        )
    assert scratch_state(world.aws, scratch) == before


@pytest.fixture
def https_shop(world, tmp_path):
    """An HTTPS listener with two certificates, an attribute, tags and 4 rules, backed up
    (format 2); and an empty scratch load balancer."""
    acm = world.session.client("acm")
    main = acm.request_certificate(DomainName="shop.example.com")["CertificateArn"]
    extra = acm.request_certificate(DomainName="api.example.com")["CertificateArn"]
    lb = world.load_balancer("shop")
    web = world.target_group("web")
    listener = world.elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTPS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": main}],
        DefaultActions=[forward(web)],
        Tags=[{"Key": "team", "Value": "shop"}],
    )["Listeners"][0]["ListenerArn"]
    world.elb.add_listener_certificates(
        ListenerArn=listener, Certificates=[{"CertificateArn": extra}]
    )
    world.elb.modify_listener_attributes(
        ListenerArn=listener,
        Attributes=[{"Key": "routing.http.response.server.enabled", "Value": "false"}],
    )
    for priority in range(1, 5):
        world.rule(listener, priority, [path(f"/p{priority}/*")], [forward(web)])
    snapshot = tmp_path / "https.json"
    assert cli("backup", "--listener-arn", listener, "--out", str(snapshot))[0] == 0
    return snapshot, world.load_balancer("scratch"), extra


def test_a_format_2_drill_recreates_the_settings_and_verifies_them(world, https_shop):
    snapshot, scratch, _extra = https_shop
    document = json.loads(snapshot.read_text())
    assert document["schema_version"] == 2 and document["listener"]["certificates"]
    code, out, err = cli("drill", str(snapshot), "--load-balancer", "scratch", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "RESTORABLE" and report["port"] == 8000
    assert any(c.startswith("settings") for c in report["checked"])
    calls = [e["call"] for e in report["journal"]]
    assert calls[0] == "CreateListener" and "AddListenerCertificates" in calls
    assert "ModifyListenerAttributes" in calls and calls[-1] == "DeleteListener"
    assert scratch_state(world.aws, scratch) == []


def test_a_missing_certificate_is_a_reason_before_any_change(world, https_shop):
    snapshot, scratch, extra = https_shop
    world.session.client("acm").delete_certificate(CertificateArn=extra)
    code, out, _ = cli("drill", str(snapshot), "--load-balancer", "scratch", "--json")
    assert code == 5
    report = json.loads(out)
    assert any(extra in r and "does not exist" in r for r in report["reasons"])
    assert report["journal"] == [] and scratch_state(world.aws, scratch) == []


def test_a_format_1_snapshot_is_drilled_as_http_routing_only(world, shop, tmp_path):
    snapshot, scratch = shop
    document = json.loads(snapshot.read_text())
    document["schema_version"] = 1
    document.pop("listener", None)
    for key in ("load_balancer_scheme", "load_balancer_type"):
        document["source"].pop(key, None)
    from albrules.models import Snapshot
    from albrules.snapshot import expected_checksum

    made = Snapshot.model_validate(document)
    document["checksum"] = expected_checksum(made)
    v1 = tmp_path / "v1.json"
    v1.write_text(json.dumps(document))
    before = scratch_state(world.aws, scratch)
    code, out, err = cli("drill", str(v1), "--load-balancer", "scratch", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "RESTORABLE" and report["schema_version"] == 1
    assert report["checked"] == ["routing (format 1: the default actions and every rule, on HTTP)"]
    assert report["journal"][0]["request"]["Protocol"] == "HTTP"
    assert scratch_state(world.aws, scratch) == before


def test_history_shows_the_listeners_drills(world, session, shop):
    from albrules.catalog import Catalog
    from cli_runs import AWS

    snapshot, _scratch = shop
    session.client("dynamodb").create_table(
        TableName="catalog",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    document = read_snapshot(str(snapshot), None)
    report = run_drill(world.aws, document, str(snapshot), "scratch")
    listener = document.source.listener_arn
    catalog = Catalog(world.aws, "catalog")
    catalog.record_drill(
        listener,
        report.ended_at,
        {
            "status": report.status,
            "snapshot": report.snapshot,
            "port": report.port,
            "load_balancer": report.load_balancer_name,
            "reasons": ["an example reason"],
        },
    )
    assert catalog.history(listener) == []  # a drill is not a version of the listener
    code, out, err = cli("history", "--listener-arn", listener, *AWS, "--table", "catalog")
    assert code == 0, err
    text = " ".join(out.split())
    assert "drill: restorable on scratch port 8001" in text and "an example reason" in text
    code, out, _ = cli("history", "--listener-arn", listener, *AWS, "--table", "catalog", "--json")
    [drill] = [e for e in json.loads(out) if e["kind"] == "drill"]
    assert drill["status"] == "RESTORABLE" and drill["listener_arn"] == listener
