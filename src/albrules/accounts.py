"""Sessions in the accounts the workflows reach: this account, or a member account's role.

A listener in another account is reached through the member role (``member-account.yaml``),
named by ``role_arn`` or by the account id and the member role name, with the external id.
Sessions are cached per (role, region) for the life of a Lambda container; assumed-role
credentials last an hour (the most role chaining allows), longer than any one task runs. This
account's own session is made once per region too (AWS's advice: SDK clients outside the
handler): each new session would read and parse its services' models again, tens of
milliseconds of every invocation.
"""

from __future__ import annotations

import time
from functools import lru_cache

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .aws import Aws, as_albrules_error

SESSION_SECONDS = 3600
_cache: dict[tuple[str, str], tuple[float, Aws]] = {}
_homes: dict[str | None, Aws] = {}


def home(region: str | None = None) -> Aws:
    """This account (the function's own role, or the caller's), in ``region`` or the default
    one: one session and its clients for the life of the process."""
    aws = _homes.get(region)
    if aws is None:
        aws = _homes.setdefault(region, Aws(boto3.Session(region_name=region)))
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
        creds = boto3.client("sts", region_name=region).assume_role(**kwargs)["Credentials"]
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


def forget() -> None:
    """Drop cached sessions and the cached account id (a new local AWS, a new test)."""
    _cache.clear()
    _homes.clear()
    own_account.cache_clear()
