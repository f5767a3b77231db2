"""pydantic v2 models for the snapshot document (formats v1 and v2) and the ELBv2 shapes in it.

Format 1 holds a listener's routing: default actions and rules. Format 2 adds ``listener``
(:class:`ListenerSettings`): everything else needed to recreate the listener, with
certificates and trust stores kept as ARNs (a snapshot never holds key material).

ELBv2 shapes keep the API's own PascalCase names, so a rule in a snapshot reads like the
API reference. The document's own fields are snake_case. Every model forbids unknown keys:
a field this version does not know is an error, never silently dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

SCHEMA_VERSION = 2  # the version written (capture reads the listener's settings)
SCHEMA_VERSIONS = (1, 2)  # the versions read

ConditionField = Literal[
    "host-header",
    "path-pattern",
    "http-header",
    "http-request-method",
    "query-string",
    "source-ip",
]
ActionType = Literal[
    "forward",
    "redirect",
    "fixed-response",
    "authenticate-oidc",
    "authenticate-cognito",
    "jwt-validation",
]
TransformType = Literal["host-header-rewrite", "url-rewrite"]
OnUnauthenticated = Literal["deny", "allow", "authenticate"]

TERMINAL_ACTIONS = frozenset({"forward", "redirect", "fixed-response"})

#: The config key each condition field and action type uses.
CONDITION_CONFIG_KEY: dict[str, str] = {
    "host-header": "HostHeaderConfig",
    "path-pattern": "PathPatternConfig",
    "http-header": "HttpHeaderConfig",
    "http-request-method": "HttpRequestMethodConfig",
    "query-string": "QueryStringConfig",
    "source-ip": "SourceIpConfig",
}
ACTION_CONFIG_KEY: dict[str, str] = {
    "forward": "ForwardConfig",
    "redirect": "RedirectConfig",
    "fixed-response": "FixedResponseConfig",
    "authenticate-oidc": "AuthenticateOidcConfig",
    "authenticate-cognito": "AuthenticateCognitoConfig",
    "jwt-validation": "JwtValidationConfig",
}
TRANSFORM_CONFIG_KEY: dict[str, str] = {
    "host-header-rewrite": "HostHeaderRewriteConfig",
    "url-rewrite": "UrlRewriteConfig",
}


class Shape(BaseModel):
    """Base for every model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


# --- conditions -------------------------------------------------------------------------


class HostHeaderConditionConfig(Shape):
    Values: list[str] | None = None
    RegexValues: list[str] | None = None


class PathPatternConditionConfig(Shape):
    Values: list[str] | None = None
    RegexValues: list[str] | None = None


class HttpHeaderConditionConfig(Shape):
    HttpHeaderName: str
    Values: list[str] | None = None
    RegexValues: list[str] | None = None


class QueryStringKeyValuePair(Shape):
    Key: str | None = None
    Value: str


class QueryStringConditionConfig(Shape):
    Values: list[QueryStringKeyValuePair] | None = None


class HttpRequestMethodConditionConfig(Shape):
    Values: list[str] | None = None


class SourceIpConditionConfig(Shape):
    Values: list[str] | None = None
    IpAddressType: Literal["ipv4", "ipv6"] | None = None


class RuleCondition(Shape):
    Field: ConditionField
    # Legacy forms: only read from the API (it returns both), folded into the *Config form.
    Values: list[str] | None = None
    RegexValues: list[str] | None = None
    HostHeaderConfig: HostHeaderConditionConfig | None = None
    PathPatternConfig: PathPatternConditionConfig | None = None
    HttpHeaderConfig: HttpHeaderConditionConfig | None = None
    QueryStringConfig: QueryStringConditionConfig | None = None
    HttpRequestMethodConfig: HttpRequestMethodConditionConfig | None = None
    SourceIpConfig: SourceIpConditionConfig | None = None

    @model_validator(mode="after")
    def _config_matches_field(self) -> RuleCondition:
        wanted = CONDITION_CONFIG_KEY[self.Field]
        for key in CONDITION_CONFIG_KEY.values():
            if key != wanted and getattr(self, key) is not None:
                raise ValueError(f"{key} does not belong to a {self.Field} condition")
        if self.Values is not None and self.Field not in ("host-header", "path-pattern"):
            raise ValueError(f"a {self.Field} condition takes its values in {wanted}, not Values")
        if self.RegexValues is not None and self.Field not in (
            "host-header",
            "path-pattern",
            "http-header",
        ):
            raise ValueError(f"RegexValues is not allowed on a {self.Field} condition")
        if getattr(self, wanted) is None and not (self.Values or self.RegexValues):
            raise ValueError(f"a {self.Field} condition needs {wanted}")
        return self


