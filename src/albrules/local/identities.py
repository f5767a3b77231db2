"""Who a request's access key belongs to, in the local AWS, as AWS would say it.

AWS authenticates every request by its access key: an IAM user's long-term key (``AKIA...``)
is that user; temporary credentials from STS (``ASIA...`` plus a session token) are the
assumed role's session. The local AWS does the same from moto's backends, so that tests can act
as different people (IAM users with access keys, or roles they assume):

- an IAM user's access key (moto IAM) -> ``arn:aws:iam::ACCOUNT:user/NAME``, its user id;
- credentials from ``AssumeRole`` (moto STS) -> ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``,
  with the role as the session's issuer;
- the local AWS's own default credentials (:data:`DEFAULT_CREDENTIALS`), which belong to no
  IAM user -> what moto's
  ``GetCallerIdentity`` answers for them, ``arn:aws:sts::ACCOUNT:user/moto``, an identity
  allowed everything (as moto treats it);
- any other key is unknown: AWS refuses it (``The security token included in the request is
  invalid``), and so do the callers of :func:`caller` here.

:func:`caller` is what CloudTrail's recorder (:mod:`albrules.local.cloudtrail`) writes in an
event's ``userIdentity``, and what the function URLs (:mod:`albrules.local.function_urls`) put in
``requestContext.authorizer.iam`` after checking the request's signature with the key's secret.

Not modelled: root users' own access keys, federated users (GetFederationToken), IAM Identity
Center sessions, and permission boundaries, SCPs and session policies in :func:`allows`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: The local AWS's default credentials (access key -> secret): they are no IAM user's.
#: ``test`` is ``albrules local env``'s, ``testing`` the test suite's, ``FOOBARKEY`` what
#: ``mock_aws`` puts in the environment while it runs.
DEFAULT_CREDENTIALS = {"test": "test", "testing": "testing", "FOOBARKEY": "FOOBARSECRET"}
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def access_key_of(authorization: str) -> str | None:
    """The access key a SigV4 ``Authorization`` header names (moto's own parser only finds
    20-character keys, so it misses the local default ones)."""
    found = _CREDENTIAL.search(authorization or "")
    return found.group(1) if found else None


DEFAULT_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Caller:
    """One authenticated principal, found from its access key."""

    access_key: str
    secret_key: str = field(repr=False)
    account_id: str
    arn: str
    principal_id: str  # AIDA... for a user, AROA...:SESSION for a role session
    kind: str  # CloudTrail's userIdentity.type: IAMUser or AssumedRole
    user_name: str | None = None
    session_token: str | None = field(default=None, repr=False)
    issuer_arn: str | None = None  # the role of an assumed-role session
    issuer_id: str | None = None
    policies: tuple[Any, ...] = field(default=(), repr=False)
    unrestricted: bool = False  # the default credentials: moto's allow-everything identity

    def user_identity(self) -> dict[str, Any]:
        """CloudTrail's ``userIdentity`` for a call made with this key."""
        identity: dict[str, Any] = {
            "type": self.kind,
            "principalId": self.principal_id,
            "arn": self.arn,
            "accountId": self.account_id,
            "accessKeyId": self.access_key,
        }
        if self.kind == "IAMUser" and self.user_name:
            identity["userName"] = self.user_name
        if self.kind == "AssumedRole" and self.issuer_arn:
            identity["sessionContext"] = {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": self.issuer_id or "",
                    "arn": self.issuer_arn,
                    "accountId": self.account_id,
                    "userName": self.issuer_arn.rsplit("/", 1)[-1],
                },
                "attributes": {"mfaAuthenticated": "false"},
            }
        return identity

    def authorizer_iam(self) -> dict[str, Any]:
        """A function URL event's ``requestContext.authorizer.iam`` for this caller."""
        return {
            "accessKey": self.access_key,
            "accountId": self.account_id,
            "callerId": self.principal_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": self.arn,
            "userId": self.principal_id,
        }


def caller(access_key: str) -> Caller | None:
    """The principal an access key belongs to, or None if the local AWS knows no such key."""
    from moto.iam.access_control import AssumedRoleAccessKey, IAMUserAccessKey
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    if access_key in DEFAULT_CREDENTIALS:
        return Caller(
            access_key=access_key,
            secret_key=DEFAULT_CREDENTIALS[access_key],
            account_id=DEFAULT_ACCOUNT,
            arn=f"arn:aws:sts::{DEFAULT_ACCOUNT}:user/moto",
            principal_id="AKIAIOSFODNN7EXAMPLE",  # what moto's GetCallerIdentity says
            kind="IAMUser",
            user_name="moto",
            unrestricted=True,
        )
    for account in list(iam_backends):
        for partition in list(iam_backends[account]):
            backend = iam_backends[account][partition]
            user = backend.get_user_from_access_key_id(access_key)
            if user is None:
                continue
            secret = next(
                k.secret_access_key for k in user.access_keys if k.access_key_id == access_key
            )
            found = IAMUserAccessKey(account, partition, access_key, {})
            return Caller(
                access_key=access_key,
                secret_key=secret,
                account_id=user.account_id,
                arn=user.arn,
                principal_id=user.id,
                kind="IAMUser",
                user_name=user.name,
                policies=tuple(found.collect_policies()),
            )
    for account in list(sts_backends):
        for partition in list(sts_backends[account]):
            for role in sts_backends[account][partition].assumed_roles:
                if role.access_key_id != access_key:
                    continue
                token = role.session_token
                found_role = AssumedRoleAccessKey(
                    account, partition, access_key, {"X-Amz-Security-Token": token}
                )
                try:
                    policies = tuple(found_role.collect_policies())
                except Exception:  # moto lets anyone assume a role that does not exist
                    policies = ()
                principal = str(role.user_id)
                return Caller(
                    access_key=access_key,
                    secret_key=role.secret_access_key,
                    account_id=role.account_id,
                    arn=role.arn,
                    principal_id=principal,
                    kind="AssumedRole",
                    session_token=token,
                    issuer_arn=role.role_arn,
                    issuer_id=principal.split(":", 1)[0],
                    policies=policies,
                )
    return None


def allows(who: Caller, actions: tuple[str, ...], resource: str) -> bool:
    """Whether the caller's identity policies allow every one of ``actions`` on ``resource``
    (an explicit Deny wins; no Allow means denied), as IAM evaluates identity policies."""
    if who.unrestricted:
        return True
    from moto.iam.access_control import IAMPolicy, PermissionResult

    for action in actions:
        allowed = False
        for policy in who.policies:
            result = IAMPolicy(policy).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return False
            allowed = allowed or result == PermissionResult.PERMITTED
        if not allowed:
            return False
    return True
