"""Plan operations: one model per mutating ELBv2 call, and their conversion to API requests.

Operations hold rules in canonical form (target groups with names, no secrets), so a plan
can be printed, stored and read back. OIDC client secrets are referenced, never held: each
``authenticate-oidc`` client ID maps to ``"existing"`` (ModifyRule/ModifyListener with
``UseExistingClientSecret``) or to the ARN of a Secrets Manager secret, read at apply time.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .labels import describe_actions, describe_conditions

EXISTING_SECRET = "existing"


class _Op(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def summary(self) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


class ModifyListener(_Op):
    """The listener's default actions and, from snapshot format 2, its own settings: only the
    fields given are sent (``mutual_authentication`` ``{"Mode": "off"}`` turns mTLS off)."""

    op: Literal["modify-listener"] = "modify-listener"
    listener_arn: str
    default_actions: list[dict[str, Any]] | None = None
    oidc: dict[str, str] = Field(default_factory=dict)
    protocol: str | None = None
    port: int | None = None
    ssl_policy: str | None = None
    alpn_policy: list[str] | None = None
    default_certificate: str | None = None
    mutual_authentication: dict[str, Any] | None = None

    def settings_changed(self) -> list[str]:
        """The settings this call changes, in words ("protocol HTTPS", "port 8443")."""
        out = []
        if self.protocol is not None:
            out.append(f"protocol {self.protocol}")
        if self.port is not None:
            out.append(f"port {self.port}")
        if self.ssl_policy is not None:
            out.append(f"SSL policy {self.ssl_policy}")
        if self.alpn_policy is not None:
            out.append(f"ALPN policy {', '.join(self.alpn_policy) or 'none'}")
        if self.default_certificate is not None:
            out.append(f"default certificate {self.default_certificate}")
        if self.mutual_authentication is not None:
            out.append(f"mutual TLS {describe_mutual_authentication(self.mutual_authentication)}")
        return out

    def summary(self) -> str:
        parts = []
        if self.default_actions is not None:
            parts.append(f"set default actions: {describe_actions(self.default_actions)}")
        settings = self.settings_changed()
        if settings:
            parts.append(f"set listener {', '.join(settings)}")
        return "; ".join(parts)


def describe_mutual_authentication(value: dict[str, Any]) -> str:
    mode = str(value.get("Mode", "off"))
    if mode != "verify":
        return mode
    extras = [f"trust store {value.get('TrustStoreArn')}"]
    if value.get("IgnoreClientCertificateExpiry"):
        extras.append("expired client certificates accepted")
    if value.get("AdvertiseTrustStoreCaNames") == "on":
        extras.append("CA names advertised")
    return f"verify ({', '.join(extras)})"


class AddListenerCertificates(_Op):
    """One additional (SNI) certificate: the API takes one a call."""

    op: Literal["add-listener-certificates"] = "add-listener-certificates"
    listener_arn: str
    certificate: str

    def summary(self) -> str:
        return f"add certificate {self.certificate}"


class RemoveListenerCertificates(_Op):
    op: Literal["remove-listener-certificates"] = "remove-listener-certificates"
    listener_arn: str
    certificate: str

    def summary(self) -> str:
        return f"remove certificate {self.certificate}"


class ModifyListenerAttributes(_Op):
    """Only the attributes that change (a known attribute back to its default is sent with
    the default value)."""

    op: Literal["modify-listener-attributes"] = "modify-listener-attributes"
    listener_arn: str
    attributes: dict[str, str]

    def summary(self) -> str:
        pairs = ", ".join(f"{k}={v!r}" for k, v in sorted(self.attributes.items()))
        return f"set listener attributes: {pairs}"


class CreateRule(_Op):
    op: Literal["create-rule"] = "create-rule"
    listener_arn: str
    priority: int
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    transforms: list[dict[str, Any]] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    oidc: dict[str, str] = Field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"create rule at priority {self.priority}: {describe_conditions(self.conditions)} "
            f"=> {describe_actions(self.actions)}"
        )


class ModifyRule(_Op):
    op: Literal["modify-rule"] = "modify-rule"
    rule_arn: str
    priority: int
    conditions: list[dict[str, Any]] | None = None
    actions: list[dict[str, Any]] | None = None
    transforms: list[dict[str, Any]] | None = None
    reset_transforms: bool = False
    oidc: dict[str, str] = Field(default_factory=dict)

    def summary(self) -> str:
        parts = []
        if self.conditions is not None:
            parts.append(f"conditions {describe_conditions(self.conditions)}")
        if self.actions is not None:
            parts.append(f"actions {describe_actions(self.actions)}")
        if self.transforms is not None:
            parts.append(f"transforms {', '.join(t['Type'] for t in self.transforms)}")
        if self.reset_transforms:
            parts.append("remove transforms")
        return f"modify rule at priority {self.priority}: {'; '.join(parts)}"


#: What a tag call tags: a rule (at ``priority``), the listener, or its default rule.
TagTarget = Literal["rule", "listener", "default-rule"]


def _tagged(target: TagTarget, priority: int) -> str:
    if target == "listener":
        return "listener"
    if target == "default-rule":
        return "default rule"
    return f"rule at priority {priority}"


class AddTags(_Op):
    """Tags on a rule, or (format 2) on the listener or its default rule: ``rule_arn`` is
    then the listener's or the default rule's ARN and ``priority`` 0."""

    op: Literal["add-tags"] = "add-tags"
    rule_arn: str
    priority: int
    tags: dict[str, str]
    target: TagTarget = "rule"

    def summary(self) -> str:
        pairs = ", ".join(f"{k}={v}" for k, v in sorted(self.tags.items()))
        return f"tag {_tagged(self.target, self.priority)}: {pairs}"


class RemoveTags(_Op):
    op: Literal["remove-tags"] = "remove-tags"
    rule_arn: str
    priority: int
    keys: list[str]
    target: TagTarget = "rule"

    def summary(self) -> str:
        return f"untag {_tagged(self.target, self.priority)}: {', '.join(sorted(self.keys))}"


class PriorityMove(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule_arn: str
    from_priority: int
    to_priority: int


class SetRulePriorities(_Op):
    op: Literal["set-rule-priorities"] = "set-rule-priorities"
    moves: list[PriorityMove]

    def summary(self) -> str:
        moves = ", ".join(f"{m.from_priority}->{m.to_priority}" for m in self.moves)
        return f"reorder {len(self.moves)} rule(s) in one call: {moves}"


class DeleteRule(_Op):
    op: Literal["delete-rule"] = "delete-rule"
    rule_arn: str
    priority: int
    conditions: list[dict[str, Any]] = Field(default_factory=list)
    #: OIDC clients of the deleted rule: recreating it (a rollback) would need their secrets.
    oidc_clients: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        return f"delete rule at priority {self.priority}: {describe_conditions(self.conditions)}"


Operation = Annotated[
    ModifyListener
    | AddListenerCertificates
    | RemoveListenerCertificates
    | ModifyListenerAttributes
    | CreateRule
    | ModifyRule
    | AddTags
    | RemoveTags
    | SetRulePriorities
    | DeleteRule,
    Field(discriminator="op"),
]

#: The ELBv2 API operation behind each plan operation (and so its IAM action).
API_OPERATION = {
    "modify-listener": "ModifyListener",
    "add-listener-certificates": "AddListenerCertificates",
    "remove-listener-certificates": "RemoveListenerCertificates",
    "modify-listener-attributes": "ModifyListenerAttributes",
    "create-rule": "CreateRule",
    "modify-rule": "ModifyRule",
    "add-tags": "AddTags",
    "remove-tags": "RemoveTags",
    "set-rule-priorities": "SetRulePriorities",
    "delete-rule": "DeleteRule",
}


# --- conversion to API requests ---------------------------------------------------------


def api_conditions(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Canonical conditions are already in the write form (``*Config`` only)."""
    return [dict(c) for c in conditions]


