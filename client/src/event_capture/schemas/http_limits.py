"""Limits of the capture function's HTTP contract, shared by the function and the client."""

MAX_EVENTS_PER_REQUEST = 500
MAX_REQUEST_BYTES = 1_000_000
MAX_EVENT_BYTES = 32 * 1024

# Seconds a caller should wait after a 503 before resending the batch (the Retry-After header).
RETRY_AFTER_SECONDS = 10
