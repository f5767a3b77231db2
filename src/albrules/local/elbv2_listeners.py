"""Make moto's ELBv2 listeners behave as AWS documents them: certificates, attributes,
mutual TLS, trust stores, port and protocol changes (snapshot format 2 needs them right).

Each fix names the moto behaviour (5.2.5, pinned) it replaces, for Application Load Balancers
(other load balancer types keep moto's behaviour):

1. CreateListener never refused a port already used on the load balancer (it looked the port
   up among listener ARNs), and ModifyListener did not check a new port at all: now
   ``DuplicateListener``. Ports outside 1..65535: ``ValidationError``.
2. An HTTPS listener could be created without a certificate, and a certificate that exists in
   neither ACM nor IAM was accepted by CreateListener and AddListenerCertificates: now
   ``ValidationError`` ("A certificate must be specified for HTTPS listeners") and
   ``CertificateNotFound``. Exactly one certificate is taken by CreateListener,
   ModifyListener, Add- and RemoveListenerCertificates ("You can specify one certificate per
   call"), without ``IsDefault``.
3. ModifyListener ``Certificates`` replaced the whole certificate list (so the additional
   certificates were lost): now it replaces the default certificate only. DescribeListeners
   lists only the default certificate; DescribeListenerCertificates lists it with
   ``IsDefault`` true and the additional ones with false, in pages (``Marker``/``PageSize``).
   RemoveListenerCertificates refuses the default certificate (``OperationNotPermitted``);
   more than 25 additional certificates on a load balancer is ``TooManyCertificates``.
4. HTTP listeners were given ``SslPolicy`` ELBSecurityPolicy-2016-08: now an HTTP listener has
   no policy; an HTTPS one created without a policy gets :data:`DEFAULT_SSL_POLICY`. HTTPS to
   HTTP removes the policy, the certificates and mutual TLS (as documented for the policy and
   the default certificate); HTTP to HTTPS needs the default certificate in the same call.
   ``Certificates``, ``SslPolicy`` or ``MutualAuthentication`` for an HTTP listener is a
   ``ValidationError``.
5. ``MutualAuthentication`` was ignored: now kept and returned (``Mode`` off, passthrough or
   verify; ``verify`` needs an existing trust store, ``TrustStoreNotFound`` otherwise; AWS's
   read-only ``TrustStoreAssociationStatus`` is returned as ``active``; an HTTPS listener
   without mutual TLS reads ``{"Mode": "off"}``). ``AlpnPolicy`` (TLS listeners of Network
   Load Balancers only) on an ALB listener: ``ALPNPolicyNotSupported``.
6. Listener attributes were Network Load Balancer ones (``tcp.idle_timeout.seconds``) and any
   key and value was accepted: now an ALB listener reads the documented ALB attributes with
   their defaults (the mTLS/TLS header names on HTTPS listeners only), and
   ModifyListenerAttributes refuses an unknown key or a malformed value
   (``InvalidConfigurationRequest``), all or nothing.
7. The default rule could not be tagged (AddTags, RemoveTags and DescribeTags answered
   ``RuleNotFound`` for its ARN): now it can, as any rule.
8. A load balancer created without ``Scheme`` had none (DescribeLoadBalancers left it out):
   now ``internet-facing``, AWS's documented default.
9. Trust stores were not implemented: CreateTrustStore (the CA bundle must be an object in
   the local S3), DescribeTrustStores and DeleteTrustStore (``TrustStoreInUse`` while a
   listener verifies with it), enough for mutual TLS in ``verify`` mode. Revocations, bundle
   contents and shared trust stores are not modelled.

Not confirmed against AWS (the stricter reading is taken): the API's default SSL policy for a
new HTTPS listener; whether AWS drops the additional certificates and mutual TLS on HTTPS to
HTTP; whether more than one certificate per Add/RemoveListenerCertificates call is refused;
the exact validation of attribute values (header names: letters, digits and ``-``, at most 40
characters; ``server.enabled`` true or false; ``access_control_max_age`` a number of seconds;
``access_control_allow_credentials`` true); removing a certificate the listener does not have
(accepted, nothing changes).
"""

from __future__ import annotations

import re
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.elbv2 import models as elbv2_models
from moto.elbv2 import responses as elbv2_responses
from moto.elbv2.exceptions import ELBClientError
from moto.elbv2.ssl_policies import SSL_POLICIES
from moto.moto_api._internal import mock_random

from ..listener_settings import ATTRIBUTE_DEFAULTS

