"""The insertAll call: what goes on the wire and how answers become results or errors.

A recording transport stands in for ``curl_http.CurlHttp`` here; the same call is made against
the BigQuery emulator by every integration test that captures an event.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from event_capture.ingest.insert_all import HttpInsertAll, insert_all_body
from event_capture.ingest.retry import describe, is_transient
from event_capture.ingest.validation import validate_events
from event_capture.platform.api_transport import ApiError, ApiResponse
from tests.fakes.api_transport import RecordingTransport
from tests.unit import event_factory as factory


def rows(count: int = 2) -> list[Any]:
    events = [factory.search(factory.RECEIVED_AT, query=f"caf\u00e9 {i}") for i in range(count)]
    stored, rejected = validate_events(events, factory.RECEIVED_AT)
    assert not rejected
    return stored


def test_the_body_carries_each_rows_json_unchanged_with_its_event_id_as_insert_id() -> None:
    sent = rows()

    body = json.loads(insert_all_body(sent))

    assert body["skipInvalidRows"] is False
    assert body["ignoreUnknownValues"] is False
    assert [item["insertId"] for item in body["rows"]] == [row.event_id for row in sent]
    assert [item["json"] for item in body["rows"]] == [json.loads(row.json) for row in sent]
    # Non-ASCII text travels as UTF-8, as validation wrote it.
    assert "café 0".encode() in insert_all_body(sent)


def test_a_call_posts_to_the_tables_insert_all_path_with_the_calls_timeout() -> None:
    transport = RecordingTransport(
        ApiResponse(200, b'{"kind":"bigquery#tableDataInsertAllResponse"}')
    )
    client = HttpInsertAll(transport)

    errors = client.insert_all("example.com:app.events.searches", rows(1), timeout=2.5)

    assert errors == []
    [call] = transport.calls
    # A domain-scoped project keeps its dot.
    assert call["path"] == (
        "/bigquery/v2/projects/example.com:app/datasets/events/tables/searches/insertAll"
    )
    assert call["headers"] == {"Content-Type": "application/json"}
    assert call["timeout"] == 2.5


def test_per_row_errors_are_returned_as_bigquery_sent_them() -> None:
    insert_errors = [{"index": 1, "errors": [{"reason": "invalid", "message": "bad"}]}]
    answer = ApiResponse(200, json.dumps({"insertErrors": insert_errors}).encode())
    client = HttpInsertAll(RecordingTransport(answer))

    assert client.insert_all("p.d.searches", rows(), timeout=1) == insert_errors


@pytest.mark.parametrize(
    ("status", "data", "transient"),
    [
        (503, b'{"error":{"code":503,"message":"Unavailable","errors":[]}}', True),
        (
            403,
            b'{"error":{"code":403,"message":"Quota","errors":[{"reason":"quotaExceeded"}]}}',
            True,
        ),
        (
            403,
            b'{"error":{"code":403,"message":"Denied","errors":[{"reason":"accessDenied"}]}}',
            False,
        ),
        (404, b'{"error":{"code":404,"message":"Not found: Table p:d.searches"}}', False),
        (502, b"<html>Bad Gateway</html>", True),
        (400, b"", False),
    ],
)
def test_an_answer_other_than_200_raises_an_error_the_retry_rule_reads(
    status: int, data: bytes, transient: bool
) -> None:
    client = HttpInsertAll(RecordingTransport(ApiResponse(status, data)))

    with pytest.raises(ApiError) as raised:
        client.insert_all("p.d.searches", rows(1), timeout=1)

    assert raised.value.code == status
    assert is_transient(raised.value) is transient
    assert describe(raised.value).startswith(f"ApiError: {status}")
