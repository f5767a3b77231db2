"""A listener's own settings (snapshot format 2): from the API, in canonical form, to requests.

The canonical form of :class:`~albrules.models.ListenerSettings` is what two reads of an
unchanged listener always give, whatever AWS fills in:

- ``certificates`` are the additional (SNI) certificates, sorted and unique, without the
  default one (DescribeListenerCertificates lists the default with ``IsDefault`` true, and
  again with false when it is also in the list: that second entry is dropped);
- ``mutual_authentication``: ``Mode`` off is ``None``; ``TrustStoreAssociationStatus`` (a
  read-only status) is dropped; in ``passthrough`` only the mode is kept; in ``verify``
  ``IgnoreClientCertificateExpiry`` false and ``AdvertiseTrustStoreCaNames`` off (the
  defaults) are dropped;
- ``alpn_policy`` empty is ``None``; ``ssl_policy`` is kept as AWS reports it (the policy
  AWS picked at creation is the listener's real policy, needed to recreate it);
- ``attributes``: every key DescribeListenerAttributes returns is kept, except a known key
  whose value is its documented default (:data:`ATTRIBUTE_DEFAULTS`), which is dropped. A key
  albrules does not know is always kept (its default is unknown). So a missing known key
  means "the default", and a plan that restores it sends the default value;
- ``tags`` and ``default_rule_tags`` without the ``aws:`` keys AWS manages.

Certificates and trust stores are ARNs only: a snapshot never holds key material.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .models import Action, ListenerSettings, MutualAuthentication
from .operations import api_actions, api_tags

#: Documented defaults of the ALB listener attributes (ListenerAttribute in the ELBv2 API
#: reference; "HTTP header modification" in the ALB guide). A ``*.header_name`` attribute
#: defaults to the header's own name; an added response header defaults to not added ("").
ATTRIBUTE_DEFAULTS: dict[str, str] = {
    "routing.http.request.x_amzn_mtls_clientcert_serial_number.header_name": (
        "X-Amzn-Mtls-Clientcert-Serial-Number"
    ),
    "routing.http.request.x_amzn_mtls_clientcert_issuer.header_name": (
        "X-Amzn-Mtls-Clientcert-Issuer"
    ),
    "routing.http.request.x_amzn_mtls_clientcert_subject.header_name": (
        "X-Amzn-Mtls-Clientcert-Subject"
    ),
    "routing.http.request.x_amzn_mtls_clientcert_validity.header_name": (
        "X-Amzn-Mtls-Clientcert-Validity"
    ),
    "routing.http.request.x_amzn_mtls_clientcert_leaf.header_name": ("X-Amzn-Mtls-Clientcert-Leaf"),
    "routing.http.request.x_amzn_mtls_clientcert.header_name": "X-Amzn-Mtls-Clientcert",
    "routing.http.request.x_amzn_tls_version.header_name": "X-Amzn-Tls-Version",
    "routing.http.request.x_amzn_tls_cipher_suite.header_name": "X-Amzn-Tls-Cipher-Suite",
    "routing.http.response.server.enabled": "true",
    "routing.http.response.strict_transport_security.header_value": "",
    "routing.http.response.access_control_allow_origin.header_value": "",
    "routing.http.response.access_control_allow_methods.header_value": "",
    "routing.http.response.access_control_allow_headers.header_value": "",
    "routing.http.response.access_control_allow_credentials.header_value": "",
    "routing.http.response.access_control_expose_headers.header_value": "",
    "routing.http.response.access_control_max_age.header_value": "",
    "routing.http.response.content_security_policy.header_value": "",
    "routing.http.response.x_content_type_options.header_value": "",
    "routing.http.response.x_frame_options.header_value": "",
}
#: Protocols that carry a certificate, a security policy and (HTTPS) mutual TLS.
SECURE_PROTOCOLS = frozenset({"HTTPS", "TLS"})


def is_default_attribute(key: str, value: str) -> bool:
    """Whether ``value`` is the documented default of attribute ``key`` (an empty header
    name is taken as the default too: the header keeps its own name)."""
    if key not in ATTRIBUTE_DEFAULTS:
        return False
    if key.endswith(".header_name") and value == "":
        return True
    return value == ATTRIBUTE_DEFAULTS[key]


def attribute_value(attributes: Mapping[str, str], key: str) -> str | None:
    """An attribute's effective value in canonical attributes (absent known key: default)."""
    if key in attributes:
        return attributes[key]
    return ATTRIBUTE_DEFAULTS.get(key)


