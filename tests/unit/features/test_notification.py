"""Which snapshot a Data Transfer run notification announces, and every shape it refuses.

The notification arrives as Eventarc's Pub/Sub CloudEvent data: ``{"message": {"data":
<base64 of the TransferRun JSON>, ...}, "subscription": ...}``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

from event_capture.features.notification import (
    SUCCEEDED,
    NotificationError,
    TransferRun,
    parse_run,
)


def envelope(data: bytes) -> dict[str, Any]:
    return {
        "message": {
            "data": base64.b64encode(data).decode(),
            "messageId": "1234567890",
            "publishTime": "2026-11-28T03:00:41.123Z",
        },
        "subscription": "projects/p/subscriptions/eventarc-materializer",
    }


def run(**fields: Any) -> dict[str, Any]:
    """A TransferRun as Data Transfer publishes it; only state and runTime are read."""
    return envelope(
        json.dumps(
            {
                "name": "projects/1/locations/eu/transferConfigs/abc/runs/def",
                "scheduleTime": "2026-11-28T03:00:00Z",
                "runTime": "2026-11-28T03:00:00Z",
                "state": "SUCCEEDED",
                "dataSourceId": "scheduled_query",
                "params": {"query": "SELECT 1"},
                **fields,
            }
        ).encode()
    )


def test_a_succeeded_run_announces_the_snapshot_of_the_day_before() -> None:
    parsed = parse_run(run())

    assert parsed == TransferRun(SUCCEEDED, dt.datetime(2026, 11, 28, 3, tzinfo=dt.UTC))
    assert parsed.snapshot_date == dt.date(2026, 11, 27)


def test_another_state_is_parsed_as_it_is() -> None:
    parsed = parse_run(run(state="FAILED"))

    assert (parsed.state, parsed.snapshot_date) == ("FAILED", dt.date(2026, 11, 27))


@pytest.mark.parametrize(
    ("run_time", "snapshot"),
    [
        pytest.param("2026-11-28T00:00:00Z", dt.date(2026, 11, 27), id="utc-midnight"),
        pytest.param("2026-11-28T23:59:59.999999Z", dt.date(2026, 11, 27), id="utc-end-of-day"),
        # 01:30 on the 28th in +05:30 is 20:00 on the 27th in UTC: @run_date was the 27th.
        pytest.param("2026-11-28T01:30:00+05:30", dt.date(2026, 11, 26), id="east-of-utc"),
        # 20:00 on the 27th in -05:00 is 01:00 on the 28th in UTC.
        pytest.param("2026-11-27T20:00:00-05:00", dt.date(2026, 11, 27), id="west-of-utc"),
        pytest.param("2026-11-28T03:00:00.123456789Z", dt.date(2026, 11, 27), id="nanoseconds"),
        pytest.param("2026-11-28T03:00:00+00:00", dt.date(2026, 11, 27), id="plus-zero"),
        pytest.param("2026-03-01T02:00:00Z", dt.date(2026, 2, 28), id="month-boundary"),
        pytest.param("2028-03-01T02:00:00Z", dt.date(2028, 2, 29), id="leap-day"),
        pytest.param("2027-01-01T02:00:00Z", dt.date(2026, 12, 31), id="year-boundary"),
    ],
)
def test_the_snapshot_is_the_utc_day_of_run_time_minus_one(
    run_time: str, snapshot: dt.date
) -> None:
    assert parse_run(run(runTime=run_time)).snapshot_date == snapshot


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(None, "not a Pub/Sub message with JSON data", id="none"),
        pytest.param([], "not a Pub/Sub message with JSON data", id="list"),
        pytest.param("text", "not a Pub/Sub message with JSON data", id="string"),
        pytest.param({}, "not a Pub/Sub message with JSON data", id="no-message"),
        pytest.param({"message": {}}, "not a Pub/Sub message with JSON data", id="no-data"),
        pytest.param({"message": None}, "not a Pub/Sub message with JSON data", id="message-null"),
        pytest.param(
            {"message": {"data": 5}}, "not a Pub/Sub message with JSON data", id="data-number"
        ),
        pytest.param(
            {"message": {"data": "not base64!"}},
            "not a Pub/Sub message with JSON data",
            id="not-base64",
        ),
        pytest.param(
            # Valid base64 of a valid run once the "*" is dropped, as a lax decoder would.
            {"message": {"data": "*" + run()["message"]["data"]}},
            "not a Pub/Sub message with JSON data",
            id="outside-the-alphabet",
        ),
        pytest.param(
            {"message": {"data": "eyJ"}}, "not a Pub/Sub message with JSON data", id="bad-padding"
        ),
        pytest.param(envelope(b"not json"), "not a Pub/Sub message with JSON data", id="not-json"),
        pytest.param(
            envelope(b"\xff\xfe{}"), "not a Pub/Sub message with JSON data", id="not-utf8"
        ),
        pytest.param(envelope(b""), "not a Pub/Sub message with JSON data", id="empty"),
        pytest.param(envelope(b"[1, 2]"), "message data is not a JSON object", id="json-list"),
        pytest.param(
            envelope(b'"SUCCEEDED"'), "message data is not a JSON object", id="json-string"
        ),
        pytest.param(envelope(b"null"), "message data is not a JSON object", id="json-null"),
        pytest.param(
            envelope(b'{"runTime": "2026-11-28T03:00:00Z"}'),
            "message data has no state and runTime strings",
            id="no-state",
        ),
        pytest.param(
            envelope(b'{"state": "SUCCEEDED"}'),
            "message data has no state and runTime strings",
            id="no-runTime",
        ),
        pytest.param(
            run(state=None), "message data has no state and runTime strings", id="state-null"
        ),
        pytest.param(
            run(runTime=1764298800), "message data has no state and runTime strings", id="epoch"
        ),
        pytest.param(run(runTime="2026-11-28T03:00:00"), "runTime has no UTC offset", id="naive"),
        pytest.param(run(runTime="2026-11-28"), "runTime has no UTC offset", id="date-only"),
        pytest.param(
            run(runTime="yesterday"), "runTime is not an RFC 3339 timestamp", id="not-a-time"
        ),
        pytest.param(run(runTime=""), "runTime is not an RFC 3339 timestamp", id="empty-time"),
        pytest.param(
            run(runTime="2026-11-31T03:00:00Z"),
            "runTime is not an RFC 3339 timestamp",
            id="no-such-day",
        ),
    ],
)
def test_every_malformed_shape_is_refused_with_what_is_wrong(data: Any, message: str) -> None:
    with pytest.raises(NotificationError) as raised:
        parse_run(data)

    assert str(raised.value).startswith(message)


def test_the_refusal_does_not_repeat_the_message_content() -> None:
    with pytest.raises(NotificationError) as raised:
        parse_run(run(runTime="secret-looking-value"))

    assert "secret-looking-value" not in str(raised.value)
    # fromisoformat's own error quotes the value; it is not chained into the traceback.
    assert raised.value.__suppress_context__ is True
