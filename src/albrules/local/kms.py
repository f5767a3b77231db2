"""Make moto's KMS HMAC operations (``GenerateMac``, ``VerifyMac``) behave as AWS documents.

moto 5.2.5 (pinned) gets the core right: a MAC verifies only with the key that made it
(``KMSInvalidMacException`` otherwise) and a key that is not an HMAC key is refused
(``InvalidKeyUsageException``). It differs from AWS's API reference where a seal could be
made or checked that AWS would refuse, fixed here:

1. A MAC algorithm the key's spec does not support (HMAC_SHA_512 with an HMAC_256 key) was
   accepted: now ``InvalidKeyUsageException`` ("The algorithm must be compatible with the
   HMAC KMS key that you specify"; an HMAC_<n> key supports HMAC_SHA_<n> only).
2. A disabled key, or one pending deletion, still made and checked MACs: now
   ``DisabledException`` and ``KMSInvalidStateException`` ("must be in a compatible key
   state").
3. A message of more than 4,096 bytes was accepted: now ``ValidationException`` (the
   ``Message`` member is 1 to 4,096 bytes).
4. ``EnableKeyRotation`` on an HMAC key succeeded: now ``UnsupportedOperationException``
   (automatic rotation is for symmetric encryption keys only).

Not reproduced (not confirmed in AWS's documentation, or not observable by albrules): key
policies and grants are not evaluated (moto evaluates none), and moto MACs the base64 text of
the message rather than its bytes, so its MACs differ from AWS's for the same key material
(a MAC is only ever checked by the same KMS that made it).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from moto.core.exceptions import JsonRESTError

_installed = False
MAX_MESSAGE_BYTES = 4096
_SUPPORTED = {
    "HMAC_224": "HMAC_SHA_224",
    "HMAC_256": "HMAC_SHA_256",
    "HMAC_384": "HMAC_SHA_384",
    "HMAC_512": "HMAC_SHA_512",
}


def _error(code: str, message: str) -> JsonRESTError:
    return JsonRESTError(code, message)


def check_mac_request(key: Any, mac_algorithm: str, message: str | bytes | None) -> None:
    """Raise what AWS answers a GenerateMac/VerifyMac on ``key`` with these parameters."""
    state = getattr(key, "key_state", "Enabled")
    if state == "Disabled":
        raise _error("DisabledException", f"{key.arn} is disabled.")
    if state != "Enabled":
        raise _error("KMSInvalidStateException", f"{key.arn} is pending deletion.")
    supported = _SUPPORTED.get(getattr(key, "key_spec", ""))
    usage = getattr(key, "key_usage", "")
    if supported and usage == "GENERATE_VERIFY_MAC" and mac_algorithm != supported:
        raise _error(
            "InvalidKeyUsageException",
            f"{key.arn} key usage is GENERATE_VERIFY_MAC which is not compatible with "
            f"MAC algorithm {mac_algorithm}; the key supports {supported}.",
        )
    size = _message_size(message)
    if size > MAX_MESSAGE_BYTES:
        raise _error(
            "ValidationException",
            "1 validation error detected: Value at 'message' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_MESSAGE_BYTES}",
        )


def _message_size(message: str | bytes | None) -> int:
    """The message's size in bytes (the request carries it base64-encoded)."""
    if message is None:
        return 0
    raw = message.encode() if isinstance(message, str) else message
    try:
        return len(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        return len(raw)


def install() -> None:
    """Patch moto's KMS backend in this process (idempotent)."""
    global _installed
    if _installed:
        return
    from moto.kms.models import KmsBackend

    original_generate = KmsBackend.generate_mac
    original_verify = KmsBackend.verify_mac
    original_rotation = KmsBackend.enable_key_rotation

    def generate_mac(self: Any, message: Any, key_id: str, mac_algorithm: str, **kw: Any) -> Any:
        key = self.keys[self.any_id_to_key_id(key_id)]
        check_mac_request(key, mac_algorithm, message)
        return original_generate(
            self, message=message, key_id=key_id, mac_algorithm=mac_algorithm, **kw
        )

    def verify_mac(self: Any, message: Any, key_id: str, mac_algorithm: str, **kw: Any) -> Any:
        key = self.keys[self.any_id_to_key_id(key_id)]
        check_mac_request(key, mac_algorithm, message)
        return original_verify(
            self, message=message, key_id=key_id, mac_algorithm=mac_algorithm, **kw
        )

    def enable_key_rotation(self: Any, key_id: str, *args: Any, **kw: Any) -> Any:
        key = self.keys[self.get_key_id(key_id)]
        if str(getattr(key, "key_spec", "")).startswith("HMAC"):
            raise _error(
                "UnsupportedOperationException",
                f"{key.arn} key usage is GENERATE_VERIFY_MAC, which does not support automatic "
                "key rotation.",
            )
        return original_rotation(self, key_id, *args, **kw)

    KmsBackend.generate_mac = generate_mac  # type: ignore[method-assign,assignment]  # the patch
    KmsBackend.verify_mac = verify_mac  # type: ignore[method-assign,assignment]
    KmsBackend.enable_key_rotation = enable_key_rotation  # type: ignore[method-assign]
    _installed = True