DEFAULT_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
CERTIFICATES_PER_LOAD_BALANCER = 25
DEFAULT_PAGE_SIZE = 400
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,40}$")
#: ALB attributes only an HTTPS listener has (the mTLS and TLS request header names).
HTTPS_ONLY = frozenset(
    k
    for k in ATTRIBUTE_DEFAULTS
    if k.startswith(("routing.http.request.x_amzn_mtls", "routing.http.request.x_amzn_tls"))
)


def _error(code: str, message: str) -> ELBClientError:
    return ELBClientError(code, message)


def _listener(backend: Any, arn: str) -> Any:
    for balancer in backend.load_balancers.values():
        if arn in balancer.listeners:
            return balancer.listeners[arn]
    raise _error("ListenerNotFound", "The specified listener does not exist.")


def _balancer(backend: Any, arn: str) -> Any:
    balancer = backend.load_balancers.get(arn)
    if balancer is None:
        raise _error("LoadBalancerNotFound", "The specified load balancer does not exist.")
    return balancer


def _is_alb(balancer: Any) -> bool:
    return getattr(balancer, "type", "application") == "application"


def _port(value: Any) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise _error("ValidationError", f"Port '{value}' is not a number") from None
    if not 1 <= port <= 65535:
        raise _error("ValidationError", f"Port {port} is outside 1..65535")
    return port


def _check_port_free(balancer: Any, port: int, listener_arn: str | None) -> None:
    for arn, other in balancer.listeners.items():
        if arn != listener_arn and int(other.port) == port:
            raise _error("DuplicateListener", "A listener with the specified port already exists.")


def _one_certificate(backend: Any, certificates: list[dict[str, Any]] | None) -> str:
    if not certificates or len(certificates) != 1:
        raise _error("ValidationError", "You must provide exactly one certificate.")
    certificate = certificates[0]
    if certificate.get("IsDefault") is not None:
        raise _error("ValidationError", "Do not set IsDefault when specifying a certificate.")
    arn = str(certificate.get("CertificateArn") or "")
    if not backend._certificate_exists(certificate_arn=arn):
        raise _error("CertificateNotFound", f"Certificate '{arn}' not found")
    return arn


def _check_policy(policy: str | None) -> None:
    if policy is not None and policy not in SSL_POLICIES:
        raise _error("SSLPolicyNotFound", f"Policy '{policy}' not found")


def _trust_stores(backend: Any) -> dict[str, dict[str, Any]]:
    stores: dict[str, dict[str, Any]] = backend.__dict__.setdefault("_albrules_trust_stores", {})
    return stores


def _mutual_authentication(backend: Any, value: dict[str, Any] | None) -> dict[str, Any] | None:
    """The mutual TLS to store, checked; None when not given."""
    if value is None:
        return None
    mode = value.get("Mode") or "off"
    if mode not in ("off", "passthrough", "verify"):
        raise _error("ValidationError", f"Mode '{mode}' is not off, passthrough or verify")
    if mode == "off":
        return {"Mode": "off"}
    if mode == "passthrough":
        return {"Mode": "passthrough"}
    store = value.get("TrustStoreArn")
    if not store:
        raise _error("ValidationError", "A trust store ARN is required in verify mode")
    if store not in _trust_stores(backend):
        raise _error("TrustStoreNotFound", f"Trust store '{store}' not found")
    advertise = value.get("AdvertiseTrustStoreCaNames") or "off"
    if advertise not in ("on", "off"):
        raise _error("ValidationError", "AdvertiseTrustStoreCaNames is on or off")
    return {
        "Mode": "verify",
        "TrustStoreArn": store,
        "IgnoreClientCertificateExpiry": bool(value.get("IgnoreClientCertificateExpiry")),
        "TrustStoreAssociationStatus": "active",
        "AdvertiseTrustStoreCaNames": advertise,
    }


def _sni(listener: Any) -> list[str]:
    sni: list[str] = listener.__dict__.setdefault("_albrules_sni", [])
    return sni


def _set_tls(listener: Any, https: bool) -> None:
    """The listener's TLS fields as DescribeListeners shows them."""
    if not https:
        listener.ssl_policy = None
        listener.certificate = None
        listener.certificates = []
        listener.mutual_authentication = None
        listener.__dict__["_albrules_sni"] = []
        return
    listener.certificates = [listener.certificate] if listener.certificate else []
    if getattr(listener, "mutual_authentication", None) is None:
        listener.mutual_authentication = {"Mode": "off"}


# --- the response handlers ---------------------------------------------------------------


