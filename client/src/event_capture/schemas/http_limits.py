"""Limits of the capture function's HTTP contract, shared by the function and the client."""

MAX_EVENTS_PER_REQUEST = 500
MAX_REQUEST_BYTES = 1_000_000
MAX_EVENT_BYTES = 32 * 1024
