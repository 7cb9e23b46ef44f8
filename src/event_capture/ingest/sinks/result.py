"""What every sink is given and reports back: one interface, one result shape.

The pipeline reads ``stored`` to decide what is durable and ``failed`` to decide what goes to
the dead-letter area; the response and the structured log show its ``outcome()``.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from event_capture.ingest.row import Request, Row
from event_capture.schemas.responses import SinkOutcome, SinkStatus


class FailureKind(StrEnum):
    """Why a row was not stored; replay acts on it, so it is a category, not text."""

    # BigQuery refused the row itself: sending it again cannot help, a person must look.
    INVALID = "invalid"
    # The call failed or ran out of time; the row itself may be fine and can be sent again.
    UNDELIVERED = "undelivered"


@dataclass(frozen=True, slots=True)
class Failure:
    kind: FailureKind
    detail: str


@dataclass(frozen=True, slots=True)
class FailedRow:
    row: Row
    failure: Failure


@dataclass(slots=True)
class SinkResult:
    """What one sink did with one request's rows."""

    status: SinkStatus
    # Rows this sink now holds, and the ones it could not take, each with why.
    stored: list[Row] = field(default_factory=list)
    failed: list[FailedRow] = field(default_factory=list)
    retries: int = 0
    # Calls made to the backend; reported for BigQuery, whose request count is billed.
    requests: int = 0
    error: str | None = None
    # Set by the pipeline, which times every sink the same way.
    latency_ms: float = 0.0
    # The backend's error reasons on failed calls, counted (BigQuery's quotaExceeded, ...): a
    # log-based metric alerts on the quota (infra/monitoring/log_metrics.py).
    error_reasons: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        stored: list[Row],
        failed: list[FailedRow],
        *,
        retries: int = 0,
        requests: int = 0,
        error: str | None = None,
        error_reasons: dict[str, int] | None = None,
    ) -> "SinkResult":
        """OK when nothing failed, PARTIAL when some rows made it, FAILED when none did."""
        if not failed:
            status = SinkStatus.OK
        else:
            status = SinkStatus.PARTIAL if stored else SinkStatus.FAILED
        return cls(
            status, stored, failed, retries, requests, error, error_reasons=error_reasons or {}
        )

    @classmethod
    def disabled(cls, error: str | None = None) -> "SinkResult":
        return cls(SinkStatus.DISABLED, error=error)

    @classmethod
    def skipped(cls) -> "SinkResult":
        return cls(SinkStatus.SKIPPED)

    def outcome(self) -> SinkOutcome:
        """What the answer and the log line say of it."""
        return SinkOutcome(
            status=self.status,
            rows=len(self.stored),
            latency_ms=round(self.latency_ms, 1),
            retries=self.retries,
            requests=self.requests,
            error=self.error or None,
        )

    def as_dict(self) -> dict[str, Any]:
        return self.outcome().model_dump(mode="json", exclude_defaults=True)


# What a sink did with one table's rows: those it holds, those it lost, the retries it took.
TablePart = tuple[list[Row], list[FailedRow], int]


class Sink(Protocol):
    """A place accepted rows are written to (BigQuery, the archive, Redis)."""

    def write(self, rows: Sequence[Row], request: Request) -> SinkResult: ...


def all_failed(rows: Sequence[Row], kind: FailureKind, detail: str) -> list[FailedRow]:
    failure = Failure(kind, detail)
    return [FailedRow(row, failure) for row in rows]
