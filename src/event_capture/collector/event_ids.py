"""``messageId`` to ``event_id``: deterministic, so an SDK's retry of a call is the same event
(the BigQuery insertId and the de-duplicated views then absorb it, as for native retries)."""

import hashlib
import re
import uuid

# The project's own namespace for UUID5 event ids; fixed forever, since changing it would give
# a resent call a new event id.
MESSAGE_ID_NAMESPACE = uuid.UUID("5b0c6f0e-3d7a-5d1e-9a54-6e1f0c2b7a39")

_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_NAMESPACE_BYTES = MESSAGE_ID_NAMESPACE.bytes


def event_id(message_id: str) -> str:
    """A UUID in its canonical form is kept (lower-cased, as the table stores every UUID);
    anything else (``node-next-<ms>-<uuid>`` from the Node SDK) is UUID5 of it."""
    if _CANONICAL_UUID.fullmatch(message_id):
        return message_id.lower()
    return _uuid5(message_id)


def _uuid5(name: str) -> str:
    """``str(uuid.uuid5(MESSAGE_ID_NAMESPACE, name))`` (RFC 9562, 5.5) in less than half its
    CPU: every messageId of the Node SDK takes this path, and uuid.UUID's constructor
    dominates. SHA-1 is the RFC's, an id, not a security measure."""
    named = _NAMESPACE_BYTES + name.encode("utf-8", "surrogatepass")
    digest = bytearray(hashlib.sha1(named, usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC's variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
