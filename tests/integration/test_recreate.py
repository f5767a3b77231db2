"""``albrules restore SNAPSHOT --recreate-listener`` against the local AWS: a deleted HTTPS
listener comes back identical, refusals change nothing, a failure deletes what was created."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from albrules.listener_settings import settings_from_api
from albrules.local import faults
from albrules.models import Snapshot
from albrules.plan import Desired
from albrules.recreate import check_recreatable, create_listener, delete_created
from albrules.snapshot import build_snapshot, dumps, expected_checksum
from cli_runs import AWS, cli
from local_world import World
from rule_builders import fixed, forward, host, path

RULES = 20


def v2_snapshot(world: World, listener: str) -> Snapshot:
    """A format 2 snapshot of the listener: capture's own once it reads settings, else built
    here from the same API reads (DescribeListeners, certificates, attributes, tags)."""
    snapshot = build_snapshot(world.state(listener))
    if snapshot.listener is not None:
        return snapshot
    elb = world.elb
    item = elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]
    certificates = elb.describe_listener_certificates(ListenerArn=listener)["Certificates"]
    attributes = elb.describe_listener_attributes(ListenerArn=listener)["Attributes"]
    default_rule = next(
        r["RuleArn"] for r in elb.describe_rules(ListenerArn=listener)["Rules"] if r["IsDefault"]
    )
    tags = {
        d["ResourceArn"]: {t["Key"]: t["Value"] for t in d.get("Tags", [])}
        for d in elb.describe_tags(ResourceArns=[listener, default_rule])["TagDescriptions"]
    }
    settings = settings_from_api(
        item, certificates, attributes, tags.get(listener), tags.get(default_rule)
    )
    document = snapshot.model_dump(mode="json", exclude_none=True)
    document.update(schema_version=2, listener=settings.model_dump(exclude_none=True))
    made = Snapshot.model_validate(document)
    return made.model_copy(update={"checksum": expected_checksum(made)})


def certificate(world: World, domain: str) -> str:
    return str(world.session.client("acm").request_certificate(DomainName=domain)["CertificateArn"])


@pytest.fixture
def shop(world: World, tmp_path: Path) -> dict[str, Any]:
    """An HTTPS listener with two certificates, attributes, tags and 20 rules, snapshotted
    and then deleted (with a second listener on the load balancer, left alone)."""
    lb = world.load_balancer("shop")
    web, api = world.target_group("web"), world.target_group("api")
    main, extra = certificate(world, "shop.example.com"), certificate(world, "api.example.com")
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
    for i in range(1, RULES + 1):
        world.rule(
            listener,
            i * 10,
            [path(f"/p{i}/*")] if i % 2 else [host(f"h{i}.example.com")],
            [forward(api if i % 3 else web)] if i % 4 else [fixed("404")],
            {"rule": str(i)},
        )
    other = world.listener(lb, 80)
    snapshot = v2_snapshot(world, listener)
    file = tmp_path / "shop.json"
    file.write_bytes(dumps(snapshot))
    world.elb.delete_listener(ListenerArn=listener)
    return {
        "lb": lb,
        "listener": listener,
        "other": other,
        "snapshot": snapshot,
        "file": str(file),
        "certificates": (main, extra),
        "groups": (web, api),
    }


def listeners_of(world: World, lb: str) -> dict[int, str]:
    found = world.elb.describe_listeners(LoadBalancerArn=lb)["Listeners"]
    return {int(item["Port"]): item["ListenerArn"] for item in found}


#: Whether the plan covers the listener's own settings (additional certificates, attributes,
#: default-rule tags: helper "v2"'s part of issue 13); until it does, CreateListener's share.
PLAN_HAS_SETTINGS = "listener" in Desired.model_fields
FROM_CREATE = ("protocol", "port", "ssl_policy", "alpn_policy", "default_certificate", "tags")


def comparable(snapshot: Snapshot) -> dict[str, Any]:
    keep = {"source": {"listener_arn"}, "created_at": True, "checksum": True}
    document = snapshot.model_dump(mode="json", exclude=keep)  # type: ignore[arg-type]
    if not PLAN_HAS_SETTINGS:
        document["listener"] = {k: document["listener"][k] for k in FROM_CREATE}
    return document


def test_recreate_brings_a_deleted_https_listener_back_identical(world, shop, calls):
    code, out, err = cli("restore", shop["file"], "--recreate-listener", "--yes", "--no-lock")
    assert code == 0, err
    # the fewest writes: the listener (default certificate, default actions and tags in one
    # call), the second certificate, the attribute that is not a default, each rule
    assert calls.mutating == [
        "CreateListener",
        "AddListenerCertificates",
        "ModifyListenerAttributes",
        *["CreateRule"] * RULES,
    ]
    assert "RESTORED" in out and "recreated listener HTTPS:443 as" in out
    new = listeners_of(world, shop["lb"])[443]
    assert new != shop["listener"] and new in out  # the new ARN is printed
    assert listeners_of(world, shop["lb"])[80] == shop["other"]  # the other one untouched
    fresh = v2_snapshot(world, new)
    assert comparable(fresh) == comparable(shop["snapshot"])
    assert fresh.listener is not None and len(fresh.rules) == RULES
    assert fresh.listener.tags == {"team": "shop"}


@pytest.mark.skipif(not PLAN_HAS_SETTINGS, reason="the plan does not cover settings yet")
def test_recreate_brings_back_certificates_and_attributes(world, shop):
    code, _, err = cli("restore", shop["file"], "--recreate-listener", "--yes", "--no-lock")
    assert code == 0, err
    fresh = v2_snapshot(world, listeners_of(world, shop["lb"])[443])
    assert fresh.listener is not None
    assert fresh.listener.certificates == [shop["certificates"][1]]
    assert fresh.listener.attributes == {"routing.http.response.server.enabled": "false"}
    assert fresh.listener == shop["snapshot"].listener


def test_plan_shows_the_listener_to_create_and_changes_nothing(world, shop, calls):
    code, out, err = cli("plan", shop["file"], "--recreate-listener", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["status"] == "DRY_RUN"
    assert document["recreate"]["summary"] == "create listener HTTPS:443 on load balancer shop"
    assert document["changes"] == 1 + len(document["plan"]["operations"])
    assert calls.mutating == [] and "CreateListener" not in calls.of("elasticloadbalancing")
    assert 443 not in listeners_of(world, shop["lb"])


def test_a_missing_certificate_is_refused_naming_it_and_nothing_changes(world, shop, calls):
    main = shop["certificates"][0]
    world.session.client("acm").delete_certificate(CertificateArn=main)
    calls.clear()
    code, _out, err = cli("restore", shop["file"], "--recreate-listener", "--yes", "--no-lock")
    assert code == 2
    assert f"certificate {main} does not exist" in err
    assert "--certificate-map OLD=NEW" in err and "Traceback" not in err
    assert "CreateListener" not in calls.of("elasticloadbalancing")
    assert sorted(listeners_of(world, shop["lb"])) == [80]


def test_certificate_map_uses_the_new_certificate(world, shop):
    main = shop["certificates"][0]
    world.session.client("acm").delete_certificate(CertificateArn=main)
    renewed = certificate(world, "shop.example.com")
    code, _out, err = cli(
        "restore",
        shop["file"],
        "--recreate-listener",
        "--certificate-map",
        f"{main}={renewed}",
        "--yes",
        "--no-lock",
    )
    assert code == 0, err
    new = listeners_of(world, shop["lb"])[443]
    item = world.elb.describe_listeners(ListenerArns=[new])["Listeners"][0]
    assert item["Certificates"][0]["CertificateArn"] == renewed
    assert len(world.rules(new)) == RULES


def test_a_recreated_load_balancer_is_found_by_name(world, shop):
    world.elb.delete_listener(ListenerArn=shop["other"])
    world.elb.delete_load_balancer(LoadBalancerArn=shop["lb"])
    again = world.load_balancer("shop")
    assert again != shop["lb"]
    code, _out, err = cli("restore", shop["file"], "--recreate-listener", "--yes", "--no-lock")
    assert code == 0, err
    new = listeners_of(world, again)[443]
    assert len(world.rules(new)) == RULES
    # and naming it works the same: a second port is free only for another listener
    code, _, err = cli(
        "plan", shop["file"], "--recreate-listener", "--load-balancer", "shop", "--json"
    )
    assert code == 2 and "port 443 of load balancer shop is already taken" in err


def test_a_listener_that_still_exists_is_restored_normally(world, shop):
    code, _, _ = cli("restore", shop["file"], "--recreate-listener", "--yes", "--no-lock")
    assert code == 0
    new = listeners_of(world, shop["lb"])[443]
    snapshot = v2_snapshot(world, new)
    path_ = Path(shop["file"]).with_name("new.json")
    path_.write_bytes(dumps(snapshot))
    code, _, err = cli("plan", str(path_), "--recreate-listener")
    assert code == 2 and f"listener {new} still exists" in err


def test_a_v1_snapshot_cannot_recreate(world, shop, tmp_path):
    document = json.loads(Path(shop["file"]).read_text())
    document.update(schema_version=1)
    document.pop("listener")
    v1 = Snapshot.model_validate(document)
    file = tmp_path / "v1.json"
    file.write_bytes(dumps(v1.model_copy(update={"checksum": expected_checksum(v1)})))
    code, _, err = cli("restore", str(file), "--recreate-listener", "--yes", "--no-lock")
    assert code == 2 and "format 1 and holds no listener settings" in err


def test_a_failure_mid_apply_deletes_the_created_listener(world, shop):
    faults.inject("CreateRule", nth=7)
    code, out, err = cli("restore", shop["file"], "--recreate-listener", "--yes", "--no-lock")
    assert code == 3, out + err
    assert "ROLLED_BACK" in err and "was deleted" in err
    assert sorted(listeners_of(world, shop["lb"])) == [80]  # the load balancer as it was


def test_drills_create_on_another_port_with_mapped_target_groups(world, shop):
    """The library door drills use: a scratch load balancer, a free port, groups by name."""
    scratch = world.load_balancer("scratch")
    target = check_recreatable(
        world.aws, shop["snapshot"], "scratch", {}, port=8443, map_by_name=True
    )
    assert target.load_balancer_arn == scratch and target.port == 8443
    journal: list[dict[str, Any]] = []
    arn = create_listener(world.aws, target, journal)
    assert listeners_of(world, scratch) == {8443: arn}
    assert delete_created(world.aws, journal) == []
    assert listeners_of(world, scratch) == {}


def test_the_history_links_the_new_listener_to_the_old_one(world, shop):
    world.session.client("dynamodb").create_table(
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
    where = [*AWS, "--table", "catalog"]
    code, out, err = cli("restore", shop["file"], "--recreate-listener", "--yes", *where)
    assert code == 0, err
    new = listeners_of(world, shop["lb"])[443]
    code, out, err = cli("history", "--listener-arn", shop["listener"], *where)
    assert code == 0, err
    assert f"recreated as {new}" in out
    code, out, _ = cli("history", "--listener-arn", new, "--json", *where)
    (entry,) = json.loads(out)
    assert code == 0 and entry["kind"] == "recreation"
    assert entry["recreated_from"] == shop["listener"]


@pytest.fixture
def mtls(world: World, tmp_path: Path) -> dict[str, Any]:
    """An HTTPS listener with mutual TLS (verify, a trust store, ignore-expiry and advertised
    CA names set) and two rules, snapshotted and then deleted."""
    lb = world.load_balancer("edge")
    web = world.target_group("web")
    store = world.trust_store("clients")
    listener = world.elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTPS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": certificate(world, "edge.example.com")}],
        DefaultActions=[fixed("404")],
        MutualAuthentication={
            "Mode": "verify",
            "TrustStoreArn": store,
            "IgnoreClientCertificateExpiry": True,
            "AdvertiseTrustStoreCaNames": "on",
        },
    )["Listeners"][0]["ListenerArn"]
    world.rule(listener, 10, [path("/api/*")], [forward(web)], {"rule": "1"})
    world.rule(listener, 20, [host("m.example.com")], [forward(web)], {"rule": "2"})
    snapshot = v2_snapshot(world, listener)
    assert snapshot.listener is not None and snapshot.listener.mutual_authentication is not None
    file = tmp_path / "edge.json"
    file.write_bytes(dumps(snapshot))
    world.elb.delete_listener(ListenerArn=listener)
    return {"lb": lb, "store": store, "snapshot": snapshot, "file": str(file)}


def test_recreate_brings_back_a_listener_with_mutual_tls(world, mtls):
    code, out, err = cli("restore", mtls["file"], "--recreate-listener", "--yes", "--no-lock")
    assert code == 0, err
    new = listeners_of(world, mtls["lb"])[443]
    assert new in out
    auth = world.elb.describe_listeners(ListenerArns=[new])["Listeners"][0]["MutualAuthentication"]
    assert auth["Mode"] == "verify" and auth["TrustStoreArn"] == mtls["store"]
    assert auth["IgnoreClientCertificateExpiry"] is True
    assert auth["AdvertiseTrustStoreCaNames"] == "on"
    fresh = v2_snapshot(world, new)
    assert fresh.listener == mtls["snapshot"].listener
    assert comparable(fresh) == comparable(mtls["snapshot"])


def test_a_missing_trust_store_is_refused_naming_it_and_nothing_changes(world, mtls, calls):
    world.elb.delete_trust_store(TrustStoreArn=mtls["store"])
    calls.clear()
    code, _out, err = cli("restore", mtls["file"], "--recreate-listener", "--yes", "--no-lock")
    assert code == 2, err
    assert f"trust store {mtls['store']} does not exist" in err and "Traceback" not in err
    assert "CreateListener" not in calls.of("elasticloadbalancing")
    assert listeners_of(world, mtls["lb"]) == {}
