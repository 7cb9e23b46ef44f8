"""contracts.capture_mode: the control document the cost guard writes and capture reads, as
JSON both ways.

What capture does with it is tests/unit/ingest/test_mode_reader.py and the archive-only part
of tests/unit/ingest/test_pipeline.py; what the guard does, tests/unit/cost_guard/.
"""

from __future__ import annotations

import datetime as dt
import json

import pydantic
import pytest

from event_capture.contracts.capture_mode import (
    CaptureMode,
    ControlState,
    PendingLoad,
    Period,
    read_mode,
)

SINCE = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)


PERIOD = Period(budget_id="budget-7f3a", interval_start=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))


EVERY_FIELD = ControlState(
    mode=CaptureMode.ARCHIVE_ONLY,
    reason="105% of the budget spent, threshold 100%",
    updated_at=SINCE + dt.timedelta(seconds=3),
    archive_only_since=SINCE,
    tripped=PERIOD,
    overridden=Period(budget_id="operator", interval_start=SINCE - dt.timedelta(days=40)),
    paused_queries=(
        "projects/p/locations/eu/transferConfigs/a",
        "projects/p/locations/eu/transferConfigs/b",
    ),
    pending_load=PendingLoad(
        received_from=SINCE - dt.timedelta(minutes=1),
        received_until=SINCE + dt.timedelta(days=11),
        not_before=SINCE + dt.timedelta(days=11, seconds=70),
    ),
)


@pytest.mark.parametrize(
    "state", [pytest.param(ControlState(), id="default"), pytest.param(EVERY_FIELD, id="full")]
)
def test_the_control_document_round_trips_through_json(state: ControlState) -> None:
    text = state.to_json()

    assert ControlState.from_json(text) == state
    assert ControlState.from_json(text.encode()) == state
    assert read_mode(text) is state.mode


def test_fields_left_unset_are_left_out_of_the_document() -> None:
    assert json.loads(ControlState().to_json()) == {
        "mode": "stream",
        "reason": "never switched",
        "paused_queries": [],
        "queries_paused": False,
    }


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"mode": "stream", "surprise": 1}', id="top-level"),
        pytest.param(
            '{"tripped": {"budget_id": "b", "interval_start": "2026-11-01T00:00:00Z", "x": 1}}',
            id="in-period",
        ),
        pytest.param(
            '{"pending_load": {"received_from": "2026-11-01T00:00:00Z",'
            ' "received_until": "2026-11-02T00:00:00Z", "not_before": "2026-11-02T00:01:00Z",'
            ' "rows": 3}}',
            id="in-pending-load",
        ),
    ],
)
def test_the_guard_refuses_a_document_with_keys_it_does_not_know(text: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="extra_forbidden"):
        ControlState.from_json(text)


def test_capture_reads_only_the_mode_so_a_newer_document_does_not_stop_it() -> None:
    assert read_mode('{"mode": "archive_only", "added_later": true}') is CaptureMode.ARCHIVE_ONLY


def test_the_document_is_immutable() -> None:
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        EVERY_FIELD.mode = CaptureMode.STREAM  # type: ignore[misc]
