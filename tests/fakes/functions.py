"""A function built by its factory, served in process by functions-framework's own app.

``serve_in_process`` has functions-framework load ``served_function.py`` as it loads a
function's ``main.py``, so the framework's routing, error pages and hooks are the real ones;
that module serves whichever function the test built (on fake sinks, say). No module of the
framework's is patched. ``loaded`` serves one on a capture pipeline whose sinks are fakes;
tests/integration runs the same functions on the emulators.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import flask
from flask.testing import FlaskClient
from functions_framework import create_app

from event_capture.ingest.pipeline import CapturePipeline
from event_capture.platform.serving import HttpFunction
from tests.fakes.sinks import FakeSink
from tests.unit.event_factory import RECEIVED_AT

SOURCE = Path(__file__).with_name("served_function.py")
_built: list[HttpFunction] = []


def built() -> HttpFunction:
    """The function the test is serving (what ``served_function.py`` serves)."""
    return _built[-1]


def serve_in_process(function: HttpFunction) -> FlaskClient:
    _built[:] = [function]
    app: flask.Flask = create_app(target="function", source=str(SOURCE))  # type: ignore[no-untyped-call]
    return app.test_client()


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
