"""``messageId`` to ``event_id``: deterministic, so an SDK's retry of a call is the same event
(the BigQuery insertId and the de-duplicated views then absorb it, as for native retries)."""

import re
import uuid

# The project's own namespace for UUID5 event ids; fixed forever, since changing it would give
# a resent call a new event id.
MESSAGE_ID_NAMESPACE = uuid.UUID("5b0c6f0e-3d7a-5d1e-9a54-6e1f0c2b7a39")

_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def event_id(message_id: str) -> str:
    """A UUID in its canonical form is kept (lower-cased, as the table stores every UUID);
    anything else (``node-next-<ms>-<uuid>`` from the Node SDK) is UUID5 of it."""
    if _CANONICAL_UUID.fullmatch(message_id):
        return message_id.lower()
    return str(uuid.uuid5(MESSAGE_ID_NAMESPACE, message_id))
