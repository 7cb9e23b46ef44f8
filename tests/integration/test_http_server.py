"""End to end over HTTP: a real functions-framework server in front of the emulators."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from event_capture.contracts import log_fields
from event_capture.ingest.limits import MAX_REQUEST_BYTES
from localcloud.cloud import LocalCloud
from localcloud.processes import Service
from localcloud.sample_events import sample_batch, sample_event


@pytest.fixture(scope="module")
def server(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    log_path = tmp_path_factory.mktemp("function") / "stdout.log"
    service = cloud.start_function(log_path=log_path, env={"REDIS_ENABLED": "true"})
    try:
        yield service
    finally:
        service.stop()


def _url(server: Service) -> str:
    return f"http://127.0.0.1:{server.port}/"


def _log_lines(server: Service) -> list[dict[str, object]]:
    assert server.log_path is not None
    lines = Path(server.log_path).read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_a_batch_over_http_is_accepted_and_lands(cloud: LocalCloud, server: Service) -> None:
    events = sample_batch(10, users=2)
    response = requests.post(_url(server), json={"events": events}, timeout=120)

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["accepted"] == 10
    assert body["sinks"]["bigquery"]["status"] == "ok"
    assert body["sinks"]["redis"]["status"] == "ok"
    searches = [e["event_id"] for e in events if e["event_type"] == "search"]
    assert len(cloud.rows("searches", searches)) == len(searches)

    [line] = [
        line for line in _log_lines(server) if line.get(log_fields.REQUEST_ID) == body["request_id"]
    ]
    assert line["severity"] == "INFO"
    assert line[log_fields.EVENTS_ACCEPTED] == 10
    assert line[log_fields.HTTP_STATUS] == 200


def test_a_single_event_with_a_bad_field_gets_400_naming_field_and_rule(server: Service) -> None:
    event = sample_event("search")
    event["intent_confidence"] = 1.5
    response = requests.post(_url(server), json=event, timeout=60)

    assert response.status_code == 400
    [rejection] = response.json()["rejections"]
    assert rejection["errors"] == [
        {"field": "intent_confidence", "rule": "less_than_equal", "message": "must be ≤ 1.0"}
    ]


def test_a_partly_invalid_batch_gets_207(server: Service) -> None:
    bad = sample_event("search")
    bad["email"] = "jane@example.com"
    response = requests.post(
        _url(server), json={"events": [sample_event("search"), bad]}, timeout=60
    )

    assert response.status_code == 207
    body = response.json()
    assert body["accepted"] == 1
    assert body["rejections"][0]["errors"][0]["field"] == "events[1].email"
    assert body["rejections"][0]["errors"][0]["rule"] == "extra_forbidden"
    assert "jane@example.com" not in json.dumps(_log_lines(server))


# tests/unit/ingest/test_function.py pins each of these answers in process; here the same
# requests go through the real gunicorn server, whose framing the in-process test client only
# imitates.
@pytest.mark.parametrize(
    ("method", "headers", "data", "status"),
    [
        ("GET", {}, b"", 405),
        ("POST", {"Content-Type": "text/plain"}, b"{}", 415),
        ("POST", {"Content-Type": "application/json"}, b"{not json", 400),
        ("POST", {"Content-Type": "application/json"}, b"[]", 400),
        ("POST", {"Content-Type": "application/json"}, b" " * (MAX_REQUEST_BYTES + 1), 413),
    ],
)
def test_requests_that_cannot_be_captured_get_a_clear_4xx(
    server: Service, method: str, headers: dict[str, str], data: bytes, status: int
) -> None:
    response = requests.request(method, _url(server), headers=headers, data=data, timeout=60)

    assert response.status_code == status
    assert set(response.json()) == {"error"}
    assert "Traceback" not in response.text