def create_listener(self: Any) -> Any:
    params = self._get_params()
    backend = self.elbv2_backend
    balancer = _balancer(backend, params.get("LoadBalancerArn"))
    if not _is_alb(balancer):
        return _original["create_listener"](self)
    protocol = str(params.get("Protocol") or "").upper()
    port = _port(params.get("Port"))
    _check_port_free(balancer, port, None)
    https = protocol == "HTTPS"
    certificate = None
    if https:
        if not params.get("Certificates"):
            raise _error("ValidationError", "A certificate must be specified for HTTPS listeners")
        certificate = _one_certificate(backend, params.get("Certificates"))
    elif (
        params.get("Certificates") or params.get("SslPolicy") or params.get("MutualAuthentication")
    ):
        raise _error(
            "ValidationError",
            "Certificates, SslPolicy and MutualAuthentication are for HTTPS listeners",
        )
    policy = params.get("SslPolicy") or (DEFAULT_SSL_POLICY if https else None)
    _check_policy(policy)
    if params.get("AlpnPolicy"):
        raise _error("ALPNPolicyNotSupported", "ALPN policies are supported by TLS listeners only")
    auth = _mutual_authentication(backend, params.get("MutualAuthentication"))
    listener = backend.create_listener(
        load_balancer_arn=balancer.arn,
        protocol=protocol,
        port=port,
        ssl_policy=policy,
        certificate=certificate,
        actions=params.get("DefaultActions", []),
        alpn_policy=[],
        tags=params.get("Tags"),
    )
    listener.port = port
    listener.ssl_policy = policy
    listener.attributes = {}
    listener.mutual_authentication = auth
    _set_tls(listener, https)
    return ActionResult({"Listeners": [listener]})


def modify_listener(self: Any) -> Any:
    params = self._get_params()
    backend = self.elbv2_backend
    listener = _listener(backend, params.get("ListenerArn"))
    balancer = _balancer(backend, listener.load_balancer_arn)
    if not _is_alb(balancer):
        return _original["modify_listener"](self)
    port = _port(params["Port"]) if params.get("Port") is not None else None
    if port is not None:
        _check_port_free(balancer, port, listener.arn)
    protocol = str(params.get("Protocol") or listener.protocol).upper()
    if protocol not in ("HTTP", "HTTPS"):
        raise _error("UnsupportedProtocol", f"Protocol {protocol} is not supported")
    https, was_https = protocol == "HTTPS", listener.protocol == "HTTPS"
    certificate = None
    if params.get("Certificates") is not None:
        certificate = _one_certificate(backend, params.get("Certificates"))
    if https and not was_https and certificate is None:
        raise _error("ValidationError", "A certificate must be specified for HTTPS listeners")
    if not https and (certificate or params.get("SslPolicy") or params.get("MutualAuthentication")):
        raise _error(
            "ValidationError",
            "Certificates, SslPolicy and MutualAuthentication are for HTTPS listeners",
        )
    _check_policy(params.get("SslPolicy"))
    if params.get("AlpnPolicy"):
        raise _error("ALPNPolicyNotSupported", "ALPN policies are supported by TLS listeners only")
    auth = _mutual_authentication(backend, params.get("MutualAuthentication"))
    actions = params.get("DefaultActions") or []
    if actions:  # validated (and applied) by the rules' fidelity layer first: all or nothing
        backend.modify_listener(listener.arn, None, None, None, [], actions)
    if port is not None:
        listener.port = port
    if https and not was_https:
        listener.ssl_policy = DEFAULT_SSL_POLICY
    listener.protocol = protocol
    if certificate is not None:
        listener.certificate = certificate
    if params.get("SslPolicy"):
        listener.ssl_policy = params["SslPolicy"]
    if auth is not None:
        listener.mutual_authentication = auth
    _set_tls(listener, https)
    return ActionResult({"Listeners": [listener]})


def describe_listener_certificates(self: Any) -> Any:
    params = self._get_params()
    listener = _listener(self.elbv2_backend, params.get("ListenerArn"))
    items = []
    if getattr(listener, "certificate", None):
        items.append({"CertificateArn": listener.certificate, "IsDefault": True})
    items += [{"CertificateArn": arn, "IsDefault": False} for arn in _sni(listener)]
    marker = params.get("Marker")
    start = int(marker) if marker and str(marker).isdigit() else 0
    size = int(params.get("PageSize") or DEFAULT_PAGE_SIZE)
    result: dict[str, Any] = {"Certificates": items[start : start + size]}
    if start + size < len(items):
        result["NextMarker"] = str(start + size)
    return ActionResult(result)


