"""An in-memory model of one ALB listener's rules, as the ELBv2 API documents them.

This is not moto. It follows the documented behaviour (the API reference, the user guide and
/work/shared/notes/elbv2-facts.md), and where AWS's behaviour is unconfirmed it takes the
stricter reading, so code that works here works on either reading:

- ``SetRulePriorities`` refuses a priority held by a rule that the same call does not move
  (``PriorityInUse``). By default the call is atomic, so a swap inside one call is allowed;
  with ``atomic_priorities=False`` each pair is applied in turn (atomicity is unconfirmed),
  and a pair that lands on a priority still held at that moment is refused.
- A condition carrying the legacy ``Values`` together with its ``*Config`` form is refused
  (send only the ``*Config`` form on write; whether AWS accepts both is unconfirmed).
- ``ModifyRule`` on the default rule is refused (``OperationNotPermitted``): the default
  actions change through ``ModifyListener(DefaultActions=...)``.
- ``CreateRule`` needs each OIDC ``ClientSecret``; ``UseExistingClientSecret`` is accepted by
  ``ModifyRule`` and ``ModifyListener`` only, for a client the rule (or listener) already has.

Requests are first checked by botocore's own ``ParamValidator`` against the elbv2 service
model, exactly as a boto3 client checks them before sending: an unknown key (a
``TargetGroupName`` left in a write), a wrong type, a missing required member or a value under
a documented minimum raises ``ParamValidationError``. Server-side checks raise ``ClientError``
with an error code the service model declares for that operation (or ``ValidationError``,
AWS's generic answer to a request that breaks a constraint), and a failed call changes
nothing. Reads return what the API returns: priorities as strings (``"default"`` for the
default rule), the legacy ``Values`` beside the ``*Config`` form of host-header and
path-pattern conditions, the defaults AWS fills in (target-group weight 1, stickiness
disabled, redirect components, authenticate-* settings), and never an OIDC client secret.
"""

from __future__ import annotations

import copy
import functools
import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from botocore.exceptions import ClientError, ParamValidationError
from botocore.loaders import Loader
from botocore.model import ServiceModel
from botocore.validate import ParamValidator

from albrules.arns import parse_listener_arn
from albrules.canonical import canonical_actions, canonical_rule, conditions_key
from albrules.listener_settings import ATTRIBUTE_DEFAULTS, settings_from_api
from albrules.models import ListenerState, Source
from albrules.operations import request_for

SERVICE = ServiceModel(Loader().load_service_model("elbv2", "service-2"), "elbv2")
_VALIDATOR = ParamValidator()

ACCOUNT = "123456789012"
REGION = "us-east-1"
LB_ID = "50dc6c495c0c9188"
LISTENER_ID = "f2f7dc8efc522ab2"

PRIORITY_MIN, PRIORITY_MAX = 1, 50000
ORDER_MIN, ORDER_MAX = 1, 50000
PAGE_SIZE_MAX = 400
DEFAULT_PAGE_SIZE = 400  # not documented; the API maximum
TAG_ARNS_MAX = 20
TAGS_PER_RESOURCE = 50
VALUE_MAX_LEN = 128
HEADER_NAME_MAX_LEN = 40
REWRITE_MAX_LEN = 1024
TARGET_GROUPS_PER_ACTION = 5
WILDCARDS_PER_RULE = 5
WEIGHT_MIN, WEIGHT_MAX = 0, 999
STICKINESS_MAX = 604800

MUTATING = (
    "create_rule",
    "modify_rule",
    "delete_rule",
    "set_rule_priorities",
    "modify_listener",
    "add_tags",
    "remove_tags",
    "add_listener_certificates",
    "remove_listener_certificates",
    "modify_listener_attributes",
)
CERTIFICATES_PER_LOAD_BALANCER = 25  # additional (SNI) certificates, default ones aside
SSL_POLICY_DEFAULT = "ELBSecurityPolicy-2016-08"  # the API's default (unconfirmed)
SSL_POLICIES = frozenset(
    {
        "ELBSecurityPolicy-2016-08",
        "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "ELBSecurityPolicy-FS-1-2-2019-08",
    }
)

CONDITION_KEYS = {
    "host-header": "HostHeaderConfig",
    "path-pattern": "PathPatternConfig",
    "http-header": "HttpHeaderConfig",
    "http-request-method": "HttpRequestMethodConfig",
    "query-string": "QueryStringConfig",
    "source-ip": "SourceIpConfig",
}
LEGACY_VALUES = ("host-header", "path-pattern")
REGEX_FIELDS = ("host-header", "path-pattern", "http-header")
ONE_PER_RULE = ("host-header", "path-pattern", "http-request-method", "source-ip")
ACTION_KEYS = {
    "forward": "ForwardConfig",
    "redirect": "RedirectConfig",
    "fixed-response": "FixedResponseConfig",
    "authenticate-oidc": "AuthenticateOidcConfig",
    "authenticate-cognito": "AuthenticateCognitoConfig",
    "jwt-validation": "JwtValidationConfig",
}
TERMINAL = ("forward", "redirect", "fixed-response")
TRANSFORM_KEYS = {
    "host-header-rewrite": "HostHeaderRewriteConfig",
    "url-rewrite": "UrlRewriteConfig",
}
# What the API fills in when a write leaves them out (the ELB user guide: redirect actions,
# authenticate actions). Written out here, not imported from albrules, on purpose.
API_REDIRECT_DEFAULTS = {
    "Protocol": "#{protocol}",
    "Port": "#{port}",
    "Host": "#{host}",
    "Path": "/#{path}",
    "Query": "#{query}",
}
API_AUTHENTICATE_DEFAULTS = {
    "Scope": "openid",
    "SessionCookieName": "AWSELBAuthSessionCookie",
    "SessionTimeout": 604800,
    "OnUnauthenticatedRequest": "authenticate",
}
GENERIC_ERRORS = frozenset({"ValidationError"})


