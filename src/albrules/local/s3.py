"""S3 bucket policies as AWS evaluates them for the stack's bucket.

moto 5.2.5 evaluates a bucket policy's statements without their ``Condition`` blocks (it
knows only ``StringEquals``, and no principal), so the standard "deny when
``aws:SecureTransport`` is false" statement denies every request, and the stack's "deny writes
under snapshots/ unless ``aws:PrincipalArn`` is one of the stack's roles" would deny the
stack's own writes. Here the policy is evaluated by :mod:`albrules.local.policies` instead,
with the request's context as the local AWS knows it:

- ``aws:SecureTransport`` is true: the local AWS stands in for AWS's HTTPS endpoints, which
  the SDKs use;
- ``aws:PrincipalArn`` is the caller's ARN when the request is signed with an access key of an
  IAM user (the user's ARN) or of an assumed role (the role's ARN, as AWS gives for roles).
  The stack's functions run as their execution roles (:mod:`albrules.local.lambdas`), so
  their requests carry their role's ARN and the bucket policy tells them apart as on AWS.
  Requests signed with the local AWS's default credentials (``test``: the test harness, the
  CLI against the local server) have no principal the local AWS can name: statements whose
  conditions read ``aws:PrincipalArn`` are not applied to them. See the README's "What is not
  confirmed" section.

A statement the evaluator does not model is evaluated as moto does.
"""

from __future__ import annotations

import contextvars
import json
import re
from typing import Any

from .policies import Unsupported, as_list, condition_keys, statement_applies

_installed = False
_ACCESS_KEY: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "albrules_s3_access_key", default=None
)
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def principal_arn(access_key_id: str | None) -> str | None:
    """The ARN AWS would give as ``aws:PrincipalArn`` for this access key: an IAM user's ARN,
    or an assumed role's role ARN; None for a key the local AWS does not know."""
    if not access_key_id:
        return None
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    for by_partition in list(iam_backends.values()):
        for backend in list(by_partition.values()):
            for user in list(backend.users.values()):
                if any(k.access_key_id == access_key_id for k in user.access_keys):
                    return str(user.arn)
    for sts_partitions in list(sts_backends.values()):
        for sts in list(sts_partitions.values()):
            for role in list(sts.assumed_roles):
                if role.access_key_id == access_key_id:
                    return str(role.role_arn)
    return None


def request_context(access_key_id: str | None) -> dict[str, str]:
    context = {"aws:SecureTransport": "true"}
    arn = principal_arn(access_key_id)
    if arn:
        context["aws:PrincipalArn"] = arn
    return context


def decide(policy: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> Any:
    """moto's PermissionResult for the request, the statements evaluated as AWS would."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    result = PermissionResult.NEUTRAL
    for statement in as_list(policy.get("Statement", [])):
        if "aws:principalarn" in condition_keys(statement) and ("aws:PrincipalArn" not in context):
            continue  # no principal the local AWS can name: see the module docstring
        try:
            applies = statement_applies(statement, action, resource, context)
            effect = statement.get("Effect") if applies else None
            found = {"Deny": PermissionResult.DENIED, "Allow": PermissionResult.PERMITTED}.get(
                str(effect), PermissionResult.NEUTRAL
            )
        except Unsupported:
            found = IAMPolicy(json.dumps({**policy, "Statement": [statement]})).is_action_permitted(
                action, resource
            )
        if found == PermissionResult.DENIED:
            return found
        if found == PermissionResult.PERMITTED:
            result = found
    return result


def _remember_caller(method: Any) -> Any:
    def wrapper(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        found = _CREDENTIAL.search(str(getattr(request, "headers", {}).get("Authorization", "")))
        token = _ACCESS_KEY.set(found.group(1) if found else None)
        try:
            return method(self, request, *args, **kwargs)
        finally:
            _ACCESS_KEY.reset(token)

    return wrapper


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket
    from moto.s3.responses import S3Response

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy)
        return decide(policy, action, resource, request_context(_ACCESS_KEY.get()))

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]  # the patch itself
    S3Response._key_response = _remember_caller(S3Response._key_response)  # type: ignore[method-assign]
    S3Response._bucket_response = _remember_caller(S3Response._bucket_response)  # type: ignore[method-assign]
    _installed = True
