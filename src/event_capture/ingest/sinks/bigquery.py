"""BigQuery streaming inserts (insertAll) with retries, chunking and per-row error handling.

The call itself is ``insert_all.HttpInsertAll``; this module decides what to send and what to
do with each answer.
"""

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from event_capture.ingest.chunking import chunk_rows
from event_capture.ingest.insert_all import InsertAll
from event_capture.ingest.retry import (
    DEFAULT_BACKOFF,
    REAL_TIME,
    BackoffPolicy,
    Deadline,
    Timing,
    describe,
    error_reason,
    is_transient,
)
from event_capture.ingest.row import Request, Row, per_table
from event_capture.ingest.sinks.result import (
    FailedRow,
    Failure,
    FailureKind,
    SinkResult,
    all_failed,
)


@dataclass(slots=True)
class _Progress:
    """One request's inserts so far, across its tables and chunks."""

    inserted: list[Row] = field(default_factory=list)
    failed: list[FailedRow] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    last_error: str | None = None
    # Per failed call or row, BigQuery's reason (quotaExceeded on a streaming quota).
    reasons: Counter[str] = field(default_factory=Counter)

    def give_up(self, rows: Sequence[Row], detail: str) -> None:
        self.failed.extend(all_failed(rows, FailureKind.UNDELIVERED, detail))


class BigQuerySink:
    def __init__(
        self,
        client: Callable[[], InsertAll],
        *,
        project: str,
        dataset: str,
        deadline_seconds: float,
        policy: BackoffPolicy = DEFAULT_BACKOFF,
        timing: Timing = REAL_TIME,
        executor: Executor | None = None,
    ) -> None:
        # The client factory is called on first use: creating it costs imports and
        # credential discovery that a cold start should not pay before the first request.
        self._client_factory = client
        self._client: InsertAll | None = None
        self._client_lock = threading.Lock()
        self._project = project
        self._dataset = dataset
        self._deadline_seconds = deadline_seconds
        self._policy = policy
        self._timing = timing
        self._executor = executor

    def _get_client(self) -> InsertAll:
        with self._client_lock:
            if self._client is None:
                self._client = self._client_factory()
            return self._client

    def write(self, rows: Sequence[Row], request: Request) -> SinkResult:
        """Insert rows into their family tables, the tables in parallel; every row ends up
        stored or in ``failed`` within the sink's deadline and the request's budget."""
        seconds = request.seconds_left(self._deadline_seconds, self._timing.clock())
        deadline = self._timing.deadline(seconds)

        def insert_table(table: str, table_rows: list[Row]) -> _Progress:
            progress = _Progress()
            for chunk in chunk_rows(table_rows):
                self._insert_chunk(
                    f"{self._project}.{self._dataset}.{table}", chunk, deadline, progress
                )
            return progress

        parts = per_table(rows, insert_table, self._executor)
        failed = [f for part in parts for f in part.failed]
        errors = [part.last_error for part in parts if part.failed and part.last_error]
        reasons: Counter[str] = Counter()
        for part in parts:
            reasons.update(part.reasons)
        return SinkResult.of(
            [row for part in parts for row in part.inserted],
            failed,
            retries=sum(part.retries for part in parts),
            requests=sum(part.requests for part in parts),
            error=errors[0] if errors else None,
            error_reasons=dict(reasons),
        )

    def _insert_chunk(
        self, table: str, chunk: list[Row], deadline: Deadline, result: _Progress
    ) -> None:
        pending = chunk
        attempt = 0
        while pending:
            remaining = deadline.remaining()
            if remaining <= 0:
                result.give_up(pending, self._deadline_exceeded(deadline, result))
                return
            try:
                result.requests += 1
                errors = self._get_client().insert_all(
                    table, pending, timeout=max(0.1, min(remaining, 30.0))
                )
            except Exception as error:  # noqa: BLE001 - classified right below
                result.last_error = describe(error)
                result.reasons[error_reason(error) or type(error).__name__] += 1
                if not is_transient(error):
                    result.give_up(pending, result.last_error)
                    return
                attempt += 1
                if not deadline.backoff(self._policy, attempt):
                    result.give_up(pending, self._deadline_exceeded(deadline, result))
                    return
                result.retries += 1
                continue
            try:
                pending, transient = self._apply_row_errors(pending, errors, result)
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                # An answer we cannot read says nothing of which rows landed; the dead-letter
                # area keeps them, and replay's check skips those BigQuery did store.
                result.last_error = f"unreadable insertAll answer: {describe(error)}"
                result.give_up(pending, result.last_error)
                return
            if pending:
                attempt += 1
                # Rows stopped by an invalid neighbour can go again at once; transient
                # per-row failures wait like a failed request does.
                if transient and not deadline.backoff(self._policy, attempt):
                    result.give_up(pending, self._deadline_exceeded(deadline, result))
                    return
                result.retries += 1

    @staticmethod
    def _deadline_exceeded(deadline: Deadline, result: _Progress) -> str:
        return f"deadline of {deadline.seconds:.3g}s exceeded: {result.last_error}"

    @staticmethod
    def _apply_row_errors(
        pending: list[Row], errors: Sequence[dict[str, Any]], result: _Progress
    ) -> tuple[list[Row], bool]:
        """Record inserted and invalid rows; return the rows to send again and whether any
        of them failed for a transient reason (rather than being stopped)."""
        if not errors:
            result.inserted.extend(pending)
            return [], False
        errors_by_index = {int(entry["index"]): entry.get("errors", []) for entry in errors}
        retry: list[Row] = []
        transient = False
        for index, row in enumerate(pending):
            row_errors = errors_by_index.get(index)
            if row_errors is None:
                result.inserted.append(row)
            elif any(e.get("reason") == "invalid" for e in row_errors):
                detail = "; ".join(
                    f"{e.get('location') or 'row'}: {e.get('message', '')}".strip()
                    for e in row_errors
                    if e.get("reason") == "invalid"
                )
                result.failed.append(FailedRow(row, Failure(FailureKind.INVALID, detail[:500])))
            else:
                # "stopped" rows were fine but shared a request with an invalid one; other
                # reasons (backendError, timeout) are transient. Both are sent again.
                retry.append(row)
                transient = transient or any(e.get("reason") != "stopped" for e in row_errors)
        # "stopped" with no invalid row in the response has no cause we removed; waiting
        # before the resend keeps that from becoming a tight loop.
        if retry and len(retry) == len(errors_by_index):
            transient = True
        for row_errors in errors_by_index.values():
            result.reasons.update(
                str(e.get("reason")) for e in row_errors if e.get("reason") != "stopped"
            )
        if transient:
            result.last_error = "per-row transient errors: " + "; ".join(
                sorted(
                    {
                        str(e.get("reason"))
                        for row_errors in errors_by_index.values()
                        for e in row_errors
                    }
                )
            )
        return retry, transient
