"""The scheduled archive backfill (``event_capture.archive_backfill.function``): the range it
covers from its clock, and its one log line. What a backfill writes is tested with the
operator's command in tests/unit/tools/test_backfill_archive.py, on the same fakes."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from event_capture.archive_backfill.function import BackfillFunction, scheduled_range
from event_capture.contracts.archive_layout import (
    BACKFILL_LOOKBACK_HOURS,
    BACKFILL_SETTLE_SECONDS,
)
from tests.fakes.storage import FakeBucket
from tests.unit import event_factory as factory
from tests.unit.tools.test_backfill_archive import (
    TABLE_REFS,
    StoredRows,
    accepted,
    archive,
    archived_counts,
    writer,
)

NOW = datetime(2026, 11, 28, 19, 0, tzinfo=UTC)


def test_the_range_is_the_lookback_up_to_the_settle_time() -> None:
    start, end = scheduled_range(NOW)

    assert start == NOW - timedelta(hours=BACKFILL_LOOKBACK_HOURS)
    assert end == NOW - timedelta(seconds=BACKFILL_SETTLE_SECONDS)


def test_a_run_writes_the_settled_gaps_and_logs_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket, bigquery = FakeBucket(), StoredRows()
    settled = NOW - timedelta(seconds=BACKFILL_SETTLE_SECONDS + 60)
    recent = NOW - timedelta(seconds=60)  # an instance may still write it
    archived = accepted([factory.search(settled)], settled)
    lost = accepted([factory.order(settled)], settled)
    unsettled = accepted([factory.search(recent)], recent)
    archive(bucket, archived, "req", settled)
    bigquery.store(archived + lost + unsettled)
    run = BackfillFunction(
        writer(bucket), lambda: bigquery, table_refs=TABLE_REFS, clock=lambda: NOW
    )

    run()

    assert set(archived_counts(bucket)) == {archived[0].event_id, lost[0].event_id}
    [line] = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert line["message"] == "archive_backfill" and line["severity"] == "INFO"
    assert (line["backfill_in_bigquery"], line["backfill_written"]) == (2, 1)
    assert line["backfill_to"] == (NOW - timedelta(seconds=BACKFILL_SETTLE_SECONDS)).isoformat()