def operation_name(method: str) -> str:
    """``set_rule_priorities`` -> ``SetRulePriorities``."""
    return "".join(part.capitalize() for part in method.split("_"))


@functools.cache
def declared_errors(operation: str) -> frozenset[str]:
    """The error codes the service model declares for an operation."""
    shapes = SERVICE.operation_model(operation).error_shapes
    return frozenset(s.metadata["error"]["code"] for s in shapes)


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


@dataclass
class StoredRule:
    """A rule as the load balancer holds it: the write form, secrets kept apart."""

    arn: str
    priority: int | None  # None: the default rule
    conditions: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    transforms: list[dict[str, Any]] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # OIDC client id -> secret

    @property
    def is_default(self) -> bool:
        return self.priority is None


@dataclass(frozen=True)
class Call:
    method: str
    kwargs: dict[str, Any]


Observer = Callable[["Elbv2Model", str, dict[str, Any]], None]
F = TypeVar("F", bound=Callable[..., Any])


def api(fn: F) -> F:
    """An API method: botocore's parameter check, the call recorded, observers told after
    a mutating call succeeds, ``ResponseMetadata`` added."""
    method = fn.__name__
    operation = operation_name(method)
    input_shape = SERVICE.operation_model(operation).input_shape

    @functools.wraps(fn)
    def call(self: Elbv2Model, **kwargs: Any) -> dict[str, Any]:
        report = _VALIDATOR.validate(kwargs, input_shape)
        if report.has_errors():
            raise ParamValidationError(report=report.generate_report())
        self.calls.append(Call(method, copy.deepcopy(kwargs)))
        self._operation = operation
        response = fn(self, **kwargs)  # the methods copy what they keep; they never mutate input
        if method in MUTATING:
            for observer in list(self.observers):
                observer(self, method, kwargs)
        response["ResponseMetadata"] = {"HTTPStatusCode": 200, "RetryAttempts": 0}
        return response

    return call  # type: ignore[return-value]


