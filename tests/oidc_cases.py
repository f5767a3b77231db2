"""OIDC client secret cases shared by the CLI and attack tests: a listener whose
authenticate-oidc rule a restore must create, secrets to name, and where a secret's value must
never appear."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.client import BaseClient

from albrules.local import elbv2 as fidelity
from local_world import World
from rule_builders import forward, path

CLIENT = "shop-client"
ISSUER = "https://idp.example.com"
INITIAL = "initial-secret-value"  # the secret the rule was first created with
#: Values that must never leave Secrets Manager: each names what it would leak.
DB_PASSWORD = "hunter2-the-production-database-password"
WHOLE_JSON = "s3cr3t-the-whole-json-document"


def oidc(secret: str | None = None) -> dict[str, Any]:
    config = {
        "Issuer": ISSUER,
        "AuthorizationEndpoint": f"{ISSUER}/authorize",
        "TokenEndpoint": f"{ISSUER}/token",
        "UserInfoEndpoint": f"{ISSUER}/userinfo",
        "ClientId": CLIENT,
    }
    if secret:
        config["ClientSecret"] = secret
    return {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": config}


def oidc_listener(world: World, name: str = "shop") -> str:
    """A listener with one plain rule (priority 1) and one OIDC rule (priority 7)."""
    listener = world.listener(world.load_balancer(name))
    group = world.target_group(f"{name}-app")
    world.rule(listener, 1, [path("/public/*")], [forward(group)])
    world.rule(listener, 7, [path("/private/*")], [oidc(INITIAL), {**forward(group), "Order": 2}])
    return listener


def delete_oidc_rule(world: World, listener: str) -> None:
    """The bad deploy: the OIDC rule is gone, so a restore must create it (and send a secret)."""
    rule = next(r for r in world.rules(listener) if r["Priority"] == "7")
    world.elb.delete_rule(RuleArn=rule["RuleArn"])


def create_secret(world: World, name: str, value: str, region: str | None = None) -> str:
    client = world.session.client("secretsmanager", region_name=region)
    return str(client.create_secret(Name=name, SecretString=value)["ARN"])


def secret_sent(listener_rules: set[str], priority: int = 7) -> dict[str, str] | None:
    """The client secrets the local load balancer holds for the rule at ``priority``."""
    for backend in fidelity.elbv2_models.elbv2_backends.values():
        for regional in backend.values():
            for lb in regional.load_balancers.values():
                for lst in lb.listeners.values():
                    for rule in lst.rules.values():
                        if rule.arn in listener_rules and str(rule.priority) == str(priority):
                            found: dict[str, str] = rule.actions[0]._albrules_secrets
                            return found
    return None


@dataclass
class Requests:
    """Every AWS call made in the process while recording, with its parameters."""

    made: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def secrets_read(self) -> list[str]:
        return [
            str(params.get("SecretId"))
            for service, op, params in self.made
            if service == "secretsmanager" and op == "GetSecretValue"
        ]


def record_requests(monkeypatch: pytest.MonkeyPatch) -> Requests:
    """Record every AWS call from now to the end of the test (a test module's fixture)."""
    recorder = Requests()
    original = BaseClient._make_api_call

    def record(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        service = self.meta.service_model.endpoint_prefix
        recorder.made.append((service, operation_name, dict(api_params)))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    return recorder


def nowhere(value: str, *places: Any) -> None:
    """``value`` appears in none of ``places`` (text, or anything JSON can write)."""
    for place in places:
        text = place if isinstance(place, str) else json.dumps(place, default=str)
        assert value not in text, f"the secret's value leaked into: {text[:300]}"
