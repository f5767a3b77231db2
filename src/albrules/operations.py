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
    op: Literal["modify-listener"] = "modify-listener"
    listener_arn: str
    default_actions: list[dict[str, Any]]
    oidc: dict[str, str] = Field(default_factory=dict)

    def summary(self) -> str:
        return f"set default actions: {describe_actions(self.default_actions)}"


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


class AddTags(_Op):
    op: Literal["add-tags"] = "add-tags"
    rule_arn: str
    priority: int
    tags: dict[str, str]

    def summary(self) -> str:
        pairs = ", ".join(f"{k}={v}" for k, v in sorted(self.tags.items()))
        return f"tag rule at priority {self.priority}: {pairs}"


class RemoveTags(_Op):
    op: Literal["remove-tags"] = "remove-tags"
    rule_arn: str
    priority: int
    keys: list[str]

    def summary(self) -> str:
        return f"untag rule at priority {self.priority}: {', '.join(sorted(self.keys))}"


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
        return "modify_listener", {
            "ListenerArn": op.listener_arn,
            "DefaultActions": api_actions(op.default_actions, op.oidc, secret_values),
        }
    if isinstance(op, CreateRule):
        kwargs: dict[str, Any] = {
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