class Elbv2Model:
    """One Application Load Balancer with one listener, as a fake boto3 ``elbv2`` client.

    ``rules_per_load_balancer`` is the quota (rules of all the load balancer's listeners,
    default rules aside); ``other_rules`` is how many of them the load balancer's other
    listeners hold. ``target_groups``, when given, are the target groups that exist.
    """

    def __init__(
        self,
        default_actions: list[dict[str, Any]] | None = None,
        *,
        rules_per_load_balancer: int = 100,
        other_rules: int = 0,
        target_groups: Iterable[str] | None = None,
        atomic_priorities: bool = True,
        condition_values_per_rule: int = 5,
        name: str = "unit",
        port: int = 80,
        protocol: str = "HTTP",
        account: str = ACCOUNT,
        region: str = REGION,
    ) -> None:
        prefix = f"arn:aws:elasticloadbalancing:{region}:{account}"
        self.load_balancer_arn = f"{prefix}:loadbalancer/app/{name}/{LB_ID}"
        self.listener_arn = f"{prefix}:listener/app/{name}/{LB_ID}/{LISTENER_ID}"
        self._rule_prefix = f"{prefix}:listener-rule/app/{name}/{LB_ID}/{LISTENER_ID}/"
        self.port = port
        self.protocol = protocol
        self.rules_per_load_balancer = rules_per_load_balancer
        self.other_rules = other_rules
        self.target_groups = set(target_groups) if target_groups is not None else None
        self.atomic_priorities = atomic_priorities
        self.condition_values_per_rule = condition_values_per_rule
        self.calls: list[Call] = []
        self.observers: list[Observer] = []
        self.rules: dict[str, StoredRule] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self._ids = itertools.count(1)
        self._operation = "CreateListener"
        default = StoredRule(arn=self._new_arn(), priority=None)
        default.actions, default.secrets = self._actions(
            default_actions
            or [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
            existing={},
            may_reuse=False,
        )
        self.rules[default.arn] = default
        self.tags[default.arn] = {}
        # the listener's own settings (format 2); certificates are ARNs that "exist" when
        # listed in ``known_certificates`` (None: every ARN exists)
        self.ssl_policy: str | None = SSL_POLICY_DEFAULT if protocol == "HTTPS" else None
        self.default_certificate: str | None = None
        self.certificates: list[str] = []  # additional, in the order added
        self.mutual_authentication: dict[str, Any] | None = None
        self.attributes: dict[str, str] = {}
        self.known_certificates: set[str] | None = None
        self.trust_stores: set[str] | None = None
        self.tags[self.listener_arn] = {}
        if protocol == "HTTPS":
            self.default_certificate = f"arn:aws:acm:{region}:{account}:certificate/default"

    # --- state -------------------------------------------------------------------------------

    @property
    def default_rule(self) -> StoredRule:
        return next(r for r in self.rules.values() if r.is_default)

    def listener_rules(self) -> list[StoredRule]:
        """The rules other than the default rule, by priority."""
        return sorted((r for r in self.rules.values() if not r.is_default), key=_priority_of)

    def rule_at(self, priority: int) -> StoredRule | None:
        return next((r for r in self.rules.values() if r.priority == priority), None)

    def mutations(self) -> list[Call]:
        return [c for c in self.calls if c.method in MUTATING]

    def condition_keys(self) -> list[str]:
        """Each rule's identity (its canonical conditions), without recording a call."""
        return [conditions_key(r.conditions) for r in self.listener_rules()]

    def view(self) -> dict[str, Any]:
        """The routing in canonical form, by rule ARN, without recording a call."""
        default = self.default_rule
        return {
            "default_actions": canonical_actions(_read_actions(default.actions)),
            "rules": {
                r.arn: canonical_rule(
                    {
                        "priority": r.priority,
                        "conditions": _read_conditions(r.conditions),
                        "actions": _read_actions(r.actions),
                        "transforms": r.transforms,
                        "tags": self.tags.get(r.arn, {}),
                    }
                )
                for r in self.listener_rules()
            },
        }

    def settings(self) -> dict[str, Any]:
        """The listener's settings in canonical form, without recording a call."""
        certificates = [{"CertificateArn": a, "IsDefault": False} for a in self.certificates]
        if self.default_certificate:
            certificates.append({"CertificateArn": self.default_certificate, "IsDefault": True})
        values = {**ATTRIBUTE_DEFAULTS, **self.attributes}
        return settings_from_api(
            self._listener(),
            certificates,
            [{"Key": k, "Value": v} for k, v in values.items()],
            self.tags[self.listener_arn],
            self.tags[self.default_rule.arn],
        ).model_dump(mode="json", exclude_none=True)

    # --- errors --------------------------------------------------------------------------------

    def _error(self, code: str, message: str) -> NoReturn:
        operation = self._operation
        if code not in GENERIC_ERRORS and code not in declared_errors(operation):
            raise AssertionError(f"the model raised {code}, which {operation} never returns")
        raise ClientError(
            {
                "Error": {"Type": "Sender", "Code": code, "Message": message},
                "ResponseMetadata": {"HTTPStatusCode": 400, "RetryAttempts": 0},
            },
            operation,
        )

    def _new_arn(self) -> str:
        return f"{self._rule_prefix}{next(self._ids):016x}"

    def _rule(self, arn: str) -> StoredRule:
        rule = self.rules.get(arn)
        if rule is None:
            self._error("RuleNotFound", f"One or more rules not found: '{arn}'")
        return rule

    def _check_listener(self, arn: str) -> None:
        if arn != self.listener_arn:
            self._error("ListenerNotFound", f"One or more listeners not found: '{arn}'")

    def _check_priority(self, priority: int) -> None:
        if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
            self._error("ValidationError", f"Priority {priority} is outside 1..50000")

    # --- checks of the write forms ------------------------------------------------------------

    def _conditions(self, conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not conditions:
            self._error("ValidationError", "A rule needs at least one condition")
        fields = Counter(c["Field"] for c in conditions)
        for name in ONE_PER_RULE:
            if fields[name] > 1:
                self._error("ValidationError", f"A rule takes at most one {name} condition")
        stored = []
        values = wildcards = 0
        for condition in conditions:
            name = condition["Field"]
            if name not in CONDITION_KEYS:
                self._error("ValidationError", f"Condition field '{name}' is not supported")
            key = CONDITION_KEYS[name]
            if any(k in condition for k in CONDITION_KEYS.values() if k != key):
                self._error("ValidationError", f"A {name} condition takes only {key}")
            config = copy.deepcopy(condition.get(key))
            legacy = condition.get("Values")
            regex = condition.get("RegexValues")
            if legacy is not None and name not in LEGACY_VALUES:
                self._error("ValidationError", f"A {name} condition takes its values in {key}")
            if regex is not None and name not in REGEX_FIELDS:
                self._error("ValidationError", f"RegexValues is not allowed on {name}")
            if config is not None and (legacy is not None or regex is not None):
                self._error("ValidationError", f"Send Values or {key}, not both")
            if config is None:
                if not legacy and not regex:
                    self._error("ValidationError", f"A {name} condition needs {key}")
                config = {"Values": list(legacy or [])} if legacy else {}
                if regex:
                    config["RegexValues"] = list(regex)
            plain, patterns = _condition_strings(name, config)
            if not plain and not patterns:
                self._error("ValidationError", f"The {name} condition has no value")
            if name == "http-header" and len(config["HttpHeaderName"]) > HEADER_NAME_MAX_LEN:
                self._error("ValidationError", "An HTTP header name is at most 40 characters")
            for value in plain + patterns:
                if len(value) > VALUE_MAX_LEN:
                    self._error("ValidationError", "A condition value is at most 128 characters")
            values += len(plain) + len(patterns)
            wildcards += sum(v.count("*") + v.count("?") for v in plain)
            stored.append({"Field": name, key: config})
        if values > self.condition_values_per_rule:
            self._error("ValidationError", f"{values} condition values; the quota is exceeded")
        if wildcards > WILDCARDS_PER_RULE:
            self._error("ValidationError", f"{wildcards} wildcards; the quota is exceeded")
        return stored

    def _actions(
        self, actions: list[dict[str, Any]], *, existing: dict[str, str], may_reuse: bool
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """The actions as stored (secrets taken out) and the OIDC secrets by client id."""
        if not actions:
            self._error("ValidationError", "At least one action is required")
        if len(actions) > 1 and any("Order" not in a for a in actions):
            self._error("InvalidLoadBalancerAction", "Every action needs an Order")
        orders = [a.get("Order", i + 1) for i, a in enumerate(actions)]
        if any(not ORDER_MIN <= o <= ORDER_MAX for o in orders):
            self._error("ValidationError", "Action Order is outside 1..50000")
        if len(set(orders)) != len(orders):
            self._error("InvalidLoadBalancerAction", "Two actions share an Order")
        by_order = [a for _, a in sorted(zip(orders, actions, strict=True), key=lambda p: p[0])]
        terminal = [i for i, a in enumerate(by_order) if a["Type"] in TERMINAL]
        if terminal != [len(by_order) - 1]:
            self._error(
                "InvalidLoadBalancerAction",
                "Exactly one forward, redirect or fixed-response action is required, and last",
            )
        stored: list[dict[str, Any]] = []
        secrets: dict[str, str] = {}
        for action in actions:
            kind = action["Type"]
            if kind not in ACTION_KEYS:
                self._error("ValidationError", f"Action type '{kind}' is not supported")
            key = ACTION_KEYS[kind]
            if any(k in action for k in ACTION_KEYS.values() if k != key):
                self._error("InvalidLoadBalancerAction", f"A {kind} action takes only {key}")
            if "TargetGroupArn" in action and kind != "forward":
                self._error("InvalidLoadBalancerAction", f"A {kind} action has no target group")
            if kind == "forward":
                self._forward(action)
            elif key not in action:
                self._error("InvalidLoadBalancerAction", f"A {kind} action needs {key}")
            if kind == "fixed-response":
                self._fixed_response(action[key])
            action = copy.deepcopy(action)
            if kind == "authenticate-oidc":
                config = action[key]
                client = config["ClientId"]
                secret = config.pop("ClientSecret", None)
                reuse = config.pop("UseExistingClientSecret", None)
                if secret and reuse:
                    self._error("ValidationError", "ClientSecret and UseExistingClientSecret")
                if reuse:
                    if not may_reuse:
                        self._error(
                            "ValidationError", "UseExistingClientSecret is only for a modify"
                        )
                    if client not in existing:
                        self._error("ValidationError", f"No existing secret for client {client}")
                    secrets[client] = existing[client]
                elif secret:
                    secrets[client] = secret
                else:
                    self._error("ValidationError", f"ClientSecret is required for {client}")
            stored.append(action)
        return stored, secrets

    def _forward(self, action: dict[str, Any]) -> None:
        config = action.get("ForwardConfig") or {}
        groups = config.get("TargetGroups") or []
        single = action.get("TargetGroupArn")
        if not groups and not single:
            self._error("InvalidLoadBalancerAction", "A forward action needs a target group")
        arns = [g["TargetGroupArn"] for g in groups] or [single]
        if single and groups and arns != [single]:
            self._error("InvalidLoadBalancerAction", "TargetGroupArn and ForwardConfig differ")
        if len(arns) > TARGET_GROUPS_PER_ACTION:
            self._error("ValidationError", "An action forwards to at most 5 target groups")
        if len(set(arns)) != len(arns):
            self._error("ValidationError", "A target group is listed twice")
        for group in groups:
            if not WEIGHT_MIN <= group.get("Weight", 1) <= WEIGHT_MAX:
                self._error("ValidationError", "A target group weight is 0..999")
        if self.target_groups is not None:
            for arn in arns:
                if arn not in self.target_groups:
                    self._error("TargetGroupNotFound", f"Target group '{arn}' not found")
        sticky = config.get("TargetGroupStickinessConfig") or {}
        if sticky.get("Enabled") and not 1 <= sticky.get("DurationSeconds", 0) <= STICKINESS_MAX:
            self._error("ValidationError", "Stickiness needs DurationSeconds 1..604800")

    def _fixed_response(self, config: dict[str, Any]) -> None:
        status = config["StatusCode"]
        if not (len(status) == 3 and status[0] in "245" and status[1:].isdigit()):
            self._error("ValidationError", f"StatusCode {status} is not 2XX, 4XX or 5XX")
        if len(config.get("MessageBody", "")) > 1024:
            self._error("ValidationError", "MessageBody is at most 1024 characters")

    def _transforms(self, transforms: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kinds = Counter(t["Type"] for t in transforms)
        for kind, count in kinds.items():
            if count > 1:
                self._error("ValidationError", f"A rule takes at most one {kind} transform")
        for transform in transforms:
            key = TRANSFORM_KEYS[transform["Type"]]
            if any(k in transform for k in TRANSFORM_KEYS.values() if k != key):
                self._error("ValidationError", f"A {transform['Type']} transform takes {key}")
            rewrites = (transform.get(key) or {}).get("Rewrites") or []
            if not rewrites:
                self._error("ValidationError", "A transform needs a rewrite")
            for rewrite in rewrites:
                if max(len(rewrite["Regex"]), len(rewrite["Replace"])) > REWRITE_MAX_LEN:
                    self._error("ValidationError", "Regex and Replace are at most 1024 characters")
        return copy.deepcopy(transforms)

    def _tag_list(self, tags: list[dict[str, str]], duplicate_code: str) -> dict[str, str]:
        keys = [t["Key"] for t in tags]
        if len(set(keys)) != len(keys):
            self._error(duplicate_code, "A tag key is given twice")
        for key in keys:
            if key.startswith("aws:"):
                self._error("ValidationError", f"Tag key '{key}' uses the reserved aws: prefix")
        return {t["Key"]: t.get("Value", "") for t in tags}

    def _tag_targets(self, arns: list[str]) -> list[StoredRule]:
        if len(arns) > TAG_ARNS_MAX:
            self._error("ValidationError", f"{len(arns)} resource ARNs; at most 20 a call")
        return [
            self._listener_as_taggable() if arn == self.listener_arn else self._rule(arn)
            for arn in arns
        ]

    def _listener_as_taggable(self) -> StoredRule:
        """The listener, for the tag calls (only its ARN is used)."""
        return StoredRule(arn=self.listener_arn, priority=None)

    def _check_certificate(self, arn: str) -> None:
        if self.known_certificates is not None and arn not in self.known_certificates:
            self._error("CertificateNotFound", f"Certificate '{arn}' not found")

    def _one_certificate(self, certificates: list[dict[str, Any]]) -> str:
        if len(certificates) != 1 or certificates[0].get("IsDefault") is not None:
            self._error("ValidationError", "Give exactly one certificate, without IsDefault")
        arn: str = certificates[0]["CertificateArn"]
        self._check_certificate(arn)
        return arn

    # --- reads -------------------------------------------------------------------------------

    def _describe(self, rule: StoredRule) -> dict[str, Any]:
        return {
            "RuleArn": rule.arn,
            "Priority": "default" if rule.priority is None else str(rule.priority),
            "Conditions": _read_conditions(rule.conditions),
            "Actions": _read_actions(rule.actions),
            "IsDefault": rule.is_default,
            "Transforms": copy.deepcopy(rule.transforms),
        }

    def _listener(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ListenerArn": self.listener_arn,
            "LoadBalancerArn": self.load_balancer_arn,
            "Port": self.port,
            "Protocol": self.protocol,
            "DefaultActions": _read_actions(self.default_rule.actions),
        }
        if self.protocol == "HTTPS":
            out["SslPolicy"] = self.ssl_policy
            out["Certificates"] = [{"CertificateArn": self.default_certificate}]
            auth = self.mutual_authentication or {"Mode": "off"}
            if auth["Mode"] == "verify":  # what AWS fills in
                auth = {
                    "IgnoreClientCertificateExpiry": False,
                    "AdvertiseTrustStoreCaNames": "off",
                    **auth,
                    "TrustStoreAssociationStatus": "active",
                }
            out["MutualAuthentication"] = copy.deepcopy(auth)
        return out

    @api
    def describe_load_balancers(
        self,
        LoadBalancerArns: list[str] | None = None,
        Names: list[str] | None = None,
        Marker: str | None = None,
        PageSize: int | None = None,
    ) -> dict[str, Any]:
        wanted = list(LoadBalancerArns or []) + list(Names or [])
        name = parse_listener_arn(self.listener_arn).load_balancer_name
        for value in wanted:
            if value not in (self.load_balancer_arn, name):
                self._error("LoadBalancerNotFound", f"Load balancer '{value}' not found")
        return {
            "LoadBalancers": [
                {
                    "LoadBalancerArn": self.load_balancer_arn,
                    "LoadBalancerName": name,
                    "Scheme": "internet-facing",
                    "Type": "application",
                }
            ]
        }

    @api
    def describe_listener_certificates(
        self, ListenerArn: str, Marker: str | None = None, PageSize: int | None = None
    ) -> dict[str, Any]:
        self._check_listener(ListenerArn)
        items = []
        if self.default_certificate:
            items.append({"CertificateArn": self.default_certificate, "IsDefault": True})
        items += [{"CertificateArn": arn, "IsDefault": False} for arn in self.certificates]
        start = int(Marker[2:]) if Marker else 0
        size = PageSize or DEFAULT_PAGE_SIZE
        out: dict[str, Any] = {"Certificates": items[start : start + size]}
        if start + size < len(items):
            out["NextMarker"] = f"m:{start + size}"
        return out

    @api
    def describe_listener_attributes(self, ListenerArn: str) -> dict[str, Any]:
        self._check_listener(ListenerArn)
        values = {**ATTRIBUTE_DEFAULTS, **self.attributes}
        return {"Attributes": [{"Key": k, "Value": v} for k, v in sorted(values.items())]}

    @api
    def describe_listeners(
        self,
        LoadBalancerArn: str | None = None,
        ListenerArns: list[str] | None = None,
        Marker: str | None = None,
        PageSize: int | None = None,
    ) -> dict[str, Any]:
        if LoadBalancerArn is not None and LoadBalancerArn != self.load_balancer_arn:
            self._error("LoadBalancerNotFound", f"Load balancer '{LoadBalancerArn}' not found")
        for arn in ListenerArns or []:
            self._check_listener(arn)
        return {"Listeners": [self._listener()]}

    @api
    def describe_rules(
        self,
        ListenerArn: str | None = None,
        RuleArns: list[str] | None = None,
        Marker: str | None = None,
        PageSize: int | None = None,
    ) -> dict[str, Any]:
        if ListenerArn is None and RuleArns is None:
            self._error("ValidationError", "Give ListenerArn or RuleArns")
        if ListenerArn is not None:
            self._check_listener(ListenerArn)
        if PageSize is not None and PageSize > PAGE_SIZE_MAX:
            self._error("ValidationError", f"PageSize {PageSize} is outside 1..400")
        rules = sorted(self.rules.values(), key=lambda r: (r.is_default, r.priority or 0))
        if RuleArns is not None:
            wanted = {self._rule(arn).arn for arn in RuleArns}
            rules = [r for r in rules if r.arn in wanted]
        start = 0
        if Marker is not None:
            if not (Marker.startswith("m:") and Marker[2:].isdigit()):
                self._error("ValidationError", f"Marker '{Marker}' is not valid")
            start = int(Marker[2:])
        size = PageSize or DEFAULT_PAGE_SIZE
        out: dict[str, Any] = {"Rules": [self._describe(r) for r in rules[start : start + size]]}
        if start + size < len(rules):
            out["NextMarker"] = f"m:{start + size}"
        return out

    @api
    def describe_tags(self, ResourceArns: list[str]) -> dict[str, Any]:
        rules = self._tag_targets(ResourceArns)
        return {
            "TagDescriptions": [
                {
                    "ResourceArn": rule.arn,
                    "Tags": [{"Key": k, "Value": v} for k, v in self.tags[rule.arn].items()],
                }
                for rule in rules
            ]
        }

    # --- writes ------------------------------------------------------------------------------

    @api
    def create_rule(
        self,
        ListenerArn: str,
        Conditions: list[dict[str, Any]],
        Priority: int,
        Actions: list[dict[str, Any]],
        Tags: list[dict[str, str]] | None = None,
        Transforms: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        self._check_listener(ListenerArn)
        self._check_priority(Priority)
        if self.rule_at(Priority) is not None:
            self._error("PriorityInUse", f"Priority '{Priority}' is currently in use")
        conditions = self._conditions(Conditions)
        actions, secrets = self._actions(Actions, existing={}, may_reuse=False)
        transforms = self._transforms(Transforms or [])
        tags = self._tag_list(Tags or [], "ValidationError")
        if len(tags) > TAGS_PER_RESOURCE:
            self._error("TooManyTags", "A rule takes at most 50 tags")
        if len(self.listener_rules()) + self.other_rules >= self.rules_per_load_balancer:
            self._error(
                "TooManyRules",
                f"The load balancer holds {self.rules_per_load_balancer} rules, its quota",
            )
        rule = StoredRule(self._new_arn(), Priority, conditions, actions, transforms, secrets)
        self.rules[rule.arn] = rule
        self.tags[rule.arn] = tags
        return {"Rules": [self._describe(rule)]}

    @api
    def modify_rule(
        self,
        RuleArn: str,
        Conditions: list[dict[str, Any]] | None = None,
        Actions: list[dict[str, Any]] | None = None,
        Transforms: list[dict[str, Any]] | None = None,
        ResetTransforms: bool | None = None,
    ) -> dict[str, Any]:
        rule = self._rule(RuleArn)
        if rule.is_default:
            self._error(
                "OperationNotPermitted", "Change the default rule's actions with ModifyListener"
            )
        if Transforms is not None and ResetTransforms:
            self._error("ValidationError", "Transforms and ResetTransforms are exclusive")
        conditions = self._conditions(Conditions) if Conditions is not None else None
        actions = None
        if Actions is not None:
            actions = self._actions(Actions, existing=rule.secrets, may_reuse=True)
        transforms = self._transforms(Transforms) if Transforms is not None else None
        if conditions is not None:
            rule.conditions = conditions
        if actions is not None:
            rule.actions, rule.secrets = actions
        if transforms is not None:
            rule.transforms = transforms
        if ResetTransforms:
            rule.transforms = []
        return {"Rules": [self._describe(rule)]}

    @api
    def delete_rule(self, RuleArn: str) -> dict[str, Any]:
        rule = self._rule(RuleArn)
        if rule.is_default:
            self._error("OperationNotPermitted", "The default rule cannot be deleted")
        del self.rules[rule.arn]
        del self.tags[rule.arn]
        return {}

    @api
    def set_rule_priorities(self, RulePriorities: list[dict[str, Any]]) -> dict[str, Any]:
        moves: list[tuple[StoredRule, int]] = []
        for item in RulePriorities:
            rule = self._rule(item["RuleArn"])
            if rule.is_default:
                self._error("OperationNotPermitted", "The default rule has no priority to set")
            self._check_priority(item["Priority"])
            if any(rule is moved for moved, _ in moves):
                self._error("ValidationError", f"Rule '{rule.arn}' is given twice")
            moves.append((rule, item["Priority"]))
        for priority, count in Counter(p for _, p in moves).items():
            if count > 1:
                self._error("PriorityInUse", f"Priority '{priority}' is given {count} times")
        moving = {rule.arn for rule, _ in moves}
        for _, priority in moves:
            holder = self.rule_at(priority)
            if holder is not None and holder.arn not in moving:
                self._error("PriorityInUse", f"Priority '{priority}' is currently in use")
        if not self.atomic_priorities:
            at = {r.priority: r.arn for r in self.listener_rules()}
            for rule, priority in moves:
                if at.get(priority) not in (None, rule.arn):
                    self._error("PriorityInUse", f"Priority '{priority}' is in use when it is set")
                del at[rule.priority]
                at[priority] = rule.arn
        for rule, priority in moves:
            rule.priority = priority
        return {"Rules": [self._describe(rule) for rule, _ in moves]}

    @api
    def modify_listener(
        self,
        ListenerArn: str,
        DefaultActions: list[dict[str, Any]] | None = None,
        Port: int | None = None,
        Protocol: str | None = None,
        SslPolicy: str | None = None,
        Certificates: list[dict[str, Any]] | None = None,
        AlpnPolicy: list[str] | None = None,
        MutualAuthentication: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """As documented: HTTP to HTTPS needs the default certificate in the same call; HTTPS
        to HTTP removes the policy, the certificates and mutual TLS; every check before any
        change."""
        self._check_listener(ListenerArn)
        protocol = Protocol or self.protocol
        if protocol not in ("HTTP", "HTTPS"):
            self._error("UnsupportedProtocol", f"Protocol '{protocol}' is not supported")
        if AlpnPolicy:
            self._error("ALPNPolicyNotSupported", "ALPN policies are for TLS listeners")
        certificate = self._one_certificate(Certificates) if Certificates is not None else None
        if protocol == "HTTPS" and certificate is None and self.protocol != "HTTPS":
            self._error("ValidationError", "An HTTPS listener needs a default certificate")
        if protocol == "HTTP" and (certificate or SslPolicy or MutualAuthentication):
            self._error("ValidationError", "An HTTP listener takes no certificate or policy")
        if SslPolicy is not None and SslPolicy not in SSL_POLICIES:
            self._error("SSLPolicyNotFound", f"SSL policy '{SslPolicy}' not found")
        if MutualAuthentication is not None:
            mode = MutualAuthentication.get("Mode")
            if mode not in ("off", "passthrough", "verify"):
                self._error("ValidationError", f"Mode '{mode}' is not off, passthrough or verify")
            store = MutualAuthentication.get("TrustStoreArn")
            if mode == "verify" and not store:
                self._error("ValidationError", "Mode verify needs a TrustStoreArn")
            if store and self.trust_stores is not None and store not in self.trust_stores:
                self._error("TrustStoreNotFound", f"Trust store '{store}' not found")
        if DefaultActions is not None:
            default = self.default_rule
            actions, secrets = self._actions(
                DefaultActions, existing=default.secrets, may_reuse=True
            )
            default.actions, default.secrets = actions, secrets
        if Port is not None:
            self.port = Port
        if protocol == "HTTP" and self.protocol == "HTTPS":
            self.ssl_policy = self.default_certificate = self.mutual_authentication = None
            self.certificates = []
        elif protocol == "HTTPS" and self.protocol == "HTTP":
            self.ssl_policy = SSL_POLICY_DEFAULT
        self.protocol = protocol
        if certificate is not None:
            self.default_certificate = certificate
        if SslPolicy is not None:
            self.ssl_policy = SslPolicy
        if MutualAuthentication is not None:
            auth = {k: v for k, v in MutualAuthentication.items() if v is not None}
            self.mutual_authentication = None if auth.get("Mode") == "off" else auth
        return {"Listeners": [self._listener()]}

    @api
    def add_listener_certificates(
        self, ListenerArn: str, Certificates: list[dict[str, Any]]
    ) -> dict[str, Any]:
        self._check_listener(ListenerArn)
        arn = self._one_certificate(Certificates)
        if arn not in self.certificates:
            if len(self.certificates) >= CERTIFICATES_PER_LOAD_BALANCER:
                self._error("TooManyCertificates", "At most 25 certificates a load balancer")
            self.certificates.append(arn)
        return {"Certificates": [{"CertificateArn": arn, "IsDefault": False}]}

    @api
    def remove_listener_certificates(
        self, ListenerArn: str, Certificates: list[dict[str, Any]]
    ) -> dict[str, Any]:
        self._check_listener(ListenerArn)
        if len(Certificates) != 1:
            self._error("ValidationError", "Give exactly one certificate")
        arn = Certificates[0]["CertificateArn"]
        if arn == self.default_certificate and arn not in self.certificates:
            self._error("OperationNotPermitted", "The default certificate cannot be removed")
        if arn in self.certificates:
            self.certificates.remove(arn)
        return {}

    @api
    def modify_listener_attributes(
        self, ListenerArn: str, Attributes: list[dict[str, str]]
    ) -> dict[str, Any]:
        self._check_listener(ListenerArn)
        for item in Attributes:
            if item["Key"] not in ATTRIBUTE_DEFAULTS:
                self._error("InvalidConfigurationRequest", f"Unknown attribute '{item['Key']}'")
        for item in Attributes:
            self.attributes[item["Key"]] = item["Value"]
        values = {**ATTRIBUTE_DEFAULTS, **self.attributes}
        return {"Attributes": [{"Key": k, "Value": v} for k, v in sorted(values.items())]}

    @api
    def add_tags(self, ResourceArns: list[str], Tags: list[dict[str, str]]) -> dict[str, Any]:
        rules = self._tag_targets(ResourceArns)
        tags = self._tag_list(Tags, "DuplicateTagKeys")
        for rule in rules:
            if len(self.tags[rule.arn] | tags) > TAGS_PER_RESOURCE:
                self._error("TooManyTags", "A rule takes at most 50 tags")
        for rule in rules:
            self.tags[rule.arn].update(tags)
        return {}

    @api
    def remove_tags(self, ResourceArns: list[str], TagKeys: list[str]) -> dict[str, Any]:
        for rule in self._tag_targets(ResourceArns):
            for key in TagKeys:
                self.tags[rule.arn].pop(key, None)
        return {}


# --- read forms --------------------------------------------------------------------------


def _priority_of(rule: StoredRule) -> int:
    return rule.priority or 0


def _condition_strings(name: str, config: dict[str, Any]) -> tuple[list[str], list[str]]:
    if name == "query-string":
        plain = []
        for pair in config.get("Values") or []:
            plain.append(f"{pair.get('Key') or ''}={pair['Value']}")
        return plain, []
    return list(config.get("Values") or []), list(config.get("RegexValues") or [])


def _read_conditions(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """As DescribeRules returns them: host-header and path-pattern carry ``Values`` too."""
    out = []
    for condition in copy.deepcopy(conditions):
        name = condition["Field"]
        values = condition[CONDITION_KEYS[name]].get("Values")
        if name in LEGACY_VALUES and values:
            condition["Values"] = list(values)
        out.append(condition)
    return out


def _read_actions(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """As the API returns them: an Order on each, and the defaults it fills in."""
    out = []
    for i, action in enumerate(copy.deepcopy(actions)):
        action.setdefault("Order", i + 1)
        kind = action["Type"]
        if kind == "forward":
            if "ForwardConfig" not in action:
                action["ForwardConfig"] = {
                    "TargetGroups": [{"TargetGroupArn": action["TargetGroupArn"]}]
                }
            config = action["ForwardConfig"]
            for group in config["TargetGroups"]:
                group.setdefault("Weight", 1)
            config.setdefault("TargetGroupStickinessConfig", {"Enabled": False})
        elif kind == "redirect":
            for key, value in API_REDIRECT_DEFAULTS.items():
                action["RedirectConfig"].setdefault(key, value)
        elif kind in ("authenticate-oidc", "authenticate-cognito"):
            config = action[ACTION_KEYS[kind]]
            for key, value in API_AUTHENTICATE_DEFAULTS.items():
                config.setdefault(key, value)
        out.append(action)
    return sorted(out, key=lambda a: a["Order"])


# --- driving the model as the library does -------------------------------------------------


def capture_state(client: Any, listener_arn: str, *, page_size: int = 400) -> ListenerState:
    """A ``ListenerState`` read through the client's API, built as ``albrules.capture`` builds
    it: DescribeListeners, DescribeRules pages (Marker/PageSize), DescribeTags in batches of
    20 rule ARNs, then the canonical functions."""
    listener = client.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]
    raw: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ListenerArn": listener_arn, "PageSize": page_size}
    while True:
        page = client.describe_rules(**kwargs)
        raw += page["Rules"]
        if not page.get("NextMarker"):
            break
        kwargs["Marker"] = page["NextMarker"]
    default_arn = next(r["RuleArn"] for r in raw if r["IsDefault"])
    arns = [listener_arn, default_arn] + [r["RuleArn"] for r in raw if not r["IsDefault"]]
    tags: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), 20):
        described = client.describe_tags(ResourceArns=arns[start : start + 20])
        for item in described["TagDescriptions"]:
            tags[item["ResourceArn"]] = {t["Key"]: t["Value"] for t in item["Tags"]}
    rules = sorted(
        (
            canonical_rule(
                {
                    "arn": r["RuleArn"],
                    "priority": int(r["Priority"]),
                    "conditions": r["Conditions"],
                    "actions": r["Actions"],
                    "transforms": r.get("Transforms", []),
                    "tags": tags.get(r["RuleArn"], {}),
                }
            )
            for r in raw
            if not r["IsDefault"]
        ),
        key=lambda r: r["priority"],
    )
    parsed = parse_listener_arn(listener_arn)
    source = Source(
        account=parsed.account,
        region=parsed.region,
        load_balancer_arn=listener["LoadBalancerArn"],
        load_balancer_name=parsed.load_balancer_name,
        listener_arn=listener_arn,
        port=listener.get("Port"),
        protocol=listener.get("Protocol"),
        load_balancer_scheme="internet-facing",
        load_balancer_type="application",
    )
    certificates: list[dict[str, Any]] = []
    if listener["Protocol"] == "HTTPS":
        certificates = client.describe_listener_certificates(ListenerArn=listener_arn)[
            "Certificates"
        ]
    attributes = client.describe_listener_attributes(ListenerArn=listener_arn)["Attributes"]
    settings = settings_from_api(
        listener, certificates, attributes, tags.get(listener_arn), tags.get(default_arn)
    )
    return ListenerState.model_validate(
        {
            "source": source.model_dump(exclude_none=True),
            "default_actions": canonical_actions(listener["DefaultActions"]),
            "rules": rules,
            "default_rule_arn": default_arn,
            "listener": settings,
        }
    )


def routing(state: ListenerState) -> list[dict[str, Any]]:
    """A listener's rules without ARNs, by priority: what 'equal' means for routing."""
    return [
        {k: v for k, v in r.model_dump(mode="json", exclude_none=True).items() if k != "arn"}
        for r in state.rules
    ]


def default_actions(state: ListenerState) -> list[dict[str, Any]]:
    return [a.model_dump(mode="json", exclude_none=True) for a in state.default_actions]


def apply_operations(
    client: Any, operations: Iterable[Any], secret_values: dict[str, str] | None = None
) -> None:
    """Each operation as ``albrules.restore.apply_plan`` sends it: ``request_for`` then the
    client method it names. The first ClientError propagates."""
    for op in operations:
        method, kwargs = request_for(op, secret_values or {})
        getattr(client, method)(**kwargs)
