"""The HTTP request contract: method, content type, size and body shape.

Everything here answers a client error with a status and a message; nothing raises.
"""

import json
from dataclasses import dataclass
from typing import Any

from event_capture.ingest.limits import MAX_EVENTS_PER_REQUEST, MAX_REQUEST_BYTES


@dataclass(frozen=True, slots=True)
class ParsedBody:
    events: list[Any]
    # True for {"events": [...]}: field paths in errors are then prefixed with events[i].
    batch: bool


@dataclass(frozen=True, slots=True)
class HttpError:
    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()

    def body(self) -> dict[str, Any]:
        return {"error": self.message}


def check_request(method: str, mimetype: str, content_length: int | None) -> HttpError | None:
    """Refuse what can be refused before reading the body."""
    if method != "POST":
        return HttpError(405, f"method {method} not allowed; use POST", (("Allow", "POST"),))
    if mimetype != "application/json":
        return HttpError(415, f"content type must be application/json, got {mimetype or 'none'!r}")
    if content_length is not None and content_length > MAX_REQUEST_BYTES:
        return HttpError(413, f"request body must be at most {MAX_REQUEST_BYTES} bytes")
    return None


def parse_body(body: bytes) -> ParsedBody | HttpError:
    """One event object, or ``{"events": [...]}`` with 1 to 500 events."""
    if len(body) > MAX_REQUEST_BYTES:
        return HttpError(413, f"request body must be at most {MAX_REQUEST_BYTES} bytes")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        return HttpError(400, f"body is not valid JSON: {error}")
    if not isinstance(document, dict):
        return HttpError(400, 'body must be an event object or {"events": [...]}')
    if "events" not in document:
        return ParsedBody([document], batch=False)
    extra = sorted(set(document) - {"events"})
    if extra:
        return HttpError(400, f"{extra[0]}: is not a known field of a batch (only 'events')")
    events = document["events"]
    if not isinstance(events, list):
        return HttpError(400, "events: must be an array")
    if not events:
        return HttpError(400, "events: must contain at least 1 event")
    if len(events) > MAX_EVENTS_PER_REQUEST:
        return HttpError(413, f"events: at most {MAX_EVENTS_PER_REQUEST} events per request")
    return ParsedBody(events, batch=True)
