"""Field names of the capture function's one-line-per-request structured log.

Log-based metrics and alert policies in the infrastructure program select on these names, so
they are a contract: renaming one silently breaks an alert. Tests pin them.
"""

MESSAGE = "capture"

SEVERITY = "severity"
REQUEST_ID = "request_id"
HTTP_STATUS = "http_status"
LATENCY_MS = "latency_ms"
EVENTS_RECEIVED = "events_received"
EVENTS_ACCEPTED = "events_accepted"
EVENTS_REJECTED = "events_rejected"
EVENTS_DEAD_LETTERED = "events_dead_lettered"
EVENTS_NOT_STORED = "events_not_stored"
BY_EVENT_TYPE = "by_event_type"
SINKS = "sinks"
BIGQUERY_INSERT_REQUESTS = "bigquery_insert_requests"
BIGQUERY_RETRIES = "bigquery_retries"
BIGQUERY_FAILED_ROWS = "bigquery_failed_rows"
REJECTED_RULES = "rejected_rules"
# A refused request's line: the rule it broke and where, never what the client sent; and for a
# bug (a 500), the exception's type only.
RULE = "rule"
POSITION = "position"
ERROR_TYPE = "error_type"
# Accepted events the archive did not take (an archive gap; tools/backfill_archive.py fills it).
EVENTS_NOT_ARCHIVED = "events_not_archived"
# Per backend, its circuit breaker's state after the request: closed, open or half_open.
CIRCUITS = "circuits"
# stream, or archive_only while the cost guard holds capture to the archive (capture_mode.py);
# and why the control object could not be read, when it could not.
CAPTURE_MODE = "capture_mode"
CAPTURE_MODE_ERROR = "capture_mode_error"
# BigQuery's error reasons on the request's insert calls, counted (quotaExceeded, ...).
BIGQUERY_ERROR_REASONS = "bigquery_error_reasons"

# Sink names as they appear under SINKS and in responses.
SINK_BIGQUERY = "bigquery"
SINK_DEAD_LETTER = "dead_letter"
SINK_GCS_ARCHIVE = "gcs_archive"
SINK_REDIS = "redis"

# Backends with a circuit breaker, as they appear under CIRCUITS.
BACKEND_BIGQUERY = "bigquery"
BACKEND_GCS = "gcs"
BACKEND_REDIS = "redis"
BACKENDS = (BACKEND_BIGQUERY, BACKEND_GCS, BACKEND_REDIS)