def api_actions(
    actions: list[dict[str, Any]], oidc: dict[str, str], secret_values: dict[str, str]
) -> list[dict[str, Any]]:
    """Canonical actions -> API actions: weights explicit, names dropped, secrets filled in."""
    out = []
    for action in actions:
        action = dict(action)
        if action["Type"] == "forward":
            config = dict(action["ForwardConfig"])
            config["TargetGroups"] = [
                {"TargetGroupArn": g["TargetGroupArn"], "Weight": g.get("Weight", 1)}
                for g in config["TargetGroups"]
            ]
            action["ForwardConfig"] = config
        elif action["Type"] == "authenticate-oidc":
            config = dict(action["AuthenticateOidcConfig"])
            source = oidc.get(config["ClientId"])
            if source == EXISTING_SECRET:
                config["UseExistingClientSecret"] = True
            elif source is not None and source in secret_values:
                config["ClientSecret"] = secret_values[source]
            else:  # pragma: no cover - the planner refuses before this can happen
                raise ValueError(f"no client secret for OIDC client {config['ClientId']}")
            action["AuthenticateOidcConfig"] = config
        out.append(action)
    return out


def api_transforms(transforms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(t) for t in transforms]


def api_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def request_for(op: _Op, secret_values: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """(boto3 method name, keyword arguments) for an operation."""
    if isinstance(op, ModifyListener):
        kwargs: dict[str, Any] = {"ListenerArn": op.listener_arn}
        if op.default_actions is not None:
            kwargs["DefaultActions"] = api_actions(op.default_actions, op.oidc, secret_values)
        if op.protocol is not None:
            kwargs["Protocol"] = op.protocol
        if op.port is not None:
            kwargs["Port"] = op.port
        if op.ssl_policy is not None:
            kwargs["SslPolicy"] = op.ssl_policy
        if op.alpn_policy is not None:
            kwargs["AlpnPolicy"] = list(op.alpn_policy)
        if op.default_certificate is not None:
            kwargs["Certificates"] = [{"CertificateArn": op.default_certificate}]
        if op.mutual_authentication is not None:
            kwargs["MutualAuthentication"] = dict(op.mutual_authentication)
        return "modify_listener", kwargs
    if isinstance(op, AddListenerCertificates):
        return "add_listener_certificates", {
            "ListenerArn": op.listener_arn,
            "Certificates": [{"CertificateArn": op.certificate}],
        }
    if isinstance(op, RemoveListenerCertificates):
        return "remove_listener_certificates", {
            "ListenerArn": op.listener_arn,
            "Certificates": [{"CertificateArn": op.certificate}],
        }
    if isinstance(op, ModifyListenerAttributes):
        return "modify_listener_attributes", {
            "ListenerArn": op.listener_arn,
            "Attributes": [{"Key": k, "Value": v} for k, v in sorted(op.attributes.items())],
        }
    if isinstance(op, CreateRule):
        kwargs = {
            "ListenerArn": op.listener_arn,
            "Priority": op.priority,
            "Conditions": api_conditions(op.conditions),
            "Actions": api_actions(op.actions, op.oidc, secret_values),
        }
        if op.transforms:
            kwargs["Transforms"] = api_transforms(op.transforms)
        if op.tags:
            kwargs["Tags"] = api_tags(op.tags)
        return "create_rule", kwargs
    if isinstance(op, ModifyRule):
        kwargs = {"RuleArn": op.rule_arn}
        if op.conditions is not None:
            kwargs["Conditions"] = api_conditions(op.conditions)
        if op.actions is not None:
            kwargs["Actions"] = api_actions(op.actions, op.oidc, secret_values)
        if op.transforms is not None:
            kwargs["Transforms"] = api_transforms(op.transforms)
        if op.reset_transforms:
            kwargs["ResetTransforms"] = True
        return "modify_rule", kwargs
    if isinstance(op, AddTags):
        return "add_tags", {"ResourceArns": [op.rule_arn], "Tags": api_tags(op.tags)}
    if isinstance(op, RemoveTags):
        return "remove_tags", {"ResourceArns": [op.rule_arn], "TagKeys": sorted(op.keys)}
    if isinstance(op, SetRulePriorities):
        return "set_rule_priorities", {
            "RulePriorities": [{"RuleArn": m.rule_arn, "Priority": m.to_priority} for m in op.moves]
        }
    if isinstance(op, DeleteRule):
        return "delete_rule", {"RuleArn": op.rule_arn}
    raise TypeError(f"unknown operation {op!r}")  # pragma: no cover
