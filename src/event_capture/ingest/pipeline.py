"""Validate a request's events, fan them out to the sinks, and say what became of them.

The rule that matters: a valid event is reported accepted only once it is durable, that is
inserted into BigQuery or written to the dead-letter area (or, with BigQuery switched off or in
the cost guard's archive-only mode, archived). If any valid event is not durable, none is
accepted and the caller resends the request (the capture function answers 503); insertIds and
the de-duplicated views absorb the repeats. The outcome (``contracts.capture.CaptureOutcome``)
says so; each function that runs the pipeline renders it as its own answer.

The archive is a copy, written by group commit (``archive_group``): a request's durable rows
join the instance's buffer, and a request that finds the buffer due writes it. Where the archive
is the record (archive-only, BigQuery off), the request writes its own rows and waits for them.

What runs in parallel, and what does not: the archive's write (the buffer, or the request's
own rows) runs on the executor beside BigQuery, and the dead letters follow BigQuery at once,
since they are what BigQuery refused or could not take. Redis comes only after durability, on
purpose: a request answered 503 is resent, and feeding the live activity before knowing would
count its events twice.

Time is bounded: one budget per request (REQUEST_DEADLINE_SECONDS), of which BigQuery gets the
first part, so the dead-letter writes always have the rest; the archive runs beside both. A
circuit breaker per backend makes requests skip a backend that keeps failing, straight to the
fallback, instead of each waiting out its deadline.
"""

import dataclasses
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any

from event_capture.contracts import log_fields as log
from event_capture.contracts import provenance
from event_capture.contracts.capture import ArchiveWrites, BigQueryCalls, CaptureOutcome
from event_capture.contracts.capture_mode import CaptureMode
from event_capture.ingest.archive_group import ArchiveGroup, Taken, Written
from event_capture.ingest.circuit import CircuitBreaker
from event_capture.ingest.links import LinkRecorder
from event_capture.ingest.mode_reader import ModeReader
from event_capture.ingest.row import Request, Row
from event_capture.ingest.sinks.dead_letter import DeadLetterSink
from event_capture.ingest.sinks.result import FailedRow, FailureKind, Sink, SinkResult, all_failed
from event_capture.ingest.suppression import SuppressionReader, split_suppressed
from event_capture.ingest.validation import validate_events
from event_capture.schemas.families import MODEL_BY_EVENT_TYPE
from event_capture.schemas.responses import Rejection, SinkStatus


def _new_request_id() -> str:
    return uuid.uuid4().hex[:16]


def _now() -> datetime:
    return datetime.now(UTC)


# BigQuery's share of a request's budget; the dead-letter writes of what it did not take get
# the rest, so a request that loses BigQuery still answers within its budget.
BIGQUERY_SHARE = 0.6


def _timed[T](write: Callable[[T, Request], SinkResult], rows: T, request: Request) -> SinkResult:
    started = time.perf_counter()
    result = write(rows, request)
    result.latency_ms = (time.perf_counter() - started) * 1000
    return result


def _timed_write(group: ArchiveGroup, taken: Taken, request: Request) -> Written:
    started = time.perf_counter()
    written = group.write(taken, request)
    written.result.latency_ms = (time.perf_counter() - started) * 1000
    return written


class _Archived:
    """What the archive did with one request's rows: whether the request wrote them itself,
    its write, and the lines dropped (too old, or past the buffer's cap)."""

    def __init__(self) -> None:
        self.own = False
        self.written: Written | None = None
        self.dropped = 0
        self.dropped_rows: list[Row] = []


def _backend_failed(result: SinkResult) -> bool:
    """Whether the backend itself failed (a row BigQuery refused as invalid is no outage)."""
    return any(f.failure.kind is FailureKind.UNDELIVERED for f in result.failed)


