"""The canonical form: two snapshots of the same routing compare (and hash) equal.

Rules applied, the same way every time:
- legacy ``Values``/``RegexValues`` on a condition are folded into its ``*Config`` form;
- lists AWS treats as sets (condition values, query-string pairs, target groups) are sorted;
- defaults the API fills in are dropped: target-group weight 1, stickiness disabled, redirect
  components that keep the request's own (``#{host}`` ...), authenticate-* defaults;
- actions are sorted by ``Order`` and renumbered 1..n (only their relative order matters);
- conditions and transforms are sorted; the forward action always uses ``ForwardConfig`` and
  carries each target group's name, so a snapshot can be mapped into another account;
- OIDC client secrets are never kept.

The functions work on plain dicts (``model_dump(exclude_none=True)``) and return new dicts.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .models import CONDITION_CONFIG_KEY

REDIRECT_DEFAULTS = {
    "Protocol": "#{protocol}",
    "Port": "#{port}",
    "Host": "#{host}",
    "Path": "/#{path}",
    "Query": "#{query}",
}
AUTHENTICATE_DEFAULTS = {
    "Scope": "openid",
    "SessionCookieName": "AWSELBAuthSessionCookie",
    "SessionTimeout": 604800,
    "OnUnauthenticatedRequest": "authenticate",
}


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def target_group_name(arn: str) -> str | None:
    """``arn:...:targetgroup/<name>/<id>`` -> ``<name>`` (None if it is not such an ARN)."""
    _, _, resource = arn.partition(":targetgroup/")
    name = resource.split("/", 1)[0]
    return name or None


def _sorted_strings(values: list[str] | None) -> list[str] | None:
    return sorted(values) if values else None


def _drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, [], {}, "")}


def canonical_condition(condition: dict[str, Any]) -> dict[str, Any]:
    field = condition["Field"]
    key = CONDITION_CONFIG_KEY[field]
    config = dict(condition.get(key) or {})
    if field in ("host-header", "path-pattern", "http-header"):
        if not config.get("Values") and condition.get("Values"):
            config["Values"] = condition["Values"]
        if not config.get("RegexValues") and condition.get("RegexValues"):
            config["RegexValues"] = condition["RegexValues"]
    if field == "query-string":
        pairs = [_drop_empty(dict(p)) for p in config.get("Values") or []]
        config["Values"] = sorted(pairs, key=lambda p: (p.get("Key") or "", p["Value"])) or None
    else:
        config["Values"] = _sorted_strings(config.get("Values"))
    if "RegexValues" in config:
        config["RegexValues"] = _sorted_strings(config.get("RegexValues"))
    return {"Field": field, key: _drop_empty(config)}


def canonical_conditions(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((canonical_condition(c) for c in conditions), key=canonical_json)


def _canonical_forward(action: dict[str, Any]) -> dict[str, Any]:
    config = action.get("ForwardConfig") or {}
    groups = config.get("TargetGroups") or []
    if not groups and action.get("TargetGroupArn"):
        groups = [{"TargetGroupArn": action["TargetGroupArn"]}]
    out_groups = []
    for group in groups:
        arn = group["TargetGroupArn"]
        entry: dict[str, Any] = {
            "TargetGroupArn": arn,
            "TargetGroupName": target_group_name(arn) or group.get("TargetGroupName"),
        }
        weight = group.get("Weight")
        if weight is not None and weight != 1:
            entry["Weight"] = weight
        out_groups.append(_drop_empty(entry))
    forward: dict[str, Any] = {"TargetGroups": sorted(out_groups, key=canonical_json)}
    stickiness = config.get("TargetGroupStickinessConfig") or {}
    if stickiness.get("Enabled"):
        forward["TargetGroupStickinessConfig"] = _drop_empty(
            {"Enabled": True, "DurationSeconds": stickiness.get("DurationSeconds")}
        )
    return forward


def _without_defaults(config: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return _drop_empty({k: v for k, v in config.items() if defaults.get(k, object()) != v})


def canonical_action(action: dict[str, Any], order: int) -> dict[str, Any]:
    kind = action["Type"]
    out: dict[str, Any] = {"Type": kind, "Order": order}
    if kind == "forward":
        out["ForwardConfig"] = _canonical_forward(action)
    elif kind == "redirect":
        out["RedirectConfig"] = _without_defaults(action["RedirectConfig"], REDIRECT_DEFAULTS)
    elif kind == "fixed-response":
        out["FixedResponseConfig"] = _drop_empty(dict(action["FixedResponseConfig"]))
    elif kind == "authenticate-oidc":
        config = {
            k: v
            for k, v in action["AuthenticateOidcConfig"].items()
            if k not in ("ClientSecret", "UseExistingClientSecret")
        }
        out["AuthenticateOidcConfig"] = _without_defaults(config, AUTHENTICATE_DEFAULTS)
    elif kind == "authenticate-cognito":
        out["AuthenticateCognitoConfig"] = _without_defaults(
            action["AuthenticateCognitoConfig"], AUTHENTICATE_DEFAULTS
        )
    elif kind == "jwt-validation":
        config = dict(action["JwtValidationConfig"])
        claims = config.get("AdditionalClaims") or []
        config["AdditionalClaims"] = sorted(claims, key=canonical_json) or None
        out["JwtValidationConfig"] = _drop_empty(config)
    return out


def canonical_actions(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort by ``Order`` (position breaks ties and stands in when absent), renumber 1..n."""
    indexed = sorted(
        enumerate(actions),
        key=lambda pair: (pair[1].get("Order") or pair[0] + 1, pair[0]),
    )
    return [canonical_action(action, n) for n, (_, action) in enumerate(indexed, start=1)]


def canonical_transforms(transforms: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return sorted((_drop_empty(dict(t)) for t in transforms or []), key=canonical_json)


def canonical_rule(rule: dict[str, Any]) -> dict[str, Any]:
    out = {
        "priority": int(rule["priority"]),
        "conditions": canonical_conditions(rule["conditions"]),
        "actions": canonical_actions(rule["actions"]),
        "transforms": canonical_transforms(rule.get("transforms")),
        "tags": dict(sorted((rule.get("tags") or {}).items())),
    }
    if "arn" in rule:
        out["arn"] = rule["arn"]
    return out


def conditions_key(conditions: list[dict[str, Any]]) -> str:
    """The identity of a rule across snapshots: its canonical conditions."""
    return canonical_json(canonical_conditions(conditions))