def add_listener_certificates(self: Any) -> Any:
    params = self._get_params()
    backend = self.elbv2_backend
    listener = _listener(backend, params.get("ListenerArn"))
    arn = _one_certificate(backend, params.get("Certificates"))
    if listener.protocol != "HTTPS":
        raise _error("ValidationError", "Certificates can be added to HTTPS listeners only")
    sni = _sni(listener)
    if arn not in sni:
        balancer = _balancer(backend, listener.load_balancer_arn)
        used = sum(len(_sni(other)) for other in balancer.listeners.values())
        if used >= CERTIFICATES_PER_LOAD_BALANCER:
            raise _error(
                "TooManyCertificates",
                "You've reached the limit on the number of certificates per load balancer",
            )
        sni.append(arn)
    return ActionResult({"Certificates": [{"CertificateArn": arn, "IsDefault": False}]})


def remove_listener_certificates(self: Any) -> Any:
    params = self._get_params()
    listener = _listener(self.elbv2_backend, params.get("ListenerArn"))
    certificates = params.get("Certificates") or []
    if len(certificates) != 1:
        raise _error("ValidationError", "You must provide exactly one certificate.")
    arn = certificates[0].get("CertificateArn")
    sni = _sni(listener)
    if arn == getattr(listener, "certificate", None) and arn not in sni:
        raise _error("OperationNotPermitted", "The default certificate cannot be removed")
    if arn in sni:
        sni.remove(arn)
    return EmptyResult()


def _attribute_keys(listener: Any) -> list[str]:
    if listener.protocol == "HTTPS":
        return sorted(ATTRIBUTE_DEFAULTS)
    return sorted(k for k in ATTRIBUTE_DEFAULTS if k not in HTTPS_ONLY)


def _attributes(listener: Any) -> dict[str, str]:
    values = {k: ATTRIBUTE_DEFAULTS[k] for k in _attribute_keys(listener)}
    values.update({k: v for k, v in listener.attributes.items() if k in values})
    return values


def _check_attribute(key: str, value: str) -> None:
    bad = False
    if key.endswith(".header_name"):
        bad = not _HEADER_NAME.match(value)
    elif key == "routing.http.response.server.enabled":
        bad = value not in ("true", "false")
    elif key == "routing.http.response.access_control_max_age.header_value":
        bad = value != "" and not value.isdigit()
    elif key == "routing.http.response.access_control_allow_credentials.header_value":
        bad = value not in ("", "true")
    else:
        bad = len(value) > 1024
    if bad:
        raise _error(
            "InvalidConfigurationRequest", f"'{value}' is not a valid value for attribute '{key}'"
        )


def describe_listener_attributes(self: Any) -> Any:
    params = self._get_params()
    backend = self.elbv2_backend
    listener = _listener(backend, params.get("ListenerArn"))
    if not _is_alb(_balancer(backend, listener.load_balancer_arn)):
        return _original["describe_listener_attributes"](self)
    return ActionResult({"Attributes": _attributes(listener)})


def modify_listener_attributes(self: Any) -> Any:
    params = self._get_params()
    backend = self.elbv2_backend
    listener = _listener(backend, params.get("ListenerArn"))
    if not _is_alb(_balancer(backend, listener.load_balancer_arn)):
        return _original["modify_listener_attributes"](self)
    known = set(_attribute_keys(listener))
    changes = {str(a.get("Key")): str(a.get("Value", "")) for a in params.get("Attributes") or []}
    for key, value in changes.items():
        if key not in known:
            raise _error(
                "InvalidConfigurationRequest", f"'{key}' is not a valid attribute of this listener"
            )
        _check_attribute(key, value)
    listener.attributes = {k: v for k, v in listener.attributes.items() if k in known}
    listener.attributes.update(changes)
    return ActionResult({"Attributes": _attributes(listener)})


# --- trust stores --------------------------------------------------------------------------


def _bundle_exists(account: str, bucket: str, key: str) -> bool:
    from moto.s3.models import s3_backends

    try:
        return s3_backends[account]["aws"].get_object(bucket, key) is not None
    except Exception:  # moto's NoSuchBucket/NoSuchKey: the bundle is not there
        return False


