"""Forgetting a user, as the app, the operators' tool, the forget function and capture share it.

Import-free (the Pulumi program reads its names); the request's model is
``contracts.forget_request``.

- **A request** is one JSON object, ``requests/<request_id>.json``, in the forget bucket
  (``FORGET_BUCKET``): the user id, whether to suppress the user's later events, or to lift a
  suppression. The app's account-deletion flow files one with nothing but a create-only grant on
  that bucket: it can neither read nor delete a request, its own or another's. The object is the
  request's durable state: the forget function's scheduled run takes every request there and
  deletes it only once nothing of the user is left (rows still in BigQuery's streaming buffer
  keep it there until a later run). A suppression (or its lifting) takes effect at the first run
  that sees the request; the erasure waits for the week's batch (``FORGET_BATCH_HOURS`` after
  that run), because each erasure reads the user-level tables whole, however few users it
  forgets; ``erase_now`` skips the wait.
- **A receipt**, ``receipts/<request_id>/<run time>.json`` beside it, one per run that took the
  request (never replaced), says what the run removed per store, when, and what is still
  pending. It names the user by ``subject_digest`` only, so the receipt
  of a forgotten user does not hold the id it erased.
- **The suppression list**, ``suppressed-users.json`` in the control bucket that capture already
  reads (``contracts.capture_mode``), holds the digests of the users whose events capture and
  the collector accept and drop (``SUPPRESSED_STATUS``), counted and never stored.
"""

import hashlib
import json
import re
from datetime import UTC, datetime

REQUESTS_FOLDER = "requests"
RECEIPTS_FOLDER = "receipts"
# In the control bucket (CAPTURE_MODE_BUCKET), beside capture-mode.json.
SUPPRESSION_OBJECT = "suppressed-users.json"
# The per-event status capture answers for an event of a suppressed user: accepted (the
# sender must not retry it) and dropped (never stored).
SUPPRESSED_STATUS = "suppressed"
# Segment's user-deletion API takes up to 5,000 ids a call; one request here is one user, and a
# run takes at most this many requests, so one run's DELETE stays one statement per table.
MAX_USERS_A_RUN = 5000
# How long after a run first sees a request its user is erased (FORGET_BATCH_HOURS's default):
# each erasure reads the user-level tables whole, so a week's requests share one read; GDPR
# Art. 12(3) allows a month.
BATCH_HOURS = 168.0
# The topic the schedule publishes a run on; the operators publish to it to run one now.
RUNS_TOPIC = "forget-runs"
# How often the scheduled run looks for requests: a suppression is in force within this.
RUN_EVERY_MINUTES = 60
# A request id is the object's name: letters, digits, dash and underscore, as a UUID or a ULID.
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def subject_digest(user_id: str) -> str:
    """The SHA-256 of a user id, hex: what receipts and the suppression list hold."""
    return hashlib.sha256(user_id.encode()).hexdigest()


def request_object(request_id: str) -> str:
    if not REQUEST_ID.match(request_id):
        raise ValueError(f"request_id: must match {REQUEST_ID.pattern}, got {request_id!r}")
    return f"{REQUESTS_FOLDER}/{request_id}.json"


_RUN_AT = "%Y%m%dT%H%M%S%fZ"


def receipt_object(request_id: str, run_at: datetime) -> str:
    return f"{RECEIPTS_FOLDER}/{request_id}/{run_at.strftime(_RUN_AT)}.json"


def receipt_time(name: str) -> datetime | None:
    """When the run that wrote a receipt object ran, from its name; None for another name."""
    stem = name.rsplit("/", 1)[-1].removesuffix(".json")
    try:
        return datetime.strptime(stem, _RUN_AT).replace(tzinfo=UTC)
    except ValueError:
        return None


def request_id_of(name: str) -> str | None:
    """The request id of a request object's name, None for any other object."""
    prefix, suffix = f"{REQUESTS_FOLDER}/", ".json"
    if not (name.startswith(prefix) and name.endswith(suffix)):
        return None
    request_id = name[len(prefix) : -len(suffix)]
    return request_id if REQUEST_ID.match(request_id) else None


def read_suppressed(data: bytes | None) -> frozenset[str]:
    """The digests of the suppression list's document; an absent document suppresses nobody."""
    if data is None:
        return frozenset()
    document = json.loads(data)
    digests = document.get("suppressed") if isinstance(document, dict) else None
    if not isinstance(digests, list) or not all(isinstance(d, str) for d in digests):
        raise ValueError(f"{SUPPRESSION_OBJECT}: 'suppressed' must be a list of digests")
    return frozenset(digests)


def suppression_document(digests: frozenset[str], updated_at: datetime) -> bytes:
    return json.dumps(
        {"suppressed": sorted(digests), "updated_at": updated_at.isoformat()}, indent=0
    ).encode()
