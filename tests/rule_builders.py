"""Conditions and actions in the ELBv2 API's write form, and pools of them for random
listeners: pure data, shared by every tier (no AWS emulator)."""

from __future__ import annotations

from typing import Any


def path(*values: str) -> dict[str, Any]:
    return {"Field": "path-pattern", "PathPatternConfig": {"Values": list(values)}}


def host(*values: str) -> dict[str, Any]:
    return {"Field": "host-header", "HostHeaderConfig": {"Values": list(values)}}


def header(name: str, *values: str) -> dict[str, Any]:
    return {
        "Field": "http-header",
        "HttpHeaderConfig": {"HttpHeaderName": name, "Values": list(values)},
    }


def fixed(status: str = "200") -> dict[str, Any]:
    return {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": status}}


def forward(*groups: str | tuple[str, int], sticky: int | None = None) -> dict[str, Any]:
    items = [g if isinstance(g, tuple) else (g, 1) for g in groups]
    config: dict[str, Any] = {
        "TargetGroups": [{"TargetGroupArn": a, "Weight": w} for a, w in items]
    }
    if sticky:
        config["TargetGroupStickinessConfig"] = {"Enabled": True, "DurationSeconds": sticky}
    return {"Type": "forward", "ForwardConfig": config}


def redirect(**config: str) -> dict[str, Any]:
    return {"Type": "redirect", "RedirectConfig": {"StatusCode": "HTTP_301", **config}}


CONDITION_POOL: list[list[dict[str, Any]]] = [
    [path("/a/*")],
    [path("/b/*")],
    [path("/c/*"), host("c.example.com")],
    [host("d.example.com")],
    [header("X-Env", "prod")],
    [path("/f", "/g")],
    [host("h.example.com"), path("/h/*")],
    [{"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}]}}],
    [{"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}}],
    [{"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}}],
    [{"Field": "path-pattern", "PathPatternConfig": {"RegexValues": ["^/r[0-9]+$"]}}],
    [path("/l/*")],
]
TRANSFORM = [
    {
        "Type": "url-rewrite",
        "UrlRewriteConfig": {"Rewrites": [{"Regex": "^/a(.*)$", "Replace": "$1"}]},
    }
]