# --- actions ----------------------------------------------------------------------------


class TargetGroupTuple(Shape):
    TargetGroupArn: str
    #: Not an API field: kept in snapshots so a restore can map target groups by name.
    TargetGroupName: str | None = None
    Weight: int | None = Field(default=None, ge=0, le=999)


class StickinessConfig(Shape):
    Enabled: bool | None = None
    DurationSeconds: int | None = Field(default=None, ge=1, le=604800)


class ForwardActionConfig(Shape):
    TargetGroups: list[TargetGroupTuple] | None = None
    TargetGroupStickinessConfig: StickinessConfig | None = None


class RedirectActionConfig(Shape):
    Protocol: str | None = None
    Port: str | None = None
    Host: str | None = None
    Path: str | None = None
    Query: str | None = None
    StatusCode: Literal["HTTP_301", "HTTP_302"]


class FixedResponseActionConfig(Shape):
    MessageBody: str | None = Field(default=None, max_length=1024)
    StatusCode: str = Field(pattern=r"^(2|4|5)\d\d$")
    ContentType: str | None = Field(default=None, max_length=32)


class AuthenticateOidcActionConfig(Shape):
    Issuer: str
    AuthorizationEndpoint: str
    TokenEndpoint: str
    UserInfoEndpoint: str
    ClientId: str
    # Never returned by the API and never stored; present only in write requests.
    ClientSecret: str | None = None
    SessionCookieName: str | None = None
    Scope: str | None = None
    SessionTimeout: int | None = None
    AuthenticationRequestExtraParams: dict[str, str] | None = None
    OnUnauthenticatedRequest: OnUnauthenticated | None = None
    UseExistingClientSecret: bool | None = None


class AuthenticateCognitoActionConfig(Shape):
    UserPoolArn: str
    UserPoolClientId: str
    UserPoolDomain: str
    SessionCookieName: str | None = None
    Scope: str | None = None
    SessionTimeout: int | None = None
    AuthenticationRequestExtraParams: dict[str, str] | None = None
    OnUnauthenticatedRequest: OnUnauthenticated | None = None


class JwtValidationActionAdditionalClaim(Shape):
    Format: Literal["single-string", "string-array", "space-separated-values"]
    Name: str
    Values: list[str]


class JwtValidationActionConfig(Shape):
    JwksEndpoint: str
    Issuer: str
    AdditionalClaims: list[JwtValidationActionAdditionalClaim] | None = None


class Action(Shape):
    Type: ActionType
    Order: int | None = None
    TargetGroupArn: str | None = None
    ForwardConfig: ForwardActionConfig | None = None
    RedirectConfig: RedirectActionConfig | None = None
    FixedResponseConfig: FixedResponseActionConfig | None = None
    AuthenticateOidcConfig: AuthenticateOidcActionConfig | None = None
    AuthenticateCognitoConfig: AuthenticateCognitoActionConfig | None = None
    JwtValidationConfig: JwtValidationActionConfig | None = None

    @model_validator(mode="after")
    def _config_matches_type(self) -> Action:
        wanted = ACTION_CONFIG_KEY[self.Type]
        for key in ACTION_CONFIG_KEY.values():
            if key != wanted and getattr(self, key) is not None:
                raise ValueError(f"{key} does not belong to a {self.Type} action")
        if self.TargetGroupArn is not None and self.Type != "forward":
            raise ValueError(f"TargetGroupArn does not belong to a {self.Type} action")
        if self.Type == "forward":
            if self.TargetGroupArn is None and not (
                self.ForwardConfig and self.ForwardConfig.TargetGroups
            ):
                raise ValueError("a forward action needs TargetGroupArn or ForwardConfig")
        elif getattr(self, wanted) is None:
            raise ValueError(f"a {self.Type} action needs {wanted}")
        return self


# --- transforms -------------------------------------------------------------------------


class RewriteConfig(Shape):
    Regex: str
    Replace: str


class RewriteConfigList(Shape):
    Rewrites: list[RewriteConfig]


