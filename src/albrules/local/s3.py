"""S3 bucket policies as AWS evaluates them for the stack's TLS-only bucket.

moto 5.2.5 evaluates a bucket policy's statements without their ``Condition`` blocks, so the
standard "deny when ``aws:SecureTransport`` is false" statement denies every request. On AWS
the SDKs call S3 over HTTPS, where that condition is false and the statement does not apply.
The local AWS stands in for AWS's HTTPS endpoints, so here ``aws:SecureTransport`` is true:
a statement that requires it to be false is left out; any other statement is evaluated as
moto does.
"""

from __future__ import annotations

import json
from typing import Any

_installed = False


def _applies_over_tls(statement: dict[str, Any]) -> bool:
    for operator, conditions in (statement.get("Condition") or {}).items():
        if not operator.startswith("Bool"):
            continue
        for key, value in conditions.items():
            if key.lower() == "aws:securetransport":
                values = value if isinstance(value, list) else [value]
                if "true" not in [str(v).lower() for v in values]:
                    return False
    return True


def tls_view(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy's statements that apply to a request made over TLS."""
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return {**policy, "Statement": [s for s in statements if _applies_over_tls(s)]}


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = tls_view(json.loads(self.policy))
        if not policy["Statement"]:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]  # the patch itself
    _installed = True
