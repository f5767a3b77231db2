"""Which OIDC client secrets a restore may read, and what of a secret it sends.

A restore that creates (or changes) an ``authenticate-oidc`` action sends the client secret to
the load balancer, which sends it to the identity provider's token endpoint. Whoever can start a
restore chooses both the endpoints (in the snapshot) and the secret (``--oidc-secret`` /
``oidc_secrets``), so the secrets a restore may read are bounded here, before any change:

- **Scope.** The secret must be in the target listener's partition, account and region (the
  session that reads it is the listener's), and its name must start with the prefix the stack
  was deployed with (``OidcSecretPrefix``, default ``albrules/``). The stack's IAM policies say
  the same (template.yaml ``ReadOidcClientSecretsPolicy``, member-account.yaml); the engine
  checks first, so a refusal is one sentence instead of an AccessDenied, and holds for the CLI,
  whose caller's own credentials may reach any secret (``--any-oidc-secret`` lifts the prefix
  there, and only there).
- **Content.** A plain-text secret is the client secret. A JSON secret must hold
  ``client_secret`` (or ``ClientSecret``) as a non-empty string; any other JSON, or text that
  starts like JSON and does not parse, is refused, naming the secret: its whole text is never
  sent (it may be another system's credentials).

Facts (AWS Secrets Manager user guide): a secret's ARN is
``arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX`` (six random characters
added); names use ``A-Za-z0-9/_+=.@-``; a partial ARN (no suffix) also names a secret. AWS
recommends ``NAME-??????`` to match one secret and ``PREFIX*`` for a prefix, and
``kms:EncryptionContext:SecretARN`` with ``kms:ViaService`` to bound decryption to secrets
read through Secrets Manager. Not confirmed: that ``!`` (accepted in some AWS ARN patterns) can
appear in a name; it is accepted here, since the prefix check does not depend on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .arns import parse_listener_arn
from .errors import InvalidInput, RestoreRefused

#: The name prefix of the secrets a restore may read, unless the stack (or the CLI) says another.
DEFAULT_PREFIX = "albrules/"
#: The keys of a JSON secret that hold the client secret, in the order they are looked for.
JSON_KEYS = ("client_secret", "ClientSecret")

_SECRET_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):secretsmanager:(?P<region>[a-z0-9-]+):"
    r"(?P<account>\d{12}):secret:(?P<name>[A-Za-z0-9/_+=.@!-]{1,512})$"
)
_PREFIX = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")


@dataclass(frozen=True)
class SecretArn:
    """A Secrets Manager secret's ARN, in parts (``name`` may end with the random suffix)."""

    arn: str
    partition: str
    region: str
    account: str
    name: str


def parse_secret_arn(value: str, what: str = "--oidc-secret") -> SecretArn:
    """The parts of a secret ARN; InvalidInput (exit 2) naming ``what`` for anything else."""
    match = _SECRET_ARN.match(value)
    if not match:
        raise InvalidInput(
            f"{what}: {value!r} is not a Secrets Manager secret ARN; expected "
            "arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME"
        )
    return SecretArn(value, match["partition"], match["region"], match["account"], match["name"])


def check_prefix(prefix: str, what: str = "--oidc-secret-prefix") -> str:
    """A secret name prefix as given, if it is one (non-empty, secret-name characters)."""
    if not _PREFIX.match(prefix):
        raise InvalidInput(
            f"{what} {prefix!r} is not a secret name prefix; use letters, digits and "
            "/_+=.@- (for example albrules/)"
        )
    return prefix


@dataclass(frozen=True)
class SecretScope:
    """The secrets a restore may read: the listener's account and region, names under
    ``prefix`` (``None``: any name, the CLI's ``--any-oidc-secret``). ``widen`` ends the
    refusal: how this door reads a secret outside the prefix."""

    prefix: str | None = DEFAULT_PREFIX
    widen: str = "or deploy the stack with an OidcSecretPrefix that covers it"

    def check(self, arn: str, listener_arn: str, client: str | None = None) -> SecretArn:
        """The secret's parts if a restore of ``listener_arn`` may read it; RestoreRefused
        (exit 2, nothing read or changed) naming the secret otherwise."""
        what = f"the OIDC secret of client {client!r}" if client else "the OIDC secret"
        secret = parse_secret_arn(arn, what)
        listener = parse_listener_arn(listener_arn)
        which = f"the OIDC client secret {arn}" + (f" (client {client!r})" if client else "")
        if secret.partition != listener.partition:
            raise RestoreRefused(
                f"{which} is in partition {secret.partition}, not in the target listener's "
                f"partition {listener.partition}; store the client secret in account "
                f"{listener.account}, region {listener.region}, and pass that secret's ARN "
                "(nothing was read or changed)"
            )
        if secret.account != listener.account:
            raise RestoreRefused(
                f"{which} is in account {secret.account}, not in the target listener's account "
                f"{listener.account}; store the client secret in account {listener.account}, "
                f"region {listener.region}, and pass that secret's ARN (nothing was read or "
                "changed)"
            )
        if secret.region != listener.region:
            raise RestoreRefused(
                f"{which} is in region {secret.region}, not in the target listener's region "
                f"{listener.region}; store the client secret in {listener.region} and pass that "
                "secret's ARN (nothing was read or changed)"
            )
        if self.prefix is not None and not secret.name.startswith(self.prefix):
            raise RestoreRefused(
                f"{which} is outside the secret name prefix {self.prefix!r} that restores may "
                f"read; store the client secret in a secret named {self.prefix}..., "
                f"{self.widen} (nothing was read or changed)"
            )
        return secret

    def check_all(self, oidc_secrets: Mapping[str, str], listener_arn: str) -> None:
        """Every secret a restore was given (client ID -> ARN), in client order."""
        for client in sorted(oidc_secrets):
            self.check(oidc_secrets[client], listener_arn, client)


def client_secret_of(arn: str, text: str) -> str:
    """The client secret a secret's text holds: the text itself, or a JSON object's
    ``client_secret`` (or ``ClientSecret``). RestoreRefused naming the secret (never quoting
    it) for JSON without that key, or text that starts like JSON and is not."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        if not text:
            raise RestoreRefused(f"secret {arn} is empty; store the client secret in it")
        return text
    how = (
        'store {"client_secret": "..."} or the client secret alone as plain text (nothing '
        "was sent or changed)"
    )
    try:
        parsed = json.loads(stripped)
    except ValueError:
        raise RestoreRefused(
            f"secret {arn} starts like JSON but is not valid JSON; {how}"
        ) from None
    if not isinstance(parsed, dict):
        raise RestoreRefused(f"secret {arn} holds JSON that is not an object; {how}")
    for key in JSON_KEYS:
        value = parsed.get(key)
        if isinstance(value, str) and value:
            return value
        if key in parsed:
            raise RestoreRefused(
                f"secret {arn} has a {key!r} key that is not a non-empty string; {how}"
            )
    raise RestoreRefused(
        f"secret {arn} is a JSON secret without a 'client_secret' (or 'ClientSecret') key; {how}"
    )
