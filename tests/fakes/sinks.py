"""Stand-ins for the capture pipeline's sinks, each returning the real ``SinkResult``:
``FakeSink`` for any of them (``ingest.sinks.result.Sink``: BigQuery, the archive, Redis) and
``FakeDeadLetter`` for the dead letters, which are handed failed rows. tests/integration runs the
real sinks on the emulators.

Each records every call (its rows, its request) and writes ``<name>.write`` in ``journal``, a
list a test may share between fakes to read the order of side effects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from event_capture.ingest.row import Request, Row
from event_capture.ingest.sinks.dead_letter import DeadLetterSink
from event_capture.ingest.sinks.result import (
    FailedRow,
    Failure,
    FailureKind,
    SinkResult,
    all_failed,
)

RowPredicate = Callable[[Row], bool]


def never(row: Row) -> bool:
    return False


def always(row: Row) -> bool:
    return True


def accepts(row: Row) -> Failure | None:
    return None


@dataclass(kw_only=True)
class FakeSink:
    """Stores every row it is given, but: while ``down``, none; a row ``loses`` picks is not
    written (undelivered, as a failed write leaves it); a row ``refuses`` answers with a failure
    is refused so (as BigQuery refuses an invalid row). ``error`` is the result's error and the
    failure of every row not delivered; ``retries`` and ``api_requests`` are what the result says
    the writes took."""

    name: str = "sink"
    journal: list[str] = field(default_factory=list)
    down: bool = False
    loses: RowPredicate = never
    refuses: Callable[[Row], Failure | None] = accepts
    error: str = "ServiceUnavailable: 503"
    retries: int = 0
    api_requests: int = 0
    # Every call's rows and request, and the rows stored.
    calls: list[list[Row]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)

    @property
    def event_ids(self) -> list[str]:
        """The event id of every row it was given, in order: BigQuery's insertIds."""
        return [row.event_id for call in self.calls for row in call]

    def write(self, rows: Sequence[Row], request: Request) -> SinkResult:
        self.journal.append(f"{self.name}.write")
        self.calls.append(list(rows))
        self.requests.append(request)
        if self.down:
            failed = all_failed(rows, FailureKind.UNDELIVERED, self.error)
            return SinkResult.of([], failed, error=self.error)
        refused = [FailedRow(row, failure) for row in rows if (failure := self.refuses(row))]
        lost = [row for row in rows if self.loses(row) and not self.refuses(row)]
        stored = [row for row in rows if not self.loses(row) and not self.refuses(row)]
        self.rows.extend(stored)
        failed = refused + all_failed(lost, FailureKind.UNDELIVERED, self.error)
        error = self.error if lost else "invalid rows" if refused else None
        return SinkResult.of(
            stored, failed, retries=self.retries, requests=self.api_requests, error=error
        )


class FakeDeadLetter(DeadLetterSink):
    """Keeps the failed rows ``writes`` picks, and loses the others as a bucket that is down."""

    def __init__(self, journal: list[str], writes: RowPredicate = always) -> None:
        self.journal = journal
        self.writes = writes
        self.calls: list[list[FailedRow]] = []
        self.requests: list[Request] = []

    def write(self, failed: Sequence[FailedRow], request: Request) -> SinkResult:
        self.journal.append("dead_letter.write")
        self.calls.append(list(failed))
        self.requests.append(request)
        written = [entry.row for entry in failed if self.writes(entry.row)]
        lost = [entry.row for entry in failed if not self.writes(entry.row)]
        error = "ServiceUnavailable: 503 bucket down" if lost else None
        return SinkResult.of(
            written, all_failed(lost, FailureKind.UNDELIVERED, str(error)), error=error
        )
