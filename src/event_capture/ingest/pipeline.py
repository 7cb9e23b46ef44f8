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

from event_capture.ingest import log_fields as log
from event_capture.ingest.limits import RETRY_AFTER_SECONDS
from event_capture.ingest.row import Request, Row
from event_capture.ingest.sinks.dead_letter import DeadLetterSink
from event_capture.ingest.sinks.result import FailedRow, Sink, SinkResult, SinkStatus
from event_capture.ingest.validation import Rejection, validate_events
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


def _timed[T](write: Callable[[T, Request], SinkResult], rows: T, request: Request) -> SinkResult:
    started = time.perf_counter()
    result = write(rows, request)
    result.latency_ms = (time.perf_counter() - started) * 1000
    return result


class CapturePipeline:
    def __init__(
        self,
        *,
        bigquery: Sink | None,
        dead_letter: DeadLetterSink | None,
        archive: Sink | None,
        redis: Sink | None,
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
        request = Request(self._request_id(), self._clock())
        rows, rejections = validate_events(raw_events, request.received_at, batch)
        sinks = self._store(rows, request)
        # With BigQuery switched off, the archive is the record of what was accepted.
        record = (
            [log.SINK_BIGQUERY, log.SINK_DEAD_LETTER] if self._bigquery else [log.SINK_GCS_ARCHIVE]
        )
        durable = {r.event_id for name in record if name in sinks for r in sinks[name].stored}
        not_stored = [row for row in rows if row.event_id not in durable]

        if self._redis is None:
            sinks[log.SINK_REDIS] = SinkResult.disabled()
        elif rows and not not_stored:
            sinks[log.SINK_REDIS] = _timed(self._redis.write, rows, request)
        elif rows:
            # The caller will resend the batch; feeding the cache now would count it twice.
            sinks[log.SINK_REDIS] = SinkResult.skipped()

        status, headers, body = self._answer(rows, rejections, not_stored, sinks, request.id)
        line = self._log_line(
            status, request.id, started, raw_events, rows, rejections, not_stored, sinks
        )
        return CaptureResult(status, body, headers, line)

    def _store(self, rows: list[Row], request: Request) -> dict[str, SinkResult]:
        """BigQuery (what it refused to the dead-letter area), then the archive."""
        sinks: dict[str, SinkResult] = {}
        if self._bigquery is None:
            sinks[log.SINK_BIGQUERY] = SinkResult.disabled()
        elif rows:
            sinks[log.SINK_BIGQUERY] = _timed(self._bigquery.write, rows, request)
            failed = sinks[log.SINK_BIGQUERY].failed
            if failed:
                sinks[log.SINK_DEAD_LETTER] = self._keep(failed, request)
        if self._archive is None:
            sinks[log.SINK_GCS_ARCHIVE] = SinkResult.disabled()
        elif rows:
            sinks[log.SINK_GCS_ARCHIVE] = _timed(self._archive.write, rows, request)
        return sinks

    def _keep(self, failed: list[FailedRow], request: Request) -> SinkResult:
        if self._dead_letter is None:
            return SinkResult.disabled(error=f"{len(failed)} rows had nowhere to go")
        return _timed(self._dead_letter.write, failed, request)

    @staticmethod
    def _answer(
        rows: list[Row],
        rejections: list[Rejection],
        not_stored: list[Row],
        sinks: dict[str, SinkResult],
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
        sinks: dict[str, SinkResult],
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
            r.status in (SinkStatus.FAILED, SinkStatus.PARTIAL) for r in sinks.values()
        )
        severity = "ERROR" if status >= 500 else "WARNING" if failed_sinks or rejections else "INFO"
        rules = Counter(error.rule for rejection in rejections for error in rejection.errors)
        nothing = SinkResult.skipped()
        bigquery = sinks.get(log.SINK_BIGQUERY, nothing)
        return {
            log.SEVERITY: severity,
            "message": log.MESSAGE,
            log.REQUEST_ID: request_id,
            log.HTTP_STATUS: status,
            log.LATENCY_MS: round((time.perf_counter() - started) * 1000, 1),
            log.EVENTS_RECEIVED: len(raw_events),
            log.EVENTS_ACCEPTED: 0 if not_stored else len(rows),
            log.EVENTS_REJECTED: len(rejections),
            log.EVENTS_DEAD_LETTERED: len(sinks.get(log.SINK_DEAD_LETTER, nothing).stored),
            log.EVENTS_NOT_STORED: len(not_stored),
            log.BY_EVENT_TYPE: {name: dict(counts) for name, counts in by_type.items()},
            log.SINKS: {name: outcome.as_dict() for name, outcome in sinks.items()},
            log.BIGQUERY_INSERT_REQUESTS: bigquery.requests,
            log.BIGQUERY_RETRIES: bigquery.retries,
            log.BIGQUERY_FAILED_ROWS: len(bigquery.failed),
            # Rules only, never values: a rejected event may hold exactly the data we refuse.
            log.REJECTED_RULES: dict(rules),
        }
