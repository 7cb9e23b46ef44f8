"""The capture function's entry point in process, through functions-framework's own test client.

Every answer that needs no sink: refusals before the body is read (405, 413, 415), bodies that
cannot be captured (400, 413), and a batch whose every event is invalid (400). No emulator and
no server process: the sinks' clients are built on first use, and none of these requests uses
one. What needs a sink (200, 207, 503) is proven over HTTP in tests/integration.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask
import pytest
from functions_framework import create_app

from event_capture.ingest.limits import MAX_EVENTS_PER_REQUEST, MAX_REQUEST_BYTES
from tests.unit import event_factory as factory

MAIN = Path(__file__).resolve().parents[2] / "functions" / "capture" / "main.py"
JSON = "application/json"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[flask.testing.FlaskClient]:
    # The configuration the function reads at import; unroutable endpoints prove no request
    # here reaches a backend.
    for name, value in {
        "GCP_PROJECT": "in-process",
        "GCS_BUCKET": "in-process-events",
        "BIGQUERY_EMULATOR_HOST": "http://127.0.0.1:9",
        "STORAGE_EMULATOR_HOST": "http://127.0.0.1:9",
    }.items():
        monkeypatch.setenv(name, value)
    app = create_app(target="capture", source=str(MAIN))  # type: ignore[no-untyped-call]
    yield app.test_client()


def _log_lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


def _answer(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str], **request: Any
) -> tuple[int, dict[str, Any], dict[str, str], dict[str, Any]]:
    """Status, JSON body, headers and the one log line of a request."""
    capsys.readouterr()
    response = client.open("/", **request)
    [line] = _log_lines(capsys.readouterr().out)
    assert response.mimetype == JSON
    return response.status_code, response.get_json(), dict(response.headers), line


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_a_method_other_than_post_is_405_with_allow(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str], method: str
) -> None:
    status, body, headers, line = _answer(client, capsys, method=method)

    assert status == 405
    assert headers["Allow"] == "POST"
    assert body == {"error": f"method {method} not allowed; use POST"}
    assert (line["http_status"], line["severity"], line["message"]) == (405, "WARNING", "capture")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_is_415(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str], content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    status, body, _, line = _answer(client, capsys, method="POST", data=b"{}", headers=headers)

    assert status == 415
    assert body["error"].startswith("content type must be application/json")
    assert line["http_status"] == 415


def test_a_declared_length_over_the_limit_is_413_before_reading(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b" " * (MAX_REQUEST_BYTES + 1)
    status, body, _, line = _answer(client, capsys, method="POST", data=data, content_type=JSON)

    assert status == 413
    assert body == {"error": f"request body must be at most {MAX_REQUEST_BYTES} bytes"}
    assert line["http_status"] == 413


def test_a_chunked_body_over_the_limit_is_413(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # No Content-Length: the function reads one byte past the limit and refuses. gunicorn
    # marks a de-chunked body as terminated; werkzeug reads nothing without that mark.
    status, body, _, _ = _answer(
        client,
        capsys,
        method="POST",
        input_stream=io.BytesIO(b"[" + b" " * MAX_REQUEST_BYTES + b"]"),
        content_type=JSON,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert status == 413
    assert "at most" in body["error"]


def test_more_events_than_allowed_is_413(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    events = [{"event_type": "search"}] * (MAX_EVENTS_PER_REQUEST + 1)
    status, body, _, _ = _answer(client, capsys, method="POST", json={"events": events})

    assert status == 413
    assert body == {"error": f"events: at most {MAX_EVENTS_PER_REQUEST} events per request"}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        pytest.param(b"{not json", "body is not valid JSON", id="malformed"),
        pytest.param(b"\xff\xfe", "body is not valid JSON", id="not-utf8"),
        pytest.param(b"[1, 2]", 'body must be an event object or {"events": [...]}', id="array"),
        pytest.param(b'{"events": {}}', "events: must be an array", id="events-object"),
        pytest.param(b'{"events": []}', "events: must contain at least 1 event", id="empty"),
        pytest.param(
            b'{"events": [], "user": "u"}',
            "user: is not a known field of a batch (only 'events')",
            id="extra-key",
        ),
    ],
)
def test_a_body_of_the_wrong_shape_is_400_naming_the_rule(
    client: flask.testing.FlaskClient,
    capsys: pytest.CaptureFixture[str],
    data: bytes,
    error: str,
) -> None:
    status, body, _, line = _answer(client, capsys, method="POST", data=data, content_type=JSON)

    assert status == 400
    assert body["error"].startswith(error)
    assert line["http_status"] == 400


def test_a_batch_with_no_valid_event_is_400_with_every_rejection_named(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    now = factory.RECEIVED_AT
    events = [factory.search(now, intent_confidence=2.0), factory.order(now, currency="XXX")]
    status, body, _, line = _answer(client, capsys, method="POST", json={"events": events})

    assert status == 400
    assert body["error"] == "no valid events in the request"
    assert (body["received"], body["accepted"], body["rejected"]) == (2, 0, 2)
    assert [(r["index"], r["event_id"]) for r in body["rejections"]] == [
        (0, events[0]["event_id"]),
        (1, events[1]["event_id"]),
    ]
    fields = [e["field"] for r in body["rejections"] for e in r["errors"]]
    assert "events[0].intent_confidence" in fields and "events[1].currency" in fields
    # The full per-request line, as for accepted batches; rules, never values.
    assert line["events_rejected"] == 2
    assert line["rejected_rules"]["less_than_equal"] == 1
    assert "XXX" not in json.dumps(line)
    # No sink was asked for anything.
    assert line["bigquery_insert_requests"] == 0
    assert "bigquery" not in line["sinks"]
