"""Validate a request's events, fan them out to the sinks and decide what the caller is told.

The rule that matters: a valid event is reported accepted only once it is durable, that is
inserted into BigQuery or written to the dead-letter area (or, with BigQuery switched off,
archived). If any valid event is not durable the whole request gets 503 and the caller resends
it; insertIds and the de-duplicated views absorb the repeats.
"""

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from event_capture.ingest.limits import RETRY_AFTER_SECONDS
from event_capture.ingest.sinks.bigquery import BigQuerySink
from event_capture.ingest.sinks.dead_letter import DeadLetterWriter
from event_capture.ingest.sinks.gcs_archive import GcsArchiveSink
from event_capture.ingest.sinks.outcome import SinkOutcome, SinkStatus, status_of
from event_capture.ingest.sinks.redis_activity import RedisActivitySink
from event_capture.ingest.validation import Rejection, Row, validate_events
from event_capture.ingest import log_fields as log
from event_capture.schemas.families import MODEL_BY_EVENT_TYPE


@dataclass(slots=True)
class CaptureResult:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    log: dict[str, Any]


def _new_request_id() -> str:
    return uuid.uuid4().hex[:16]


def _now() -> datetime:
    return datetime.now(UTC)


class CapturePipeline:
    def __init__(
        self,
        bigquery: BigQuerySink | None,
        dead_letter: DeadLetterWriter | None,
        archive: GcsArchiveSink | None,
        redis: RedisActivitySink | None,
        clock: Callable[[], datetime] = _now,
        request_id: Callable[[], str] = _new_request_id,
    ) -> None:
        self._bigquery = bigquery
        self._dead_letter = dead_letter
        self._archive = archive
        self._redis = redis
        self._clock = clock
        self._request_id = request_id

    def handle(self, raw_events: list[Any], batch: bool) -> CaptureResult:
        started = time.perf_counter()
        received_at = self._clock()
        request_id = self._request_id()
        rows, rejections = validate_events(raw_events, received_at, batch)
        sinks: dict[str, SinkOutcome] = {}
        durable: set[str] = set()
        dead_lettered = 0
        bq_requests = bq_retries = bq_failed = 0

        if rows and self._bigquery is not None:
            t0 = time.perf_counter()
            inserted = self._bigquery.insert(rows)
            bq_requests, bq_retries, bq_failed = (
                inserted.requests,
                inserted.retries,
                len(inserted.failed),
            )
            durable.update(row.event_id for row in inserted.inserted)
            sinks[log.SINK_BIGQUERY] = SinkOutcome(
                status_of(len(inserted.inserted), len(inserted.failed)),
                rows=len(inserted.inserted),
                latency_ms=(time.perf_counter() - t0) * 1000,
                retries=inserted.retries,
                error=inserted.last_error if inserted.failed else None,
                extra={"requests": inserted.requests},
            )
            if inserted.failed:
                sinks[log.SINK_DEAD_LETTER] = self._write_dead_letter(
                    inserted.failed, received_at, request_id, durable
                )
                dead_lettered = sinks[log.SINK_DEAD_LETTER].rows
        elif self._bigquery is None:
            sinks[log.SINK_BIGQUERY] = SinkOutcome(SinkStatus.DISABLED)

        if rows and self._archive is not None:
            outcome, archived = self._archive.write(rows, received_at, request_id)
            sinks[log.SINK_GCS_ARCHIVE] = outcome
            if self._bigquery is None:
                # Switched off BigQuery makes the archive the record of what was accepted.
                durable.update(row.event_id for row in archived)
        elif self._archive is None:
            sinks[log.SINK_GCS_ARCHIVE] = SinkOutcome(SinkStatus.DISABLED)

        not_stored = [row for row in rows if row.event_id not in durable]
        if self._redis is None:
            sinks[log.SINK_REDIS] = SinkOutcome(SinkStatus.DISABLED)
        elif rows and not not_stored:
            sinks[log.SINK_REDIS] = self._redis.write(rows)
        elif rows:
            # The caller will resend the batch; feeding the cache now would count it twice.
            sinks[log.SINK_REDIS] = SinkOutcome(SinkStatus.SKIPPED)

        status, headers, body = self._answer(rows, rejections, not_stored, sinks, request_id)
        line = self._log_line(
            status,
            request_id,
            started,
            raw_events,
            rows,
            rejections,
            not_stored,
            sinks,
            dead_lettered,
            bq_requests,
            bq_retries,
            bq_failed,
        )
        return CaptureResult(status, body, headers, line)

    def _write_dead_letter(
        self,
        failed: list[tuple[Row, str]],
        received_at: datetime,
        request_id: str,
        durable: set[str],
    ) -> SinkOutcome:
        if self._dead_letter is None:
            return SinkOutcome(SinkStatus.DISABLED, error=f"{len(failed)} rows had nowhere to go")
        t0 = time.perf_counter()
        written = self._dead_letter.write(failed, received_at, request_id)
        durable.update(row.event_id for row in written.written)
        return SinkOutcome(
            status_of(len(written.written), len(failed) - len(written.written)),
            rows=len(written.written),
            latency_ms=(time.perf_counter() - t0) * 1000,
            retries=written.retries,
            error=written.error,
        )

    @staticmethod
    def _answer(
        rows: list[Row],
        rejections: list[Rejection],
        not_stored: list[Row],
        sinks: dict[str, SinkOutcome],
        request_id: str,
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        body: dict[str, Any] = {
            "request_id": request_id,
            "received": len(rows) + len(rejections),
            "accepted": 0 if not_stored else len(rows),
            "rejected": len(rejections),
            "rejections": [rejection.as_dict() for rejection in rejections],
            "sinks": {name: outcome.as_dict() for name, outcome in sinks.items()},
        }
        if not rows:
            body["error"] = "no valid events in the request"
            return 400, {}, body
        if not_stored:
            body["error"] = (
                f"{len(not_stored)} valid events could not be stored durably; "
                f"resend the request after {RETRY_AFTER_SECONDS} s"
            )
            return 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}, body
        return (207 if rejections else 200), {}, body

    @staticmethod
    def _log_line(
        status: int,
        request_id: str,
        started: float,
        raw_events: list[Any],
        rows: list[Row],
        rejections: list[Rejection],
        not_stored: list[Row],
        sinks: dict[str, SinkOutcome],
        dead_lettered: int,
        bq_requests: int,
        bq_retries: int,
        bq_failed: int,
    ) -> dict[str, Any]:
        by_type: dict[str, Counter[str]] = {}
        for row in rows:
            counts = by_type.setdefault(row.event_type, Counter())
            counts["received"] += 1
            counts["accepted" if not not_stored else "not_stored"] += 1
        for rejection in rejections:
            # Only known types: an unknown one is client input and may be anything.
            name = rejection.event_type
            counts = by_type.setdefault(
                name if name is not None and name in MODEL_BY_EVENT_TYPE else "unknown", Counter()
            )
            counts["received"] += 1
            counts["rejected"] += 1
        failed_sinks = any(
            o.status in (SinkStatus.FAILED, SinkStatus.PARTIAL) for o in sinks.values()
        )
        severity = "ERROR" if status >= 500 else "WARNING" if failed_sinks or rejections else "INFO"
        rules = Counter(error.rule for rejection in rejections for error in rejection.errors)
        return {
            log.SEVERITY: severity,
            "message": log.MESSAGE,
            log.REQUEST_ID: request_id,
            log.HTTP_STATUS: status,
            log.LATENCY_MS: round((time.perf_counter() - started) * 1000, 1),
            log.EVENTS_RECEIVED: len(raw_events),
            log.EVENTS_ACCEPTED: 0 if not_stored else len(rows),
            log.EVENTS_REJECTED: len(rejections),
            log.EVENTS_DEAD_LETTERED: dead_lettered,
            log.EVENTS_NOT_STORED: len(not_stored),
            log.BY_EVENT_TYPE: {name: dict(counts) for name, counts in by_type.items()},
            log.SINKS: {name: outcome.as_dict() for name, outcome in sinks.items()},
            log.BIGQUERY_INSERT_REQUESTS: bq_requests,
            log.BIGQUERY_RETRIES: bq_retries,
            log.BIGQUERY_FAILED_ROWS: bq_failed,
            # Rules only, never values: a rejected event may hold exactly the data we refuse.
            log.REJECTED_RULES: dict(rules),
        }