class RuleTransform(Shape):
    Type: TransformType
    HostHeaderRewriteConfig: RewriteConfigList | None = None
    UrlRewriteConfig: RewriteConfigList | None = None

    @model_validator(mode="after")
    def _config_matches_type(self) -> RuleTransform:
        wanted = TRANSFORM_CONFIG_KEY[self.Type]
        for key in TRANSFORM_CONFIG_KEY.values():
            if key != wanted and getattr(self, key) is not None:
                raise ValueError(f"{key} does not belong to a {self.Type} transform")
        if getattr(self, wanted) is None:
            raise ValueError(f"a {self.Type} transform needs {wanted}")
        return self


# --- rules and the document -------------------------------------------------------------


class Rule(Shape):
    """A listener rule as stored: no ARN, no IsDefault; priority is an integer."""

    priority: int
    conditions: list[RuleCondition]
    actions: list[Action]
    transforms: list[RuleTransform] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)


class LiveRule(Rule):
    """A rule as it is in a listener right now: a stored rule plus its ARN."""

    arn: str


# --- the listener itself (format v2) ----------------------------------------------------


class MutualAuthentication(Shape):
    """A listener's mutual TLS, as ``MutualAuthentication`` in the API (``Mode`` off is
    dropped in canonical form: no mutual authentication is ``None``)."""

    Mode: Literal["off", "passthrough", "verify"]
    TrustStoreArn: str | None = None
    IgnoreClientCertificateExpiry: bool | None = None
    AdvertiseTrustStoreCaNames: Literal["on", "off"] | None = None


class ListenerSettings(Shape):
    """What a listener is made of beyond its routing: enough to recreate it (format v2).

    ``certificates`` are the additional (SNI) certificates, sorted, without the default one;
    ``attributes`` are DescribeListenerAttributes' keys and values; ``tags`` are the
    listener's and ``default_rule_tags`` its default rule's."""

    protocol: str
    port: int = Field(ge=1, le=65535)
    ssl_policy: str | None = None
    alpn_policy: list[str] | None = None
    default_certificate: str | None = None
    certificates: list[str] = Field(default_factory=list)
    mutual_authentication: MutualAuthentication | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    default_rule_tags: dict[str, str] = Field(default_factory=dict)


class Source(Shape):
    """Where a snapshot was taken. Rules from DescribeRules do not carry their listener."""

    account: str
    region: str
    load_balancer_arn: str
    load_balancer_name: str
    listener_arn: str
    port: int | None = None
    protocol: str | None = None
    # format v2: the load balancer's kind, for finding it again (or one like it)
    load_balancer_scheme: str | None = None
    load_balancer_type: str | None = None

    @property
    def listener_id(self) -> str:
        return self.listener_arn.rsplit("/", 1)[-1]


class Snapshot(Shape):
    """One listener's routing (default actions and every rule) and, from format 2, the
    listener's own settings, with a checksum."""

    schema_version: Literal[1, 2]
    created_at: datetime
    tool_version: str
    source: Source
    listener: ListenerSettings | None = None
    default_actions: list[Action]
    rules: list[Rule]
    checksum: str = Field(pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _listener_matches_version(self) -> Snapshot:
        if self.schema_version == 1 and self.listener is not None:
            raise ValueError("a version 1 snapshot has no listener settings")
        if self.schema_version >= 2 and self.listener is None:
            raise ValueError("a version 2 snapshot needs listener (the listener's settings)")
        return self

    @property
    def can_recreate(self) -> bool:
        """Whether this snapshot holds enough to recreate its listener (format 2 and up)."""
        return self.listener is not None

    @field_serializer("created_at")
    def _utc_z(self, value: datetime) -> str:
        return utc_stamp_iso(value)


class ListenerState(Shape):
    """A listener as captured live: what a snapshot stores plus the ARNs needed to change it."""

    source: Source
    default_actions: list[Action]
    rules: list[LiveRule]
    default_rule_arn: str | None = None
    listener: ListenerSettings | None = None  # read by capture for format 2


def to_milliseconds(value: datetime) -> datetime:
    """``value`` in UTC, cut to whole milliseconds (naive values are taken as UTC).

    Snapshots are ordered by when they were taken; seconds alone cannot order two snapshots
    of one listener taken in the same second (a backup right after a change, a pre-restore
    snapshot right after a backup)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def utc_stamp_iso(value: datetime) -> str:
    """``2026-11-23T17:00:00.000Z`` for any aware or naive (taken as UTC) datetime.

    Always three decimals, so that stamps sort as text in the order of their times."""
    value = to_milliseconds(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
