"""Stand-ins for the capture pipeline's sinks (``ingest.sinks.result.Sink``): each returns the
real ``SinkResult``. tests/integration runs the real sinks on the emulators."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from event_capture.ingest.row import Request, Row
from event_capture.ingest.sinks.result import FailureKind, SinkResult, all_failed


@dataclass
class FakeSink:
    """Stores every row it is given, or none while ``down``."""

    down: bool = False
    rows: list[Row] = field(default_factory=list)

    def write(self, rows: Sequence[Row], request: Request) -> SinkResult:
        if self.down:
            failed = all_failed(rows, FailureKind.UNDELIVERED, "ServiceUnavailable: 503")
            return SinkResult.of([], failed, error="ServiceUnavailable: 503")
        self.rows.extend(rows)
        return SinkResult.of(list(rows), [])
