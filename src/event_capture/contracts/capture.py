"""What the capture pipeline tells the function that runs it.

The pipeline (``ingest.pipeline``) answers each request's events with a ``CaptureOutcome``. The
capture function renders it as its own answer (``ingest.answer``) and the collector as Segment's
(``collector.handler``): neither reads the other's answer or log line, and both log the
pipeline's part (``log_fields``) under the same names, which the metrics read.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from event_capture.contracts import log_fields as log
from event_capture.contracts import provenance
from event_capture.schemas.responses import Rejection, SinkOutcome


@dataclass(frozen=True, slots=True, kw_only=True)
class BigQueryCalls:
    """The request's insert calls: billed per request, retried, refused with a reason."""

    requests: int = 0
    retries: int = 0
    failed_rows: int = 0
    # BigQuery's error reasons on failed calls, counted (quotaExceeded, ...).
    error_reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveWrites:
    """What the archive's group commit did in a request, or at shutdown (log_fields names)."""

    buffered: int = 0
    objects_written: int = 0
    lines_written: int = 0
    lines_kept: int = 0
    lines_dropped: int = 0

    def log_fields(self) -> dict[str, int]:
        return {
            log.ARCHIVE_BUFFERED: self.buffered,
            log.ARCHIVE_OBJECTS_WRITTEN: self.objects_written,
            log.ARCHIVE_LINES_WRITTEN: self.lines_written,
            log.ARCHIVE_LINES_KEPT: self.lines_kept,
            log.ARCHIVE_LINES_DROPPED: self.lines_dropped,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureOutcome:
    request_id: str
    # Events in the request, and those that passed validation.
    received: int
    valid: int
    # Device-to-account links the valid events made, stored with them (ingest/links.py).
    links: int = 0
    # Valid events not stored durably: when any is, none counts as accepted and the caller
    # resends the request (insertIds absorb the repeats).
    not_stored: int
    rejections: list[Rejection]
    # Per sink, what it did with the request's rows.
    sinks: dict[str, SinkOutcome]
    # Valid events of users on the suppression list (contracts/forget.py): counted as accepted
    # and valid, stored nowhere.
    suppressed: int = 0
    # Per event type: received, and accepted, not stored or rejected. Only known types: an
    # unknown one is client input and may be anything, so it counts as "unknown".
    by_event_type: dict[str, dict[str, int]]
    # Whether a sink lost rows, or skipped them because its circuit is open.
    rows_lost: bool = False
    dead_lettered: int = 0
    # Accepted events the archive neither wrote nor holds for its next object (the scheduled
    # backfill fills the gap), and what its group commit did in the request.
    not_archived: int = 0
    archive: ArchiveWrites = field(default_factory=ArchiveWrites)
    bigquery: BigQueryCalls = field(default_factory=BigQueryCalls)
    # Per backend, its circuit breaker's state after the request.
    circuits: dict[str, str] = field(default_factory=dict)
    # The capture mode the request ran in (contracts/capture_mode.py), and why the control
    # object could not be read, when it could not.
    mode: str = "stream"
    mode_error: str | None = None
    suppression_error: str | None = None
    latency_ms: float = 0.0

    @property
    def accepted(self) -> int:
        return 0 if self.not_stored else self.valid

    @property
    def durable(self) -> bool:
        """Whether every valid event is stored: the caller need not resend."""
        return not self.not_stored

    def severity(self) -> str:
        if not self.durable:
            return "ERROR"
        return "WARNING" if self.rows_lost or self.rejections else "INFO"

    def rejected_rules(self) -> dict[str, int]:
        # Rules only, never values: a rejected event may hold exactly the data we refuse.
        return dict(Counter(e.rule for rejection in self.rejections for e in rejection.errors))

    def log_fields(self) -> dict[str, Any]:
        """The pipeline's part of a request's log line."""
        line: dict[str, Any] = {
            log.REQUEST_ID: self.request_id,
            log.EVENTS_DEAD_LETTERED: self.dead_lettered,
            log.EVENTS_NOT_STORED: self.not_stored,
            log.EVENTS_SUPPRESSED: self.suppressed,
            log.BY_EVENT_TYPE: self.by_event_type,
            log.SINKS: {
                name: outcome.model_dump(mode="json", exclude_defaults=True)
                for name, outcome in self.sinks.items()
            },
            log.BIGQUERY_INSERT_REQUESTS: self.bigquery.requests,
            log.BIGQUERY_RETRIES: self.bigquery.retries,
            log.BIGQUERY_FAILED_ROWS: self.bigquery.failed_rows,
            log.BIGQUERY_ERROR_REASONS: self.bigquery.error_reasons,
            log.EVENTS_NOT_ARCHIVED: self.not_archived,
            **self.archive.log_fields(),
            log.CIRCUITS: self.circuits,
            log.CAPTURE_MODE: self.mode,
        }
        if self.mode_error:
            line[log.CAPTURE_MODE_ERROR] = self.mode_error
        if self.suppression_error:
            line[log.SUPPRESSION_ERROR] = self.suppression_error
        return line


class Capture(Protocol):
    """The capture pipeline as a function that runs it sees it."""

    def handle(
        self, raw_events: list[Any], batch: bool, arrived_via: str = provenance.CAPTURE
    ) -> CaptureOutcome: ...
