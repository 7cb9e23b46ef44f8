"""Limits of the capture path. The HTTP contract's live in ``schemas`` for the client too."""

from event_capture.schemas.http_limits import (
    MAX_EVENT_BYTES,
    MAX_EVENTS_PER_REQUEST,
    MAX_REQUEST_BYTES,
    RETRY_AFTER_SECONDS,
)

__all__ = [
    "BIGQUERY_MAX_BYTES_PER_INSERT",
    "BIGQUERY_MAX_ROWS_PER_INSERT",
    "MAX_EVENTS_PER_REQUEST",
    "MAX_EVENT_BYTES",
    "MAX_REQUEST_BYTES",
    "RETRY_AFTER_SECONDS",
]

# insertAll allows 50,000 rows and 10 MB per request but recommends 500 rows; the byte cap
# stays well under 10 MB because the row JSON is wrapped in {"json": ..., "insertId": ...}.
BIGQUERY_MAX_ROWS_PER_INSERT = 500
BIGQUERY_MAX_BYTES_PER_INSERT = 9_000_000