def create_trust_store(self: Any) -> Any:
    params = self._get_params()
    backend = self.elbv2_backend
    stores = _trust_stores(backend)
    name = str(params.get("Name") or "")
    if any(s["Name"] == name for s in stores.values()):
        raise _error("DuplicateTrustStoreName", f"A trust store named '{name}' already exists")
    bucket, key = (
        params.get("CaCertificatesBundleS3Bucket"),
        params.get("CaCertificatesBundleS3Key"),
    )
    if not _bundle_exists(backend.account_id, str(bucket), str(key)):
        raise _error("CaCertificatesBundleNotFound", f"s3://{bucket}/{key} does not exist")
    arn = (
        f"arn:aws:elasticloadbalancing:{backend.region_name}:{backend.account_id}:truststore/"
        f"{name}/{mock_random.get_random_hex(16)}"
    )
    store = {
        "Name": name,
        "TrustStoreArn": arn,
        "Status": "ACTIVE",
        "NumberOfCaCertificates": 1,
        "TotalRevokedEntries": 0,
    }
    stores[arn] = store
    backend.tagging_service.tag_resource(arn, params.get("Tags"))
    return ActionResult({"TrustStores": [store]})


def describe_trust_stores(self: Any) -> Any:
    params = self._get_params()
    stores = _trust_stores(self.elbv2_backend)
    arns, names = params.get("TrustStoreArns") or [], params.get("Names") or []
    for arn in arns:
        if arn not in stores:
            raise _error("TrustStoreNotFound", f"Trust store '{arn}' not found")
    found = [
        s
        for s in stores.values()
        if (not arns and not names) or s["TrustStoreArn"] in arns or s["Name"] in names
    ]
    if names and not any(s["Name"] in names for s in found):
        raise _error("TrustStoreNotFound", f"Trust store '{names[0]}' not found")
    return ActionResult({"TrustStores": found})


def delete_trust_store(self: Any) -> Any:
    params = self._get_params()
    backend = self.elbv2_backend
    stores = _trust_stores(backend)
    arn = params.get("TrustStoreArn")
    if arn not in stores:
        raise _error("TrustStoreNotFound", f"Trust store '{arn}' not found")
    for balancer in backend.load_balancers.values():
        for listener in balancer.listeners.values():
            auth = getattr(listener, "mutual_authentication", None) or {}
            if auth.get("TrustStoreArn") == arn:
                raise _error("TrustStoreInUse", f"Trust store '{arn}' is in use by {listener.arn}")
    del stores[arn]
    return EmptyResult()


def _get_resource_by_arn(self: Any, arn: str) -> Any:
    """moto's lookup of a taggable resource, which also finds a listener's default rule."""
    try:
        return _original["_get_resource_by_arn"](self, arn)
    except ELBClientError:
        if ":listener-rule/" in arn:
            for balancer in self.load_balancers.values():
                for listener in balancer.listeners.values():
                    default = listener._default_rule.get(0)
                    if default is not None and default.arn == arn:
                        return default
        raise


def _create_load_balancer(self: Any, *args: Any, **kwargs: Any) -> Any:
    if kwargs.get("scheme") is None:
        kwargs["scheme"] = "internet-facing"
    return _original["create_load_balancer"](self, *args, **kwargs)


_original: dict[str, Any] = {}
_HANDLERS = {
    "create_listener": create_listener,
    "modify_listener": modify_listener,
    "describe_listener_certificates": describe_listener_certificates,
    "add_listener_certificates": add_listener_certificates,
    "remove_listener_certificates": remove_listener_certificates,
    "describe_listener_attributes": describe_listener_attributes,
    "modify_listener_attributes": modify_listener_attributes,
    "create_trust_store": create_trust_store,
    "describe_trust_stores": describe_trust_stores,
    "delete_trust_store": delete_trust_store,
}


def install() -> None:
    """Patch moto's ELBv2 listener handlers in this process (idempotent; before the fault
    injector and the CloudTrail recorder wrap them)."""
    if _original:
        return
    response = elbv2_responses.ELBV2Response
    for name, handler in _HANDLERS.items():
        _original[name] = getattr(response, name, None)
        setattr(response, name, handler)
    backend = elbv2_models.ELBv2Backend
    _original["_get_resource_by_arn"] = backend._get_resource_by_arn
    setattr(backend, "_get_resource_by_arn", _get_resource_by_arn)  # noqa: B010
    _original["create_load_balancer"] = backend.create_load_balancer
    setattr(backend, "create_load_balancer", _create_load_balancer)  # noqa: B010
    # a class default, for listeners made before this was installed
    setattr(elbv2_models.FakeListener, "mutual_authentication", None)  # noqa: B010
