"""Request limits of the HTTP contract."""

MAX_EVENTS_PER_REQUEST = 500
MAX_REQUEST_BYTES = 1_000_000
MAX_EVENT_BYTES = 32 * 1024

# insertAll allows 50,000 rows and 10 MB per request but recommends 500 rows; the byte cap
# stays well under 10 MB because the row JSON is wrapped in {"json": ..., "insertId": ...}.
BIGQUERY_MAX_ROWS_PER_INSERT = 500
BIGQUERY_MAX_BYTES_PER_INSERT = 9_000_000

# Seconds a caller should wait after a 503 before resending the batch.
RETRY_AFTER_SECONDS = 10
