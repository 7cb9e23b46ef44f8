"""Field names and values of the functions' one-line-per-request (or per-event) structured logs.

Log-based metrics and alert policies (``infra/monitoring``) and the report's capture health
(``report.capture_log``) select on these names, so they are a contract: renaming one silently
breaks an alert. Tests pin them. Import-free beyond ``platform.log_line`` (whose names every
line shares, re-exported here): the Pulumi program reads them without the functions'
dependencies.
"""

from event_capture.platform.log_line import ERROR_TYPE as ERROR_TYPE
from event_capture.platform.log_line import HTTP_STATUS as HTTP_STATUS
from event_capture.platform.log_line import LATENCY_MS as LATENCY_MS
from event_capture.platform.log_line import MESSAGE as MESSAGE
from event_capture.platform.log_line import POSITION as POSITION
from event_capture.platform.log_line import RULE as RULE
from event_capture.platform.log_line import SEVERITY as SEVERITY

# --- the capture pipeline: the capture function's line, and the collector's -------------------
# The capture function's line, and the capture pipeline's part of the collector's.
CAPTURE_MESSAGE = "capture"

REQUEST_ID = "request_id"
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
# Accepted events the archive neither wrote nor holds for its next write (an archive gap; the
# scheduled backfill, event_capture.archive_backfill, fills it).
EVENTS_NOT_ARCHIVED = "events_not_archived"
# The archive's group commit (ingest/archive_group.py): lines the instance holds for its next
# object after the request; the objects and lines the request wrote (of its own and earlier
# requests' events); lines whose write failed, kept for the next one; and lines left to the
# scheduled backfill (older than archive_layout.MAX_LINE_AGE_SECONDS, or past the buffer's cap).
ARCHIVE_BUFFERED = "archive_buffered"
ARCHIVE_OBJECTS_WRITTEN = "archive_objects_written"
ARCHIVE_LINES_WRITTEN = "archive_lines_written"
ARCHIVE_LINES_KEPT = "archive_lines_kept"
ARCHIVE_LINES_DROPPED = "archive_lines_dropped"
# The line of an instance's last write of its archive lines, at shutdown (SIGTERM).
ARCHIVE_FLUSH_MESSAGE = "archive_flush"
# Per backend, its circuit breaker's state after the request: closed, open or half_open.
CIRCUITS = "circuits"
# stream, or archive_only while the cost guard holds capture to the archive
# (contracts/capture_mode.py); and why the control object could not be read, when it could not.
CAPTURE_MODE = "capture_mode"
CAPTURE_MODE_ERROR = "capture_mode_error"
# Why the suppression list (contracts/forget.py) could not be read, when it could not; the list
# last read stays in force.
SUPPRESSION_ERROR = "suppression_error"
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

# --- the collector: what its line adds to the capture pipeline's ------------------------------
COLLECTOR_MESSAGE = "collector"

# batch, or the call type of a single-call route: from a fixed list.
ROUTE = "route"
# Calls neither stored nor rejected: identify, page, screen, group, alias, unmapped events.
EVENTS_IGNORED = "events_ignored"
# Per call type, how many were ignored.
IGNORED_BY_CALL = "ignored_by_call"
# Per ignored track event: its name if Segment's spec has it, else "other".
IGNORED_BY_EVENT = "ignored_by_event"
# True on a request answered 200 that rejected at least as many calls as it accepted (some):
# the SDKs never read a 200's body, so a sender whose calls are refused would not know; a
# log-based metric and an alert do.
MOSTLY_REJECTED = "mostly_rejected"
# Per reason (collector.identity.Unproven), the calls from client keys whose userId was not
# kept: no proof, a malformed one, or one that does not match (a forged or foreign user id).
USER_IDS_UNPROVEN = "user_ids_unproven"
# An ElevenLabs webhook call's counters (event.collector.elevenlabs.Count): what it amounted to.
WEBHOOK_COUNTS = "webhook_counts"
# The write key's id and class (server or client): never the key itself.
KEY_ID = "key_id"
KEY_CLASS = "key_class"
# The ``rule`` of a request the collector's edge refused (429) or dropped (a known crawler,
# 200): collector.limits and collector.bots; a log-based metric counts each.
TOO_MANY_IN_FLIGHT = "too_many_in_flight"
ADDRESS_RATE_LIMITED = "address_rate_limited"
KEY_RATE_LIMITED = "key_rate_limited"
DAILY_CAP_REACHED = "daily_cap_reached"
CRAWLER_IGNORED = "crawler_ignored"
EDGE_RULES = (
    TOO_MANY_IN_FLIGHT,
    ADDRESS_RATE_LIMITED,
    KEY_RATE_LIMITED,
    DAILY_CAP_REACHED,
    CRAWLER_IGNORED,
)

# --- the features function and the materializer -----------------------------------------------
# The features function's one line per request.
FEATURES_MESSAGE = "features"
# The materializer's one line per run, and the outcomes it reports.
MATERIALIZE_MESSAGE = "materialize"
MATERIALIZE_OUTCOMES = ("loaded", "unchanged", "no_snapshot", "skipped", "refused")

# --- the archive backfill: one line per scheduled run -----------------------------------------
BACKFILL_MESSAGE = "archive_backfill"
# The range it covered, the events BigQuery holds in it, those it wrote into the archive, and
# stored rows validation now refuses (not written: a person must look).
BACKFILL_FROM = "backfill_from"
BACKFILL_TO = "backfill_to"
BACKFILL_IN_BIGQUERY = "backfill_in_bigquery"
BACKFILL_WRITTEN = "backfill_written"
BACKFILL_NOT_REBUILT = "backfill_not_rebuilt"

# The forget function's one line a run (forget/function.py): requests taken, finished (their
# users gone from every store), left for the next run (rows still in BigQuery's streaming
# buffer), and refused as invalid; items removed and bytes BigQuery read; never a user id.
FORGET_MESSAGE = "forget_run"
FORGET_TAKEN = "forget_requests_taken"
FORGET_FINISHED = "forget_requests_finished"
FORGET_LEFT = "forget_requests_left"
# Waiting for the week's erasure (FORGET_BATCH_HOURS); their suppression is already in force.
FORGET_QUEUED = "forget_requests_queued"
FORGET_INVALID = "forget_requests_invalid"
FORGET_REMOVED = "forget_items_removed"
FORGET_BYTES = "forget_bytes_processed"
# Events of suppressed users, accepted and dropped by capture and the collector (per request).
EVENTS_SUPPRESSED = "events_suppressed"

# --- the cost guard ---------------------------------------------------------------------------
GUARD_MESSAGE = "cost_guard"
ACTION = "action"
# ACTION's values that switch capture (decision.Action): the metric's alert fires on them.
SWITCHING_ACTIONS = ("trip", "resume")
