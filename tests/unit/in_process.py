"""A function's ``main.py`` in process (functions-framework's own WSGI app) on fake sinks.

The emulator hosts point at a closed port: nothing may reach a real client, and the fake
sinks replace what the function would have built. tests/integration runs the same functions
on the emulators.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import flask
import pytest
from functions_framework import create_app

from event_capture.ingest.pipeline import CapturePipeline
from event_capture.ingest.row import Request, Row
from event_capture.ingest.sinks.result import FailureKind, SinkResult, all_failed
from tests.unit.event_factory import RECEIVED_AT

ENVIRONMENT = {
    "GCP_PROJECT": "in-process",
    "GCS_BUCKET": "in-process-events",
    "BIGQUERY_EMULATOR_HOST": "http://127.0.0.1:9",
    "STORAGE_EMULATOR_HOST": "http://127.0.0.1:9",
}


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
    module: ModuleType
    bigquery: FakeSink
    archive: FakeSink


@contextmanager
def loaded(
    target: str,
    source: Path,
    install: Callable[[CapturePipeline], tuple[str, Any]],
    environment: Mapping[str, str] | None = None,
) -> Iterator[Function]:
    """The function ``target`` of ``source``, its module global named by ``install`` replaced
    by what ``install`` builds on a pipeline of fake sinks whose clock reads RECEIVED_AT."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**ENVIRONMENT, **(environment or {})}.items():
            patch.setenv(name, value)
        app = create_app(target=target, source=str(source))  # type: ignore[no-untyped-call]
        module = sys.modules["main"]
        bigquery, archive = FakeSink(), FakeSink()
        pipeline = CapturePipeline(
            bigquery=bigquery,
            dead_letter=None,
            archive=archive,
            redis=None,
            clock=lambda: RECEIVED_AT,
        )
        patch.setattr(module, *install(pipeline))
        yield Function(app.test_client(), module, bigquery, archive)
