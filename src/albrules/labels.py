"""Short human labels for rules, conditions and actions (plans are read under pressure)."""

from __future__ import annotations

from typing import Any

from .models import CONDITION_CONFIG_KEY


def condition_values(condition: dict[str, Any]) -> list[str]:
    """The values a canonical condition matches, as ``FIELD=VALUE`` selector strings."""
    field = condition["Field"]
    config = condition.get(CONDITION_CONFIG_KEY[field], {})
    if field == "query-string":
        return [
            f"{p['Key']}={p['Value']}" if p.get("Key") is not None else p["Value"]
            for p in config.get("Values", [])
        ]
    values = list(config.get("Values", [])) + [f"~{r}" for r in config.get("RegexValues", [])]
    if field == "http-header":
        return [f"{config['HttpHeaderName']}:{v}" for v in values]
    return values


def describe_condition(condition: dict[str, Any]) -> str:
    return f"{condition['Field']}={'|'.join(condition_values(condition))}"


def describe_conditions(conditions: list[dict[str, Any]]) -> str:
    return ", ".join(describe_condition(c) for c in conditions) or "(no conditions)"


def describe_action(action: dict[str, Any]) -> str:
    kind: str = action["Type"]
    if kind == "forward":
        config = action.get("ForwardConfig", {})
        groups = config.get("TargetGroups", [])
        parts = []
        for group in groups:
            name = group.get("TargetGroupName") or group["TargetGroupArn"]
            parts.append(f"{name}:{group['Weight']}" if "Weight" in group else name)
        sticky = config.get("TargetGroupStickinessConfig")
        extra = f" sticky {sticky.get('DurationSeconds')}s" if sticky else ""
        return f"forward {', '.join(parts)}{extra}"
    if kind == "redirect":
        config = action["RedirectConfig"]
        target = "".join(
            str(config[k]) for k in ("Protocol", "Host", "Port", "Path", "Query") if k in config
        )
        return f"redirect {config['StatusCode']} {target or '(same URL)'}"
    if kind == "fixed-response":
        config = action["FixedResponseConfig"]
        return f"fixed-response {config['StatusCode']}"
    if kind == "authenticate-oidc":
        return f"authenticate-oidc {action['AuthenticateOidcConfig']['ClientId']}"
    if kind == "authenticate-cognito":
        return f"authenticate-cognito {action['AuthenticateCognitoConfig']['UserPoolClientId']}"
    if kind == "jwt-validation":
        return f"jwt-validation {action['JwtValidationConfig']['Issuer']}"
    return kind


def describe_actions(actions: list[dict[str, Any]]) -> str:
    return " -> ".join(describe_action(a) for a in actions)


def rule_label(rule: dict[str, Any]) -> str:
    return f"priority {rule['priority']} ({describe_conditions(rule['conditions'])})"