class _Circuits:
    """The breakers of one pipeline, by backend; a backend without one is always tried."""

    def __init__(self, breakers: Mapping[str, CircuitBreaker]) -> None:
        self._breakers = dict(breakers)

    def allow(self, backend: str) -> bool:
        breaker = self._breakers.get(backend)
        return breaker is None or breaker.allow()

    def record(self, backend: str, results: list[SinkResult]) -> None:
        breaker = self._breakers.get(backend)
        if breaker is None:
            return
        if not results:
            breaker.release()  # allowed through, then not needed: no verdict
            return
        breaker.record(not any(_backend_failed(r) for r in results))

    def failed(self, backend: str) -> None:
        """The call raised: a failure, and never a probe left out."""
        breaker = self._breakers.get(backend)
        if breaker is not None:
            breaker.record(False)

    def states(self) -> dict[str, str]:
        return {name: breaker.state.value for name, breaker in self._breakers.items()}


def _circuit_open(rows: list[Row], backend: str) -> SinkResult:
    detail = f"circuit open: {backend} kept failing; skipped until its cool-down ends"
    return SinkResult(
        SinkStatus.SKIPPED, failed=all_failed(rows, FailureKind.UNDELIVERED, detail), error=detail
    )


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
        budget_seconds: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        breakers: Mapping[str, CircuitBreaker] | None = None,
        executor: Executor | None = None,
        mode: ModeReader | None = None,
        links: LinkRecorder | None = None,
        archive_flush_seconds: float = 0.0,
        suppressed: SuppressionReader | None = None,
    ) -> None:
        self._bigquery = bigquery
        self._dead_letter = dead_letter
        # The archive's group commit over ``archive`` (one object per write); with
        # ``archive_flush_seconds`` 0 each request writes its own rows.
        self._archive = (
            None
            if archive is None
            else ArchiveGroup(archive, flush_seconds=archive_flush_seconds, clock=clock)
        )
        self._redis = redis
        self._clock = clock
        self._request_id = request_id
        self._budget = budget_seconds
        self._monotonic = monotonic
        self._circuits = _Circuits(breakers or {})
        # Runs the archive's write beside BigQuery and the dead letters; None runs it after.
        self._executor = executor
        # The cost guard's switch (capture_mode.py); None: always stream.
        self._mode = mode
        # Stores the links events with both ids make (links.py).
        self._links = links or LinkRecorder()
        # The users who asked not to be tracked (contracts/forget.py); None: nobody.
        self._suppressed = suppressed

    def handle(
        self, raw_events: list[Any], batch: bool, arrived_via: str = provenance.CAPTURE
    ) -> CaptureOutcome:
        started = time.perf_counter()
        expires_at = None if self._budget is None else self._monotonic() + self._budget
        request = Request(self._request_id(), self._clock(), expires_at)
        events, rejections = validate_events(raw_events, request.received_at, batch, arrived_via)
        valid = len(events)
        suppressed = 0
        if self._suppressed is not None:
            # Accepted (the sender must not resend them) and dropped before any store or link.
            events, suppressed = split_suppressed(events, self._suppressed())
        # The links are stored with the events, under the same rule: durable before the 2xx.
        links = self._links.rows_for(events, request.received_at, arrived_via)
        rows = [*events, *links]
        mode = CaptureMode.STREAM if self._mode is None else self._mode()
        # Archive-only needs an archive: without one, streaming is the only way to accept.
        archive_only = mode is CaptureMode.ARCHIVE_ONLY and self._archive is not None
        bigquery = None if archive_only else self._bigquery
        archived = _Archived()
        sinks = self._store(rows, request, bigquery, archived)
        # With BigQuery switched off, or the guard's archive-only mode, the archive is the
        # record of what was accepted.
        record = [log.SINK_BIGQUERY, log.SINK_DEAD_LETTER] if bigquery else [log.SINK_GCS_ARCHIVE]
        durable = {r.event_id for name in record if name in sinks for r in sinks[name].stored}
        not_stored = [row for row in rows if row.event_id not in durable]
        if self._archive is not None and rows and not not_stored and not archived.own:
            # Durable: now the archive's copy may follow, with the next due write.
            archived.dropped_rows = self._archive.add(rows, request.received_at)

        if self._redis is None:
            sinks[log.SINK_REDIS] = SinkResult.disabled()
        elif rows and not not_stored:
            if self._circuits.allow(log.BACKEND_REDIS):
                sinks[log.SINK_REDIS] = _timed(self._redis.write, rows, request)
                self._circuits.record(log.BACKEND_REDIS, [sinks[log.SINK_REDIS]])
            else:
                sinks[log.SINK_REDIS] = _circuit_open(rows, log.BACKEND_REDIS)
        elif rows:
            # The caller will resend the batch; feeding the cache now would count it twice.
            sinks[log.SINK_REDIS] = SinkResult.skipped()

        if not not_stored:
            # With the events' own links (identify rows, events with both ids): the next
            # request's events of these pairs make no second link today.
            self._links.remember(rows, request.received_at)
        mode_error = self._mode.last_error if self._mode is not None else None
        outcome = self._outcome(
            request.id,
            started,
            raw_events,
            events,
            links,
            rejections,
            not_stored,
            sinks,
            mode,
            mode_error,
            archived,
        )
        error = self._suppressed.last_error if self._suppressed is not None else None
        if not suppressed and not error:
            return outcome
        return dataclasses.replace(
            outcome, valid=valid, suppressed=suppressed, suppression_error=error
        )

    def flush_archive(self) -> ArchiveWrites:
        """Write the archive lines the instance holds (at shutdown: ``EXIT_FLUSH_SECONDS``)."""
        return ArchiveWrites() if self._archive is None else self._archive.flush()

    def _store(
        self, rows: list[Row], request: Request, bigquery: Sink | None, archived: "_Archived"
    ) -> dict[str, SinkResult]:
        """BigQuery (what it refused to the dead-letter area), with the archive beside it."""
        sinks: dict[str, SinkResult] = {}
        uses_gcs = self._archive is not None or self._dead_letter is not None
        gcs = bool(rows) and uses_gcs and self._circuits.allow(log.BACKEND_GCS)
        try:
            return self._write(rows, request, sinks, gcs, bigquery, archived)
        except BaseException:
            if gcs:
                # No verdict on Cloud Storage; a probe left out would hold the circuit for good.
                self._circuits.record(log.BACKEND_GCS, [])
            raise

    def _write(
        self,
        rows: list[Row],
        request: Request,
        sinks: dict[str, SinkResult],
        gcs: bool,
        bigquery: Sink | None,
        archived: "_Archived",
    ) -> dict[str, SinkResult]:
        group = self._archive
        taken, pending = None, None
        # Where the archive is the record, or each request writes its own, the request's rows
        # are written now; otherwise they join the buffer once durable.
        archived.own = group is not None and (bigquery is None or group.immediate)
        if group is None:
            sinks[log.SINK_GCS_ARCHIVE] = SinkResult.disabled()
        elif rows and not gcs:
            # The buffer waits for the circuit to close; rows that must be written now cannot.
            sinks[log.SINK_GCS_ARCHIVE] = (
                _circuit_open(rows, log.BACKEND_GCS) if archived.own else SinkResult.of([], [])
            )
        elif rows:
            taken = group.take(rows, request.received_at, own=archived.own)
            archived.dropped = taken.dropped
            if taken.lines and self._executor is not None:
                pending = self._executor.submit(_timed_write, group, taken, request)
        if bigquery is None:
            sinks[log.SINK_BIGQUERY] = SinkResult.disabled()
        elif rows:
            sinks[log.SINK_BIGQUERY] = self._insert(bigquery, rows, request)
            failed = sinks[log.SINK_BIGQUERY].failed
            if failed:
                sinks[log.SINK_DEAD_LETTER] = self._keep(failed, request, gcs)
        written = [sinks[log.SINK_DEAD_LETTER]] if log.SINK_DEAD_LETTER in sinks else []
        if group is not None and taken is not None:
            if taken.lines:
                archived.written = (
                    pending.result() if pending else _timed_write(group, taken, request)
                )
                sinks[log.SINK_GCS_ARCHIVE] = archived.written.result
                written.append(archived.written.result)
            else:
                sinks[log.SINK_GCS_ARCHIVE] = SinkResult.of([], [])
        if gcs:
            self._circuits.record(log.BACKEND_GCS, written)
        return sinks

    def _insert(self, bigquery: Sink, rows: list[Row], request: Request) -> SinkResult:
        if not self._circuits.allow(log.BACKEND_BIGQUERY):
            return _circuit_open(rows, log.BACKEND_BIGQUERY)
        share = request
        if self._budget is not None:
            share = request.until(self._monotonic() + BIGQUERY_SHARE * self._budget)
        try:
            result = _timed(bigquery.write, rows, share)
        except BaseException:
            self._circuits.failed(log.BACKEND_BIGQUERY)
            raise
        self._circuits.record(log.BACKEND_BIGQUERY, [result])
        return result

    def _keep(self, failed: list[FailedRow], request: Request, gcs: bool) -> SinkResult:
        if self._dead_letter is None:
            return SinkResult.disabled(error=f"{len(failed)} rows had nowhere to go")
        if not gcs:
            return _circuit_open([f.row for f in failed], log.BACKEND_GCS)
        return _timed(self._dead_letter.write, failed, request)

    def _outcome(
        self,
        request_id: str,
        started: float,
        raw_events: list[Any],
        events: list[Row],
        links: list[Row],
        rejections: list[Rejection],
        not_stored: list[Row],
        sinks: dict[str, SinkResult],
        mode: CaptureMode,
        mode_error: str | None,
        archived: _Archived,
    ) -> CaptureOutcome:
        rows = [*events, *links]
        outcome = "accepted" if not not_stored else "not_stored"
        by_type = {
            name: Counter({"received": count, outcome: count})
            for name, count in Counter(row.event_type for row in rows).items()
        }
        for rejection in rejections:
            # Only known types: an unknown one is client input and may be anything.
            raw = raw_events[rejection.index]
            name = raw.get("event_type") if isinstance(raw, dict) else None
            counts = by_type.setdefault(
                name if isinstance(name, str) and name in MODEL_BY_EVENT_TYPE else "unknown",
                Counter(),
            )
            counts["received"] += 1
            counts["rejected"] += 1
        nothing = SinkResult.skipped()
        bigquery = sinks.get(log.SINK_BIGQUERY, nothing)
        archive = sinks.get(log.SINK_GCS_ARCHIVE)
        accepted = [] if not_stored else rows
        lost = {row.event_id for row in not_stored}
        # Counted in the caller's events: one not stored, or whose link was not (links.py).
        lost_pairs = {(r.anonymous_id, r.user_id) for r in links if r.event_id in lost}
        events_not_stored = sum(
            r.event_id in lost or (r.anonymous_id, r.user_id) in lost_pairs for r in events
        )
        not_archived = 0
        if archive is not None and archive.status is not SinkStatus.DISABLED:
            if archived.own:
                written = {row.event_id for row in archive.stored}
            else:
                # Buffered, but for the lines the buffer's cap dropped at once.
                dropped = {row.event_id for row in archived.dropped_rows}
                written = {row.event_id for row in accepted} - dropped
            not_archived = sum(row.event_id not in written for row in accepted)
        writes = archived.written
        archive_writes = ArchiveWrites(
            buffered=0 if self._archive is None else self._archive.buffered,
            objects_written=writes.objects if writes else 0,
            lines_written=len(writes.result.stored) if writes else 0,
            lines_kept=writes.kept if writes else 0,
            lines_dropped=archived.dropped
            + (writes.dropped if writes else 0)
            + len(archived.dropped_rows),
        )
        return CaptureOutcome(
            request_id=request_id,
            received=len(raw_events),
            valid=len(events),
            links=len(links),
            not_stored=events_not_stored,
            rejections=rejections,
            sinks={name: result.outcome() for name, result in sinks.items()},
            by_event_type={name: dict(counts) for name, counts in by_type.items()},
            rows_lost=any(result.failed for result in sinks.values()),
            dead_lettered=len(sinks.get(log.SINK_DEAD_LETTER, nothing).stored),
            not_archived=not_archived,
            archive=archive_writes,
            bigquery=BigQueryCalls(
                requests=bigquery.requests,
                retries=bigquery.retries,
                failed_rows=len(bigquery.failed),
                error_reasons=bigquery.error_reasons,
            ),
            circuits=self._circuits.states(),
            mode=mode.value,
            mode_error=mode_error or None,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
        )
