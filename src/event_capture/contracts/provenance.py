"""How a stored event arrived: the ``arrived_via`` column of every event table, set by the
server (a sender that sends it is refused), so a flood through one write key can be found and
purged afterwards (``tools/purge.py``).

- ``capture``: the capture function, behind IAM (the app's backend).
- ``collector:<key id>``: the public collector, under the write key with that id.
- ``elevenlabs``: the collector's ElevenLabs post-call webhook, verified by its signature.

Rows stored before the column existed have none.
"""

import re

COLUMN = "arrived_via"
CAPTURE = "capture"
ELEVENLABS = "elevenlabs"
_COLLECTOR = "collector:"

DESCRIPTION = (
    "How the event arrived, set by the server: capture, collector:<write key id> or elevenlabs."
)

# A write key's id (collector/auth.py), short and plain so that it can sit in a column and a
# log line.
KEY_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


def collector(key_id: str) -> str:
    """The value for an event sent to the collector under the key with ``key_id``."""
    return _COLLECTOR + key_id


def parse_source(text: str) -> str:
    """The ``arrived_via`` value an operator means by ``text``: ``capture``, ``elevenlabs``,
    ``collector:<id>`` or a bare key id. Raises ValueError naming the rule."""
    if text in (CAPTURE, ELEVENLABS):
        return text
    key_id = text.removeprefix(_COLLECTOR)
    if not KEY_ID.fullmatch(key_id):
        raise ValueError(
            f"source {text!r}: must be capture, elevenlabs or a write key id "
            "(lower-case letters, digits and hyphens, at most 32)"
        )
    return collector(key_id)
