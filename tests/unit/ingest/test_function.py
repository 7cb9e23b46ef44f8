"""The capture function's entry point in process, through functions-framework's own test client.

Every answer that needs no sink: refusals before the body is read (405, 413, 415), bodies that
cannot be captured (400, 413), and a batch whose every event is invalid (400). No emulator and
no server process: the sinks' clients are built on first use, and none of these requests uses
one. What needs a sink (200, 207, 503) is proven over HTTP in tests/integration, and in process
on fake sinks by tests/unit/ingest/test_function_hostile.py.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import flask
import pytest
from functions_framework import create_app

from event_capture.contracts.capture import CaptureOutcome
from event_capture.ingest.function import CaptureFunction
from event_capture.ingest.limits import MAX_EVENTS_PER_REQUEST, MAX_REQUEST_BYTES
from localcloud.processes import CAPTURE_SOURCE
from tests.fakes.functions import serve_in_process
from tests.unit import event_factory as factory

MAIN = CAPTURE_SOURCE
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
    """The log lines, each without its ``time`` (checked here: UTC, RFC 3339, just now)."""
    lines = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    for line in lines:
        stamp = datetime.fromisoformat(line.pop("time"))
        assert stamp.utcoffset() == timedelta(0)
        assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=5)
    return lines


def _answer(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str], **request: Any
) -> tuple[int, dict[str, Any], dict[str, str], dict[str, Any]]:
    """Status, JSON body, headers and the one log line of a request."""
    capsys.readouterr()
    response = client.open(request.pop("path", "/"), **request)
    captured = capsys.readouterr()
    [line] = _log_lines(captured.out)
    # Nothing reached Flask's own error logging.
    assert "Traceback" not in captured.err
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
    assert (line["rule"], line["position"]) == ("method_not_allowed", "method")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_is_415(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str], content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    status, body, _, line = _answer(client, capsys, method="POST", data=b"{}", headers=headers)

    assert status == 415
    assert body["error"].startswith("content type must be application/json")
    assert line["http_status"] == 415


def test_a_declared_length_over_the_limit_is_413_before_parsing(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b" " * (MAX_REQUEST_BYTES + 1)
    status, body, _, line = _answer(client, capsys, method="POST", data=data, content_type=JSON)

    assert status == 413
    assert body == {"error": f"request body must be at most {MAX_REQUEST_BYTES} bytes"}
    assert line["http_status"] == 413
    assert (line["rule"], line["position"]) == ("body_too_large", "Content-Length")


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


# --------------------------------------------------------------------------------------------
# Hostile requests: each was a crash or a leak, and is now a rule with a documented status
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"[" * 100_000 + b"]" * 100_000, b'{"events": [' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000],
    ids=["arrays", "objects-in-a-batch"],
)
def test_json_nested_past_the_parser_recursion_limit_is_400_not_an_html_500(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str], data: bytes
) -> None:
    status, body, _, line = _answer(client, capsys, method="POST", data=data, content_type=JSON)

    assert status == 400
    assert body == {"error": "body: JSON must nest at most 32 levels of objects and arrays"}
    assert (line["http_status"], line["rule"]) == (400, "nesting_too_deep")


def test_a_gzip_body_is_inflated_and_validated(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # Regression: a gzip body was refused as "not valid JSON". Every event here is invalid,
    # so no sink is needed to see that it was read.
    events = [factory.search(factory.RECEIVED_AT, intent_confidence=2.0)] * 2
    data = gzip.compress(json.dumps({"events": events}).encode())
    status, body, _, line = _answer(
        client,
        capsys,
        method="POST",
        data=data,
        content_type=JSON,
        headers={"Content-Encoding": "gzip"},
    )

    assert status == 400
    assert body["received"] == 2
    assert line["rejected_rules"] == {"less_than_equal": 2}


@pytest.mark.parametrize(
    ("encoding", "data", "status", "rule"),
    [
        ("br", b"{}", 415, "content_encoding_unsupported"),
        ("gzip", b"{}", 400, "gzip_invalid"),
        ("gzip", gzip.compress(b" " * (MAX_REQUEST_BYTES + 1)), 413, "body_too_large"),
    ],
    ids=["brotli", "not-gzip", "gzip-bomb"],
)
def test_a_body_in_a_coding_that_cannot_be_read_is_refused_by_rule(
    client: flask.testing.FlaskClient,
    capsys: pytest.CaptureFixture[str],
    encoding: str,
    data: bytes,
    status: int,
    rule: str,
) -> None:
    answered, _, _, line = _answer(
        client,
        capsys,
        method="POST",
        data=data,
        content_type=JSON,
        headers={"Content-Encoding": encoding},
    )

    assert answered == status
    assert line["rule"] == rule


def test_a_body_shorter_than_its_content_length_is_400(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    status, body, _, line = _answer(
        client,
        capsys,
        method="POST",
        input_stream=io.BytesIO(b'{"events": ['),
        content_type=JSON,
        environ_overrides={"CONTENT_LENGTH": "1000"},
    )

    assert status == 400
    assert body["error"].startswith("the request body ended after")
    assert line["rule"] == "body_incomplete"


def test_a_key_the_client_sent_is_answered_but_never_logged(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # Regression: the unknown batch key went into the log line (keys can be e-mail addresses).
    status, body, _, line = _answer(
        client, capsys, method="POST", json={"events": [{}], "jane.doe@example.com": 1}
    )

    assert status == 400
    assert body["error"].startswith("jane.doe@example.com:")
    assert (line["rule"], line["position"]) == ("batch_field_unknown", "batch")
    assert "jane" not in json.dumps(line)


@pytest.mark.parametrize("path", ["/robots.txt", "/favicon.ico", "/static/x", "/a//b", "/x/"])
@pytest.mark.parametrize(("method", "status"), [("GET", 405), ("POST", 400)])
def test_every_path_has_the_same_contract(
    client: flask.testing.FlaskClient,
    capsys: pytest.CaptureFixture[str],
    path: str,
    method: str,
    status: int,
) -> None:
    # functions-framework answers /robots.txt and /favicon.ico itself with an HTML 404.
    answered, _, _, line = _answer(client, capsys, method=method, path=path, json={})

    assert answered == status
    assert line["http_status"] == status


def test_an_empty_path_is_not_redirected(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # werkzeug redirected it to / with an HTML 308 before the function ran.
    status, _, _, _ = _answer(client, capsys, method="GET", environ_overrides={"PATH_INFO": ""})

    assert status == 405


def test_an_unexpected_exception_is_a_json_500_logged_by_type_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Broken:
        def handle(
            self, raw_events: list[Any], batch: bool, arrived_via: str = "capture"
        ) -> CaptureOutcome:
            raise RuntimeError(f"failed on {raw_events[0]['user_id']}")

    client = serve_in_process(CaptureFunction(Broken(), read_timeout_seconds=10))
    capsys.readouterr()
    response = client.post("/", json=factory.search(factory.RECEIVED_AT, user_id="u_private_123"))
    captured = capsys.readouterr()

    assert response.status_code == 500
    assert response.get_json() == {
        "error": "internal error: the request was not captured; resend it later"
    }
    assert response.headers["X-Google-Status"] == "crash"
    assert _log_lines(captured.out) == [
        {
            "severity": "ERROR",
            "message": "capture",
            "http_status": 500,
            "rule": "internal_error",
            "error_type": "RuntimeError",
        }
    ]
    assert "u_private_123" not in captured.out + captured.err


@pytest.mark.parametrize("method", ["OPTIONS", "GET", "POST"])
def test_flasks_static_route_answers_as_the_function_does(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str], method: str
) -> None:
    # Found by the hypothesis suite: OPTIONS /static/x was Flask's own empty HTML 200.
    status, body, _, line = _answer(
        client, capsys, method=method, path="/static/x", data=b"{not json", content_type=JSON
    )

    assert status == (400 if method == "POST" else 405)
    assert "error" in body
    assert line["http_status"] == status
