"""The capture function's body: one event object, or ``{"events": [...]}`` with 1 to 500 events.

The body is read, inflated and parsed as every JSON function's is (``platform.json_body``); only
its shape is the capture function's.
"""

from dataclasses import dataclass
from typing import Any

from event_capture.ingest.limits import MAX_EVENTS_PER_REQUEST, MAX_REQUEST_BYTES
from event_capture.platform.http_error import HttpError
from event_capture.platform.json_body import parse_json


@dataclass(frozen=True, slots=True)
class ParsedBody:
    events: list[Any]
    # True for {"events": [...]}: field paths in errors are then prefixed with events[i].
    batch: bool


def parse_body(body: bytes, content_encoding: str | None = None) -> ParsedBody | HttpError:
    """One event object, or ``{"events": [...]}`` with 1 to 500 events.

    ``content_encoding`` is the request's Content-Encoding header: a gzip body is inflated
    first, at most MAX_REQUEST_BYTES.
    """
    document = parse_json(body, content_encoding, limit=MAX_REQUEST_BYTES)
    if isinstance(document, HttpError):
        return document
    if not isinstance(document, dict):
        return HttpError(
            status=400,
            rule="body_shape",
            message='body must be an event object or {"events": [...]}',
            position="body",
        )
    if "events" not in document:
        return ParsedBody([document], batch=False)
    extra = sorted(set(document) - {"events"})
    if extra:
        return HttpError(
            status=400,
            rule="batch_field_unknown",
            message=f"{extra[0]}: is not a known field of a batch (only 'events')",
            position="batch",
        )
    events = document["events"]
    if not isinstance(events, list):
        return HttpError(
            status=400, rule="events_type", message="events: must be an array", position="events"
        )
    if not events:
        return HttpError(
            status=400,
            rule="events_empty",
            message="events: must contain at least 1 event",
            position="events",
        )
    if len(events) > MAX_EVENTS_PER_REQUEST:
        return HttpError(
            status=413,
            rule="too_many_events",
            message=f"events: at most {MAX_EVENTS_PER_REQUEST} events per request",
            position="events",
        )
    return ParsedBody(events, batch=True)
