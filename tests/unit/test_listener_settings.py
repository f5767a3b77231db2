"""Listener settings (snapshot format 2): canonical form and the requests built from it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from albrules.listener_settings import (
    additional_certificate_requests,
    canonical_settings,
    create_listener_request,
    mutual_authentication_request,
    settings_from_api,
)
from albrules.models import ListenerSettings

CERT_A = "arn:aws:acm:eu-west-1:111111111111:certificate/a"
CERT_B = "arn:aws:acm:eu-west-1:111111111111:certificate/b"
CERT_C = "arn:aws:acm:eu-west-1:111111111111:certificate/c"
ELB = "arn:aws:elasticloadbalancing:eu-west-1:111111111111"
STORE = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:truststore/ts/0123456789abcdef"
HTTPS = {
    "Protocol": "HTTPS",
    "Port": 443,
    "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "Certificates": [{"CertificateArn": CERT_A}],
}


def test_api_read_is_canonical_whatever_order_and_defaults() -> None:
    one = settings_from_api(
        {**HTTPS, "MutualAuthentication": {"Mode": "off"}, "AlpnPolicy": []},
        [
            {"CertificateArn": CERT_C, "IsDefault": False},
            {"CertificateArn": CERT_A, "IsDefault": True},
            {"CertificateArn": CERT_B, "IsDefault": False},
            {"CertificateArn": CERT_A, "IsDefault": False},  # the default, also listed
        ],
        [
            {"Key": "routing.http.response.server.enabled", "Value": "true"},
            {"Key": "routing.http.response.x_frame_options.header_value", "Value": "DENY"},
            {"Key": "routing.http.request.x_amzn_tls_version.header_name", "Value": ""},
            {"Key": "some.future.attribute", "Value": "x"},
        ],
        {"team": "web", "aws:cloudformation:stack-name": "s"},
        {"owner": "ops"},
    )
    two = settings_from_api(
        HTTPS,
        [
            {"CertificateArn": CERT_B, "IsDefault": False},
            {"CertificateArn": CERT_C, "IsDefault": False},
            {"CertificateArn": CERT_A, "IsDefault": True},
        ],
        [
            {"Key": "some.future.attribute", "Value": "x"},
            {"Key": "routing.http.response.x_frame_options.header_value", "Value": "DENY"},
        ],
        {"team": "web"},
        {"owner": "ops"},
    )
    assert one == two
    assert one.default_certificate == CERT_A
    assert one.certificates == [CERT_B, CERT_C]
    assert one.mutual_authentication is None
    assert one.alpn_policy is None
    assert one.attributes == {
        "routing.http.response.x_frame_options.header_value": "DENY",
        "some.future.attribute": "x",
    }
    assert canonical_settings(one) == one


def test_mutual_authentication_drops_status_and_defaults() -> None:
    read = settings_from_api(
        {
            **HTTPS,
            "MutualAuthentication": {
                "Mode": "verify",
                "TrustStoreArn": STORE,
                "IgnoreClientCertificateExpiry": False,
                "TrustStoreAssociationStatus": "active",
                "AdvertiseTrustStoreCaNames": "off",
            },
        }
    )
    assert read.mutual_authentication is not None
    assert read.mutual_authentication.model_dump(exclude_none=True) == {
        "Mode": "verify",
        "TrustStoreArn": STORE,
    }
    passthrough = settings_from_api(
        {
            **HTTPS,
            "MutualAuthentication": {"Mode": "passthrough", "IgnoreClientCertificateExpiry": False},
        }
    )
    assert passthrough.mutual_authentication is not None
    assert passthrough.mutual_authentication.model_dump(exclude_none=True) == {
        "Mode": "passthrough"
    }
    assert mutual_authentication_request(None) == {"Mode": "off"}


def test_create_listener_request_maps_certificates_and_trust_store() -> None:
    settings = ListenerSettings(
        protocol="HTTPS",
        port=443,
        ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        default_certificate=CERT_A,
        certificates=[CERT_B],
        mutual_authentication={"Mode": "verify", "TrustStoreArn": STORE},  # type: ignore[arg-type]
        tags={"team": "web"},
    )
    actions = [{"Type": "fixed-response", "Order": 1, "FixedResponseConfig": {"StatusCode": "404"}}]
    request = create_listener_request(
        settings, actions, "arn:lb", port=8443, certificate_map={CERT_A: CERT_C, STORE: "arn:ts2"}
    )
    assert request == {
        "LoadBalancerArn": "arn:lb",
        "Protocol": "HTTPS",
        "Port": 8443,
        "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "Certificates": [{"CertificateArn": CERT_C}],
        "MutualAuthentication": {
            "Mode": "verify",
            "TrustStoreArn": "arn:ts2",
            "IgnoreClientCertificateExpiry": False,
            "AdvertiseTrustStoreCaNames": "off",
        },
        "DefaultActions": actions,
        "Tags": [{"Key": "team", "Value": "web"}],
    }
    assert additional_certificate_requests(settings, "arn:l") == [
        {"ListenerArn": "arn:l", "Certificates": [{"CertificateArn": CERT_B}]}
    ]


def test_http_listener_request_has_no_tls_fields() -> None:
    settings = ListenerSettings(protocol="HTTP", port=80)
    request = create_listener_request(
        settings,
        [
            {
                "Type": "forward",
                "Order": 1,
                "ForwardConfig": {
                    "TargetGroups": [{"TargetGroupArn": "arn:tg", "TargetGroupName": "tg"}]
                },
            }
        ],
        "arn:lb",
    )
    assert set(request) == {"LoadBalancerArn", "Protocol", "Port", "DefaultActions"}
    assert request["DefaultActions"][0]["ForwardConfig"]["TargetGroups"] == [
        {"TargetGroupArn": "arn:tg", "Weight": 1}
    ]


def test_a_version_1_document_still_reads_with_its_checksum_and_cannot_recreate() -> None:
    from pathlib import Path

    from albrules.resolve import desired_from_snapshot
    from albrules.restore import restores_settings
    from albrules.snapshot import dumps, expected_checksum, loads

    path = Path(__file__).parents[1] / "corpus" / "valid_other_listener.json"
    document = json.loads(path.read_text())
    assert document["schema_version"] == 1
    snapshot = loads(path.read_bytes(), path.name)
    assert snapshot.schema_version == 1
    assert snapshot.checksum == document["checksum"] == expected_checksum(snapshot)
    assert not snapshot.can_recreate
    assert desired_from_snapshot(snapshot).listener is None
    assert not restores_settings(snapshot, snapshot.source.listener_arn)
    written = json.loads(dumps(snapshot))
    assert written["schema_version"] == 1 and "listener" not in written
    assert written["checksum"] == document["checksum"]


def test_a_version_2_checksum_covers_the_listener_settings() -> None:
    from albrules.models import Snapshot
    from albrules.snapshot import SnapshotInvalid, expected_checksum, snapshot_from_data

    document: dict[str, Any] = {
        "schema_version": 2,
        "created_at": "2026-12-01T00:00:00.000Z",
        "tool_version": "0.1.0",
        "checksum": "0" * 64,
        "source": {
            "account": "111111111111",
            "region": "eu-west-1",
            "load_balancer_arn": f"{ELB}:loadbalancer/app/w/0123456789abcdef",
            "load_balancer_name": "w",
            "listener_arn": f"{ELB}:listener/app/w/0123456789abcdef/0123456789abcdef",
        },
        "listener": {"protocol": "HTTPS", "port": 443, "default_certificate": CERT_A},
        "default_actions": [
            {"Type": "fixed-response", "Order": 1, "FixedResponseConfig": {"StatusCode": "404"}}
        ],
        "rules": [],
    }
    document["checksum"] = expected_checksum(Snapshot.model_validate(document))
    assert snapshot_from_data(document, "s.json").listener is not None
    changed = {**document, "listener": {**document["listener"], "port": 8443}}
    with pytest.raises(SnapshotInvalid):
        snapshot_from_data(changed, "s.json")
    missing = {k: v for k, v in document.items() if k != "listener"}
    with pytest.raises(SnapshotInvalid):
        snapshot_from_data(missing, "s.json")
