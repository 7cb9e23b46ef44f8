"""DataTransferSwitch's two REST calls, checked against the BigQuery Data Transfer API reference.

- transferConfigs.patch:
  https://cloud.google.com/bigquery/docs/reference/datatransfer/rest/v1/projects.locations.transferConfigs/patch
  ``PATCH https://bigquerydatatransfer.googleapis.com/v1/{transferConfig.name=projects/*/locations/*/transferConfigs/*}``,
  query parameter ``updateMask`` (required; a FieldMask, comma-separated field names), body a
  TransferConfig, whose ``disabled`` field stops its scheduled runs.
- transferConfigs.startManualRuns:
  https://cloud.google.com/bigquery/docs/reference/datatransfer/rest/v1/projects.locations.transferConfigs/startManualRuns
  ``POST https://bigquerydatatransfer.googleapis.com/v1/{parent=projects/*/locations/*/transferConfigs/*}:startManualRuns``,
  body ``{"requestedTimeRange": {"startTime", "endTime"}}`` (Timestamps, RFC 3339; runs with a
  runTime in [startTime, endTime); the range must be in the past).

Both need ``bigquery.transfers.update`` on the config. The session is a recording fake with the
``request(method, url, timeout=..., **kwargs)`` of requests.Session and google-auth's
AuthorizedSession; the calls against a live loopback server are in
tests/integration/test_cost_guard.py.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from event_capture.cost_guard.scheduled_queries import (
    API,
    TIMEOUT_SECONDS,
    TRANSFER_PERMISSIONS,
    DataTransferSwitch,
    TransferError,
)

CONFIG = "projects/shop-analytics/locations/eu/transferConfigs/6a1f0c2e-0000-2b7e-a9c4-089e082f5e18"
# RFC 3339 in UTC with the "Z" designator, fractional seconds optional.
RFC_3339_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")


@dataclass
class Answer:
    status_code: int = 200
    text: str = "{}"


@dataclass
class RecordingSession:
    answers: list[Answer] = field(default_factory=list)
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def request(self, method: str, url: str, **kwargs: Any) -> Answer:
        self.calls.append((method, url, kwargs))
        return self.answers.pop(0) if self.answers else Answer()


@pytest.mark.parametrize("disabled", [True, False])
def test_pausing_and_resuming_is_a_patch_of_disabled_only(disabled: bool) -> None:
    session = RecordingSession()

    DataTransferSwitch(session).set_disabled(CONFIG, disabled)

    assert session.calls == [
        (
            "PATCH",
            f"https://bigquerydatatransfer.googleapis.com/v1/{CONFIG}",
            {
                "timeout": TIMEOUT_SECONDS,
                "params": {"updateMask": "disabled"},
                "json": {"disabled": disabled},
            },
        )
    ]


def test_the_missed_days_are_one_manual_run_request_over_the_paused_time() -> None:
    session = RecordingSession()
    paris = dt.timezone(dt.timedelta(hours=1))
    start = dt.datetime(2026, 11, 20, 10, 29, 41, tzinfo=paris)
    end = dt.datetime(2026, 12, 1, 9, 11, 15, 250000, tzinfo=dt.UTC)

    DataTransferSwitch(session).run_missed(CONFIG, start, end)

    [(method, url, kwargs)] = session.calls
    assert (method, url) == ("POST", f"{API}/v1/{CONFIG}:startManualRuns")
    assert kwargs == {
        "timeout": TIMEOUT_SECONDS,
        "json": {
            "requestedTimeRange": {
                "startTime": "2026-11-20T09:29:41Z",
                "endTime": "2026-12-01T09:11:15.250000Z",
            }
        },
    }
    time_range = kwargs["json"]["requestedTimeRange"]
    assert all(RFC_3339_Z.fullmatch(value) for value in time_range.values())


def test_the_endpoint_is_the_documented_service_and_can_be_replaced() -> None:
    session = RecordingSession()

    DataTransferSwitch(session, "http://127.0.0.1:8099/").set_disabled(CONFIG, True)
    DataTransferSwitch(session, "http://127.0.0.1:8099").run_missed(
        CONFIG, dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    )

    assert API == "https://bigquerydatatransfer.googleapis.com"
    assert [url for _, url, _ in session.calls] == [
        f"http://127.0.0.1:8099/v1/{CONFIG}",
        f"http://127.0.0.1:8099/v1/{CONFIG}:startManualRuns",
    ]


@pytest.mark.parametrize(
    ("call", "method"),
    [
        pytest.param(lambda s: s.set_disabled(CONFIG, True), "PATCH", id="patch"),
        pytest.param(
            lambda s: s.run_missed(
                CONFIG,
                dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
            ),
            "POST",
            id="start-manual-runs",
        ),
    ],
)
def test_a_refusal_raises_with_the_status_and_the_message(call: Any, method: str) -> None:
    body = (
        '{"error": {"code": 403, "message": "The caller does not have permission",'
        ' "status": "PERMISSION_DENIED"}}'
    )
    session = RecordingSession([Answer(403, body)])

    with pytest.raises(TransferError) as raised:
        call(DataTransferSwitch(session))

    text = str(raised.value)
    assert text.startswith(f"{method} /v1/{CONFIG}")
    assert "403" in text
    assert "PERMISSION_DENIED" in text


@pytest.mark.parametrize("status", [400, 404, 429, 500, 503])
def test_every_error_status_raises(status: int) -> None:
    session = RecordingSession([Answer(status, "nope")])

    with pytest.raises(TransferError, match=f": {status} nope$"):
        DataTransferSwitch(session).set_disabled(CONFIG, False)


@pytest.mark.parametrize("status", [200, 204])
def test_a_success_raises_nothing(status: int) -> None:
    DataTransferSwitch(RecordingSession([Answer(status, "")])).set_disabled(CONFIG, True)


def test_a_long_error_body_is_cut_for_the_log_line() -> None:
    session = RecordingSession([Answer(500, "x" * 5000)])

    with pytest.raises(TransferError) as raised:
        DataTransferSwitch(session).set_disabled(CONFIG, True)

    assert str(raised.value) == f"PATCH /v1/{CONFIG}: 500 " + "x" * 300


def test_the_permission_is_the_one_both_methods_document() -> None:
    assert TRANSFER_PERMISSIONS == ("bigquery.transfers.update",)