def canonical_attributes(attributes: Mapping[str, str]) -> dict[str, str]:
    return {k: str(v) for k, v in sorted(attributes.items()) if not is_default_attribute(k, str(v))}


def canonical_mutual_authentication(
    value: Mapping[str, Any] | MutualAuthentication | None,
) -> dict[str, Any] | None:
    """The canonical MutualAuthentication dict, or None for none (``Mode`` off)."""
    if value is None:
        return None
    raw = value.model_dump(exclude_none=True) if isinstance(value, MutualAuthentication) else value
    mode = raw.get("Mode") or "off"
    if mode == "off":
        return None
    if mode != "verify":
        return {"Mode": mode}
    out: dict[str, Any] = {"Mode": "verify"}
    if raw.get("TrustStoreArn"):
        out["TrustStoreArn"] = raw["TrustStoreArn"]
    if raw.get("IgnoreClientCertificateExpiry"):
        out["IgnoreClientCertificateExpiry"] = True
    if raw.get("AdvertiseTrustStoreCaNames") == "on":
        out["AdvertiseTrustStoreCaNames"] = "on"
    return out


def _user_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in sorted((tags or {}).items()) if not k.startswith("aws:")}


def canonical_settings_dict(document: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical form of a ListenerSettings dict (``model_dump(exclude_none=True)``);
    idempotent."""
    default = document.get("default_certificate") or None
    out: dict[str, Any] = {
        "protocol": document["protocol"],
        "port": int(document["port"]),
        "ssl_policy": document.get("ssl_policy") or None,
        "alpn_policy": list(document.get("alpn_policy") or []) or None,
        "default_certificate": default,
        "certificates": sorted({c for c in document.get("certificates") or [] if c != default}),
        "mutual_authentication": canonical_mutual_authentication(
            document.get("mutual_authentication")
        ),
        "attributes": canonical_attributes(document.get("attributes") or {}),
        "tags": _user_tags(document.get("tags")),
        "default_rule_tags": _user_tags(document.get("default_rule_tags")),
    }
    return {k: v for k, v in out.items() if v is not None}


def canonical_settings(settings: ListenerSettings) -> ListenerSettings:
    return ListenerSettings.model_validate(
        canonical_settings_dict(settings.model_dump(exclude_none=True))
    )


def settings_from_api(
    listener: Mapping[str, Any],
    certificates: Iterable[Mapping[str, Any]] = (),
    attributes: Iterable[Mapping[str, Any]] = (),
    tags: Mapping[str, str] | None = None,
    default_rule_tags: Mapping[str, str] | None = None,
) -> ListenerSettings:
    """Canonical settings from a DescribeListeners item, the DescribeListenerCertificates
    items (every page), DescribeListenerAttributes' ``Attributes`` and the two tag maps."""
    certificates = list(certificates)
    default = next((c["CertificateArn"] for c in certificates if c.get("IsDefault")), None)
    if default is None:  # DescribeListeners carries the default certificate (no IsDefault)
        listed = listener.get("Certificates") or []
        default = listed[0]["CertificateArn"] if listed else None
    document = {
        "protocol": listener["Protocol"],
        "port": listener["Port"],
        "ssl_policy": listener.get("SslPolicy"),
        "alpn_policy": listener.get("AlpnPolicy"),
        "default_certificate": default,
        "certificates": [c["CertificateArn"] for c in certificates if not c.get("IsDefault")],
        "mutual_authentication": listener.get("MutualAuthentication"),
        "attributes": {a["Key"]: a.get("Value", "") for a in attributes},
        "tags": dict(tags or {}),
        "default_rule_tags": dict(default_rule_tags or {}),
    }
    return ListenerSettings.model_validate(canonical_settings_dict(document))


# --- requests ---------------------------------------------------------------------------


def mapped(arn: str, certificate_map: Mapping[str, str] | None) -> str:
    """``arn`` through ``--certificate-map OLD=NEW`` (also used for trust store ARNs)."""
    return (certificate_map or {}).get(arn, arn)


def mutual_authentication_request(
    value: MutualAuthentication | Mapping[str, Any] | None,
    certificate_map: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The API's MutualAuthentication for canonical settings: ``{"Mode": "off"}`` for none;
    in ``verify`` mode the defaults are sent explicitly (a request that leaves them out must
    not keep a value the listener had)."""
    canonical = canonical_mutual_authentication(value)
    if canonical is None:
        return {"Mode": "off"}
    if canonical["Mode"] == "verify":
        canonical = {
            "IgnoreClientCertificateExpiry": False,
            "AdvertiseTrustStoreCaNames": "off",
            **canonical,
        }
    if "TrustStoreArn" in canonical:
        canonical["TrustStoreArn"] = mapped(canonical["TrustStoreArn"], certificate_map)
    return canonical


def attributes_request(attributes: Mapping[str, str]) -> list[dict[str, str]]:
    """``Attributes`` for ModifyListenerAttributes, sorted by key."""
    return [{"Key": k, "Value": v} for k, v in sorted(attributes.items())]


def certificate_request(
    arn: str, certificate_map: Mapping[str, str] | None = None
) -> dict[str, str]:
    return {"CertificateArn": mapped(arn, certificate_map)}


def _action_dicts(default_actions: Iterable[Action | Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        a.model_dump(mode="json", exclude_none=True) if isinstance(a, Action) else dict(a)
        for a in default_actions
    ]


def create_listener_request(
    settings: ListenerSettings,
    default_actions: Iterable[Action | Mapping[str, Any]],
    load_balancer_arn: str,
    *,
    port: int | None = None,
    certificate_map: dict[str, str] | None = None,
    oidc: dict[str, str] | None = None,
    secret_values: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The CreateListener keyword arguments that recreate a listener with ``settings``.

    CreateListener takes the default certificate only; the additional certificates go in
    :func:`additional_certificate_requests` (one AddListenerCertificates each), the
    attributes in :func:`attributes_request` (ModifyListenerAttributes) and the default
    rule's tags in AddTags once the listener exists. ``port`` overrides the snapshot's (a
    drill on a free port); ``certificate_map`` maps certificate and trust store ARNs;
    ``oidc``/``secret_values`` are :func:`albrules.operations.api_actions`'."""
    request: dict[str, Any] = {
        "LoadBalancerArn": load_balancer_arn,
        "Protocol": settings.protocol,
        "Port": port if port is not None else settings.port,
        "DefaultActions": api_actions(
            _action_dicts(default_actions), oidc or {}, secret_values or {}
        ),
    }
    if settings.ssl_policy:
        request["SslPolicy"] = settings.ssl_policy
    if settings.default_certificate:
        request["Certificates"] = [
            certificate_request(settings.default_certificate, certificate_map)
        ]
    if settings.alpn_policy:
        request["AlpnPolicy"] = list(settings.alpn_policy)
    if settings.mutual_authentication is not None:
        request["MutualAuthentication"] = mutual_authentication_request(
            settings.mutual_authentication, certificate_map
        )
    if settings.tags:
        request["Tags"] = api_tags(settings.tags)
    return request


def additional_certificate_requests(
    settings: ListenerSettings,
    listener_arn: str,
    certificate_map: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """AddListenerCertificates keyword arguments, one certificate a call (the API's limit)."""
    return [
        {"ListenerArn": listener_arn, "Certificates": [certificate_request(arn, certificate_map)]}
        for arn in settings.certificates
    ]


def referenced_certificates(settings: ListenerSettings) -> list[str]:
    """Every certificate ARN the settings name, the default first."""
    default = [settings.default_certificate] if settings.default_certificate else []
    return default + list(settings.certificates)


def referenced_trust_store(settings: ListenerSettings) -> str | None:
    auth = settings.mutual_authentication
    return auth.TrustStoreArn if auth is not None else None
