"""Sessions in the accounts the workflows reach: this account, or a member account's role.

A listener in another account is reached through the member role (``member-account.yaml``),
named by ``role_arn`` or by the account id and the member role name, with the external id.
Sessions are cached per (role, region) for the life of a Lambda container; assumed-role
credentials last an hour (the most role chaining allows), longer than any one task runs. This
account's own session is made once per region too (AWS's advice: SDK clients outside the
handler): each new session would read and parse its services' models again, tens of
milliseconds of every invocation. On the local AWS each function gets its role's credentials in
its invocation's environment, not the process's, so that session is made per credentials too.
"""

from __future__ import annotations

import time
from functools import lru_cache

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .aws import Aws, as_albrules_error
from .runtime_env import getenv, invocation_credentials

SESSION_SECONDS = 3600
_cache: dict[tuple[str, str], tuple[float, Aws]] = {}
_homes: dict[tuple[str | None, str | None], Aws] = {}


def home(region: str | None = None) -> Aws:
    """This account (the function's own role, or the caller's), in ``region`` or the default
    one: one session and its clients for the life of the process, per set of credentials (the
    local AWS hands each function its role's session in its invocation's environment)."""
    given = invocation_credentials()
    key = (region, given[0] if given else None)
    aws = _homes.get(key)
    if aws is None:
        if given:
            access_key, secret, token = given
            session = boto3.Session(
                aws_access_key_id=access_key,
                aws_secret_access_key=secret,
                aws_session_token=token,
                region_name=region or getenv("AWS_DEFAULT_REGION"),
            )
        else:
            session = boto3.Session(region_name=region)
        aws = _homes.setdefault(key, Aws(session))
    return aws


@lru_cache(maxsize=1)
def own_account() -> str:
    try:
        return str(boto3.client("sts").get_caller_identity()["Account"])
    except (ClientError, BotoCoreError) as err:
        raise as_albrules_error(err, service="sts") from err


def member_role_arn(account_id: str, role_name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


def aws_for(
    account_id: str,
    region: str,
    *,
    role_arn: str | None = None,
    member_role_name: str | None = None,
    external_id: str | None = None,
) -> Aws:
    """An :class:`Aws` for ``account_id`` in ``region``, assuming a role when needed."""
    if role_arn is None and (account_id == own_account() or not member_role_name):
        return home(region)
    role = role_arn or member_role_arn(account_id, str(member_role_name))
    key = (role, region)
    cached = _cache.get(key)
    if cached and cached[0] > time.time() + 300:
        return cached[1]
    kwargs = {
        "RoleArn": role,
        "RoleSessionName": "albrules",
        "DurationSeconds": SESSION_SECONDS,
    }
    if external_id:
        kwargs["ExternalId"] = external_id
    try:
        sts = home(region).client("sts")  # as this function's own role (role chaining)
        creds = sts.assume_role(**kwargs)["Credentials"]
    except (ClientError, BotoCoreError) as err:
        raise as_albrules_error(err, service="sts", where=role) from err
    session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )
    aws = Aws(session)
    _cache[key] = (time.time() + SESSION_SECONDS, aws)
    return aws


def forget(*, keep_function_sessions: bool = False) -> None:
    """Drop cached sessions and the cached account id (a new local AWS, a new test).

    ``keep_function_sessions`` keeps the sessions made from an invocation's own credentials
    (a function's role session, keyed by its access key: the same key is the same identity),
    for a new test in the same local AWS: making each function's session and clients again
    for every test costs about 0.1 s of CPU each."""
    _cache.clear()
    for key in list(_homes):
        if not (keep_function_sessions and key[1] is not None):
            del _homes[key]
    own_account.cache_clear()
