"""A listener's own settings (snapshot format 2) against the local AWS: captured, restored,
verified and rolled back, and the local AWS refusing what AWS refuses for listeners."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from albrules.local import faults
from albrules.plan import Desired
from albrules.resolve import desired_from_snapshot
from albrules.restore import differences, execute_restore, prepare_restore
from albrules.snapshot import build_snapshot, dumps, loads
from albrules.store import Store
from rule_builders import fixed, path

HSTS = "routing.http.response.strict_transport_security.header_value"
SERVER = "routing.http.response.server.enabled"
SERIAL = "routing.http.request.x_amzn_mtls_clientcert_serial_number.header_name"
POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def certificate(world: Any, name: str) -> str:
    acm = world.session.client("acm")
    return str(acm.request_certificate(DomainName=f"{name}.example.com")["CertificateArn"])


@pytest.fixture
def https(world: Any) -> dict[str, Any]:
    """An HTTPS listener with a default and two additional certificates, mutual TLS, two
    attributes, tags on the listener and its default rule, and two rules."""
    lb = world.load_balancer("secure")
    certs = [certificate(world, n) for n in ("main", "extra-a", "extra-b", "spare")]
    store = world.trust_store("clients")
    listener = world.elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTPS",
        Port=443,
        SslPolicy=POLICY,
        Certificates=[{"CertificateArn": certs[0]}],
        DefaultActions=[fixed("404")],
        MutualAuthentication={"Mode": "verify", "TrustStoreArn": store},
        Tags=[{"Key": "team", "Value": "edge"}],
    )["Listeners"][0]["ListenerArn"]
    for arn in certs[1:3]:
        world.elb.add_listener_certificates(
            ListenerArn=listener, Certificates=[{"CertificateArn": arn}]
        )
    world.elb.modify_listener_attributes(
        ListenerArn=listener,
        Attributes=[
            {"Key": HSTS, "Value": "max-age=31536000"},
            {"Key": SERIAL, "Value": "X-Client-Serial"},
        ],
    )
    described = world.elb.describe_rules(ListenerArn=listener)["Rules"]
    default_rule = next(r["RuleArn"] for r in described if r["IsDefault"])
    world.elb.add_tags(ResourceArns=[default_rule], Tags=[{"Key": "fallback", "Value": "yes"}])
    world.rule(listener, 10, [path("/api/*")], [fixed("200")])
    world.rule(listener, 20, [path("/b/*")], [fixed("201")], {"owner": "b"})
    return {"lb": lb, "listener": listener, "certs": certs, "store": store, "default": default_rule}


def restore(aws: Any, snapshot: Any, tmp_path: Any, **kwargs: Any) -> Any:
    prepared = prepare_restore(aws, snapshot, **kwargs)
    outcome = execute_restore(aws, prepared, pre_restore_store=Store(str(tmp_path / "pre")))
    return prepared, outcome


def break_every_setting(world: Any, https: dict[str, Any]) -> None:
    listener, certs = https["listener"], https["certs"]
    world.elb.modify_listener(
        ListenerArn=listener,
        Port=8443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-3-2021-06",
        Certificates=[{"CertificateArn": certs[3]}],
        MutualAuthentication={"Mode": "off"},
    )
    world.elb.remove_listener_certificates(
        ListenerArn=listener, Certificates=[{"CertificateArn": certs[1]}]
    )
    world.elb.modify_listener_attributes(
        ListenerArn=listener,
        Attributes=[{"Key": HSTS, "Value": ""}, {"Key": SERVER, "Value": "false"}],
    )
    world.elb.remove_tags(ResourceArns=[listener], TagKeys=["team"])
    world.elb.add_tags(ResourceArns=[listener], Tags=[{"Key": "oops", "Value": "1"}])
    world.elb.remove_tags(ResourceArns=[https["default"]], TagKeys=["fallback"])


def test_the_snapshot_holds_the_whole_listener(world: Any, https: dict[str, Any]) -> None:
    snapshot = build_snapshot(world.state(https["listener"]))
    document = json.loads(dumps(snapshot))
    assert document["schema_version"] == 2
    assert snapshot.can_recreate
    assert document["source"]["load_balancer_type"] == "application"
    assert document["source"]["load_balancer_scheme"] == "internet-facing"
    assert document["listener"] == {
        "protocol": "HTTPS",
        "port": 443,
        "ssl_policy": POLICY,
        "default_certificate": https["certs"][0],
        "certificates": sorted(https["certs"][1:3]),
        "mutual_authentication": {"Mode": "verify", "TrustStoreArn": https["store"]},
        "attributes": {HSTS: "max-age=31536000", SERIAL: "X-Client-Serial"},
        "tags": {"team": "edge"},
        "default_rule_tags": {"fallback": "yes"},
    }
    assert loads(dumps(snapshot), "s.json") == snapshot


def test_an_unchanged_listener_snapshots_the_same_and_plans_nothing(
    world: Any, aws: Any, https: dict[str, Any], tmp_path: Any
) -> None:
    one = build_snapshot(world.state(https["listener"]))
    two = build_snapshot(world.state(https["listener"]))
    assert one.checksum == two.checksum
    prepared, outcome = restore(aws, one, tmp_path)
    assert prepared.plan.empty
    assert outcome.status == "NO_CHANGES"


def test_every_setting_is_restored_with_one_call_per_change(
    world: Any, aws: Any, https: dict[str, Any], calls: Any, tmp_path: Any
) -> None:
    snapshot = build_snapshot(world.state(https["listener"]))
    break_every_setting(world, https)
    broken = world.state(https["listener"])
    found = differences(desired_from_snapshot(snapshot), broken)
    assert "the listener's port is 8443, expected 443" in found
    assert any(
        line.startswith("the listener's mutual TLS is off, expected verify") for line in found
    )
    assert f"the listener's attribute {SERVER} is 'false', expected 'true'" in found
    calls.clear()
    prepared, outcome = restore(aws, snapshot, tmp_path)
    assert outcome.status == "RESTORED", outcome.message
    assert build_snapshot(world.state(https["listener"])).checksum == snapshot.checksum
    assert sorted(calls.mutating) == sorted(
        [
            "ModifyListener",  # port, policy, default certificate and mutual TLS in one call
            "AddListenerCertificates",  # extra-a back (the spare is no longer the default)
            "ModifyListenerAttributes",
            "AddTags",  # the listener's team
            "RemoveTags",  # the listener's oops
            "AddTags",  # the default rule's fallback
        ]
    )
    modify = next(op for op in prepared.plan.operations if op.op == "modify-listener")
    assert modify.default_actions is None and modify.protocol is None


def test_a_failure_part_way_rolls_the_settings_back(
    world: Any, aws: Any, https: dict[str, Any], tmp_path: Any
) -> None:
    snapshot = build_snapshot(world.state(https["listener"]))
    break_every_setting(world, https)
    before = build_snapshot(world.state(https["listener"]))
    faults.inject("ModifyListenerAttributes", code="InternalFailure")
    _, outcome = restore(aws, snapshot, tmp_path)
    assert outcome.status == "ROLLED_BACK", outcome.message
    after = build_snapshot(world.state(https["listener"]))
    assert after.listener == before.listener
    assert after.checksum == before.checksum
    rolled = [e["call"] for e in outcome.journal if e["phase"] == "rollback"]
    assert "ModifyListener" in rolled and "RemoveListenerCertificates" in rolled


def test_http_to_https_and_back(world: Any, aws: Any, tmp_path: Any) -> None:
    lb = world.load_balancer("plain")
    listener = world.listener(lb, 80)
    http = build_snapshot(world.state(listener))
    cert = certificate(world, "later")
    world.elb.modify_listener(
        ListenerArn=listener,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": cert}],
    )
    https = build_snapshot(world.state(listener))
    assert https.listener is not None and https.listener.ssl_policy == POLICY
    _, outcome = restore(aws, http, tmp_path)
    assert outcome.status == "RESTORED", outcome.message
    assert build_snapshot(world.state(listener)).checksum == http.checksum
    _, outcome = restore(aws, https, tmp_path)
    assert outcome.status == "RESTORED", outcome.message
    assert build_snapshot(world.state(listener)).checksum == https.checksum


def test_settings_stay_with_their_listener(
    world: Any, aws: Any, https: dict[str, Any], tmp_path: Any
) -> None:
    """Restoring into another listener brings the routing only; a v1 snapshot leaves the
    settings alone."""
    snapshot = build_snapshot(world.state(https["listener"]))
    other = world.listener(world.load_balancer("other"), 80)
    before = world.state(other).listener
    prepared, outcome = restore(aws, snapshot, tmp_path, target_listener_arn=other)
    assert outcome.status == "RESTORED", outcome.message
    assert prepared.plan.expected.listener is None
    assert world.state(other).listener == before
    # a format 1 snapshot of the HTTPS listener: its settings are not touched
    world.elb.modify_listener_attributes(
        ListenerArn=https["listener"], Attributes=[{"Key": SERVER, "Value": "false"}]
    )
    document = json.loads(dumps(snapshot))
    document["schema_version"] = 1
    del document["listener"]
    for key in ("load_balancer_scheme", "load_balancer_type"):
        document["source"].pop(key)
    from albrules.models import Snapshot
    from albrules.snapshot import expected_checksum

    document["checksum"] = expected_checksum(Snapshot.model_validate(document))
    v1 = loads(json.dumps(document).encode(), "v1.json")
    assert not v1.can_recreate
    prepared, outcome = restore(aws, v1, tmp_path)
    assert prepared.plan.empty
    settings = world.state(https["listener"]).listener
    assert settings is not None and settings.attributes[SERVER] == "false"
    assert Desired.model_validate(prepared.plan.expected.model_dump()).listener is None


# --- the local AWS refuses what AWS refuses ----------------------------------------------


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_listener_writes_aws_refuses_are_refused(world: Any, https: dict[str, Any]) -> None:
    elb, lb, listener = world.elb, https["lb"], https["listener"]
    with pytest.raises(ClientError) as err:
        world.listener(lb, 443)
    assert code(err) == "DuplicateListener"
    plain = world.listener(lb, 80)
    with pytest.raises(ClientError) as err:
        elb.modify_listener(ListenerArn=plain, Port=443)
    assert code(err) == "DuplicateListener"
    with pytest.raises(ClientError) as err:
        elb.create_listener(
            LoadBalancerArn=lb, Protocol="HTTPS", Port=8443, DefaultActions=[fixed("404")]
        )
    assert code(err) == "ValidationError"
    with pytest.raises(ClientError) as err:
        elb.modify_listener(ListenerArn=plain, Protocol="HTTPS")
    assert code(err) == "ValidationError"
    missing = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    for call in (
        lambda: elb.add_listener_certificates(
            ListenerArn=listener, Certificates=[{"CertificateArn": missing}]
        ),
        lambda: elb.modify_listener(
            ListenerArn=listener, Certificates=[{"CertificateArn": missing}]
        ),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert code(err) == "CertificateNotFound"
    with pytest.raises(ClientError) as err:
        elb.remove_listener_certificates(
            ListenerArn=listener, Certificates=[{"CertificateArn": https["certs"][0]}]
        )
    assert code(err) == "OperationNotPermitted"
    for key, value in (("no.such.attribute", "x"), (SERVER, "maybe"), (SERIAL, "bad header!")):
        with pytest.raises(ClientError) as err:
            elb.modify_listener_attributes(
                ListenerArn=listener, Attributes=[{"Key": key, "Value": value}]
            )
        assert code(err) == "InvalidConfigurationRequest"
    with pytest.raises(ClientError) as err:  # the mTLS header names are HTTPS attributes
        elb.modify_listener_attributes(
            ListenerArn=plain, Attributes=[{"Key": SERIAL, "Value": "X-Serial"}]
        )
    assert code(err) == "InvalidConfigurationRequest"
    gone = https["store"].replace("/clients/", "/nobody/")
    with pytest.raises(ClientError) as err:
        elb.modify_listener(
            ListenerArn=listener, MutualAuthentication={"Mode": "verify", "TrustStoreArn": gone}
        )
    assert code(err) == "TrustStoreNotFound"
    with pytest.raises(ClientError) as err:
        elb.delete_trust_store(TrustStoreArn=https["store"])
    assert code(err) == "TrustStoreInUse"
    with pytest.raises(ClientError) as err:
        elb.modify_listener(ListenerArn=listener, AlpnPolicy=["HTTP2Preferred"])
    assert code(err) == "ALPNPolicyNotSupported"
    # nothing of it changed the listener
    listed = elb.describe_listener_certificates(ListenerArn=listener)["Certificates"]
    assert [c["IsDefault"] for c in listed] == [True, False, False]
    described = elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]
    assert described["Port"] == 443
    assert described["Certificates"] == [{"CertificateArn": https["certs"][0]}]
    assert described["MutualAuthentication"]["TrustStoreAssociationStatus"] == "active"
    assert "SslPolicy" not in elb.describe_listeners(ListenerArns=[plain])["Listeners"][0]


def test_certificates_are_read_in_pages(world: Any, https: dict[str, Any]) -> None:
    listener = https["listener"]
    pages = world.elb.get_paginator("describe_listener_certificates").paginate(
        ListenerArn=listener, PaginationConfig={"PageSize": 2}
    )
    seen = [c["CertificateArn"] for page in pages for c in page["Certificates"]]
    assert seen == [https["certs"][0], *https["certs"][1:3]]


def test_settings_writes_are_recorded_and_name_their_listener(
    world: Any, https: dict[str, Any]
) -> None:
    """CloudTrail records the listener-level writes, and the change pipeline reads them as
    changes of that listener (so a settings change is backed up like a rule change)."""
    from albrules.changes import Noted, read_event

    listener = https["listener"]
    trail = world.session.client("cloudtrail")
    for name in ("AddListenerCertificates", "ModifyListenerAttributes"):
        events = trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}]
        )["Events"]
        assert events, name
        record = json.loads(events[0]["CloudTrailEvent"])
        event = {
            "id": record["eventID"],
            "account": record["recipientAccountId"],
            "region": record["awsRegion"],
            "source": "aws.elasticloadbalancing",
            "detail-type": "AWS API Call via CloudTrail",
            "detail": record,
        }
        noted = read_event(event)
        assert isinstance(noted, Noted), noted
        assert noted.listener_arns == [listener]
