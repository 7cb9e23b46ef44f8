"""A function built by its factory on fake sinks, served in process by functions-framework.

tests/integration runs the same functions on the emulators.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import flask

from event_capture.ingest.pipeline import CapturePipeline
from event_capture.ingest.row import Request, Row
from event_capture.ingest.sinks.result import FailureKind, SinkResult, all_failed
from event_capture.platform.serving import HttpFunction
from tests.fakes.functions import serve_in_process
from tests.unit.event_factory import RECEIVED_AT


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


@dataclass
class Function:
    client: flask.testing.FlaskClient
    bigquery: FakeSink
    archive: FakeSink


@contextmanager
def loaded(build: Callable[[CapturePipeline], HttpFunction]) -> Iterator[Function]:
    """The function ``build`` makes of a pipeline on fake sinks whose clock reads RECEIVED_AT,
    served in process by functions-framework."""
    bigquery, archive = FakeSink(), FakeSink()
    pipeline = CapturePipeline(
        bigquery=bigquery,
        dead_letter=None,
        archive=archive,
        redis=None,
        clock=lambda: RECEIVED_AT,
    )
    yield Function(serve_in_process(build(pipeline)), bigquery, archive)
