"""A user id's proof: what the app's backend gives a page so that the public collector keeps the
user id the page sends, and what the collector checks.

The convention is Intercom's identity verification, which Segment's SDKs already carry: the
proof is the lower-case hex HMAC-SHA256 of the user id under a secret only the backend holds,
sent in the call's ``integrations.Intercom.user_hash``. Anyone can read a page's write key, so
a user id without a valid proof is not kept: the call is stored under its anonymous id only.
"""

import hashlib
import hmac
from collections.abc import Iterable

INTEGRATION = "Intercom"
FIELD = "user_hash"
# Where the collector reads it, for docs and messages.
PATH = f"integrations.{INTEGRATION}.{FIELD}"
MIN_SECRET_LENGTH = 32


def user_proof(secret: str, user_id: str) -> str:
    """The proof of ``user_id`` under ``secret``: made by the app's backend, never by a page."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def proof_matches(secrets: Iterable[str], user_id: str, proof: str) -> bool:
    """Whether ``proof`` is the proof of ``user_id`` under any of ``secrets`` (two while one is
    rotated); every secret is compared, in constant time."""
    given = proof.encode("ascii", "replace")
    try:
        user_id.encode()
    except UnicodeEncodeError:
        # A lone surrogate (JSON's "\ud800" in a call): no backend can have proven it, and a
        # caller must not make the check raise.
        return False
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(given, user_proof(secret, user_id).encode())
    return matched
