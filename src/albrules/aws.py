"""AWS access: clients from a session passed in, retry settings, and errors in plain words.

No module-level clients or state: an :class:`Aws` wraps one boto3 session (one account and
region) and caches its clients, so callers can hold one per account and region at once.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from .errors import AlbRulesError, AwsCallFailed, AwsThrottled, InvalidInput, ListenerNotFound

DEFAULT_MAX_ATTEMPTS = 8

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "RequestThrottled",
    }
)
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure"}
)
_IAM_PREFIX = {
    "elbv2": "elasticloadbalancing",
    "s3": "s3",
    "secretsmanager": "secretsmanager",
    "sts": "sts",
    "kms": "kms",
}
# API operations whose IAM action has another name.
_IAM_ACTION = {
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "HeadBucket"): "ListBucket",
}


def retry_config(mode: str | None = None) -> Config:
    """botocore retries for throttling: ``mode``, else standard (or AWS_RETRY_MODE) mode, 8
    attempts (or AWS_MAX_ATTEMPTS)."""
    mode = mode or os.environ.get("AWS_RETRY_MODE", "standard")
    if mode not in ("standard", "adaptive", "legacy"):
        mode = "standard"
    attempts = os.environ.get("AWS_MAX_ATTEMPTS", "")
    max_attempts = (
        int(attempts) if attempts.isdigit() and int(attempts) > 0 else DEFAULT_MAX_ATTEMPTS
    )
    return Config(retries={"mode": mode, "total_max_attempts": max_attempts})


_MAKING = threading.Lock()


@dataclass
class Aws:
    """One boto3 session (one account and region) and its cached clients."""

    session: boto3.Session
    retry_mode: str | None = None  # None: retry_config()'s default ("adaptive" for the sweep)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    # A boto3 session is not thread-safe (its clients are): one client is made at a time, in
    # the process (several Aws may share a session).
    _making: threading.Lock = field(default=_MAKING, repr=False, compare=False)

    @property
    def region(self) -> str | None:
        return cast(str | None, self.session.region_name)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            with self._making:
                if service not in self._clients:
                    try:
                        made = self.session.client(service, config=retry_config(self.retry_mode))
                    except NoRegionError:
                        raise InvalidInput(
                            "no AWS region is set; pass --region or set AWS_DEFAULT_REGION"
                        ) from None
                    self._clients[service] = made
        return self._clients[service]

    @property
    def elbv2(self) -> Any:
        return self.client("elbv2")

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def secrets(self) -> Any:
        return self.client("secretsmanager")


def iam_action(service: str, operation: str) -> str:
    prefix = _IAM_PREFIX.get(service, service)
    return f"{prefix}:{_IAM_ACTION.get((service, operation), operation)}"


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def error_message(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Message", "")).strip()


def _principal(message: str) -> str:
    match = re.search(r"User: (\S+) is not authorized", message)
    return match.group(1) if match else "the caller"


def as_albrules_error(err: Exception, *, service: str = "elbv2", where: str = "") -> AlbRulesError:
    """Any exception as an AlbRulesError: one clear sentence (what failed, where, what to do)
    for an AWS SDK error; an AlbRulesError as it is."""
    at = f" on {where}" if where else ""
    if isinstance(err, AlbRulesError):
        return err
    if isinstance(err, (NoCredentialsError, PartialCredentialsError)):
        return AwsCallFailed(
            "no AWS credentials were found; pass --profile, set AWS credentials, or start the "
            "local AWS with `albrules local up` and use the environment it prints",
            code="NoCredentials",
        )
    if isinstance(err, EndpointConnectionError):
        return AwsCallFailed(
            f"could not reach the AWS endpoint {err.kwargs.get('endpoint_url', '')}; check the "
            "network, or if you use the local AWS start it with `albrules local up`",
            code="EndpointConnectionError",
        )
    if isinstance(err, NoRegionError):
        return InvalidInput("no AWS region is set; pass --region or set AWS_DEFAULT_REGION")
    if not isinstance(err, ClientError):
        if isinstance(err, BotoCoreError):
            return AwsCallFailed(f"the AWS SDK failed{at}: {err}", code=type(err).__name__)
        return AwsCallFailed(f"unexpected error{at}: {err}", code=type(err).__name__)
    code = error_code(err)
    operation = err.operation_name
    message = error_message(err)
    if code in ACCESS_DENIED_CODES:
        action = iam_action(service, operation)
        return AwsCallFailed(
            f"AWS denied {action}{at}: grant {action} to {_principal(message)} and run again",
            code=code,
            operation=operation,
        )
    if code in THROTTLING_CODES:
        attempts = err.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
        return AwsThrottled(
            f"AWS kept throttling {operation}{at} after {attempts} attempts; wait a minute and "
            "run again, and look for other tools calling the ELB API in this account and region",
            code=code,
            operation=operation,
        )
    if code in ("ListenerNotFound", "LoadBalancerNotFound"):
        what = where or ("the listener" if code == "ListenerNotFound" else "the load balancer")
        return ListenerNotFound(f"{what} does not exist; check the ARN, --region and --profile")
    if code in ("NoSuchBucket", "NoSuchKey", "404", "NotFound"):
        return InvalidInput(
            f"{where or 'the S3 object'} does not exist ({code}); check the location"
        )
    if code == "ResourceNotFoundException" and service == "secretsmanager":
        return InvalidInput(f"the secret{at} does not exist; check the --oidc-secret ARN")
    return AwsCallFailed(
        f"{operation} failed{at}: {code}: {message}", code=code, operation=operation
    )
