"""Write keys: which callers the public collector serves.

A key arrives as the Basic-auth user name (Segment's and RudderStack's SDKs, the password
ignored) or as ``writeKey`` in the body (Segment's SDKs send both). Every configured key is
compared, always all of them, in constant time over SHA-256 digests, so neither the time an
answer takes nor its length says how much of a key was right, or which key.
"""

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

# Two keys may be active at once: a key is rotated by adding the new one, moving the clients,
# then removing the old one, without downtime.
MAX_WRITE_KEYS = 2
MIN_WRITE_KEY_LENGTH = 16


class WriteKeyError(ValueError):
    """The configured keys are unusable; the message never quotes a key."""


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True, slots=True)
class WriteKeys:
    _digests: tuple[bytes, ...]

    @classmethod
    def parse(cls, text: str) -> "WriteKeys":
        """Comma-separated keys (``COLLECTOR_WRITE_KEYS``); spaces around each are dropped."""
        keys = [key.strip() for key in text.split(",") if key.strip()]
        if not keys:
            raise WriteKeyError("at least one write key is required")
        if len(keys) > MAX_WRITE_KEYS:
            raise WriteKeyError(f"at most {MAX_WRITE_KEYS} keys (the current and the next)")
        for position, key in enumerate(keys, 1):
            if len(key) < MIN_WRITE_KEY_LENGTH:
                raise WriteKeyError(
                    f"key {position} must be at least {MIN_WRITE_KEY_LENGTH} characters"
                )
            if ":" in key or not key.isprintable():
                # A Basic-auth user name ends at the first colon.
                raise WriteKeyError(f"key {position} must be printable and hold no ':'")
        return cls(tuple(_digest(key) for key in keys))

    def accepts(self, candidate: str) -> bool:
        given = _digest(candidate)
        accepted = False
        for digest in self._digests:
            # Not short-circuited: every key is compared whatever the first answered.
            accepted |= hmac.compare_digest(given, digest)
        return accepted


def basic_user(authorization: str | None) -> str | None:
    """The user name of ``Authorization: Basic``, or None when there is no such header.

    A value that is not Basic (Segment's OAuth sends Bearer, with the key in the body) counts
    as no header; a Basic value that does not decode gives "" (a wrong key, not a missing one).
    """
    if authorization is None:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    # "key:" as the SDKs send it; "key" alone is taken too, as Segment does.
    return decoded.partition(":")[0]
