"""The report's queries: what they read, how they bound it, and that none returns an id."""

import datetime as dt
import re
from typing import Any, cast

import pytest
from google.api_core.exceptions import NotFound
from google.cloud import bigquery

from event_capture.contracts import log_fields as log
from event_capture.cost.reads import Read, reads
from event_capture.report import capture_log
from event_capture.report.queries import (
    FUNNEL_STEPS,
    Period,
    Sources,
    capture_sql,
    fetch,
    funnel_steps,
    queries,
)
from event_capture.warehouse.catalog import (
    DATA_QUALITY,
    REORDER_PREDICTIONS,
    SEARCH_DAILY,
)
from event_capture.warehouse.render import table_name

SOURCES = Sources.of_project("p")
DATASETS = SOURCES.datasets
BOUNDED = {
    "searches": SEARCH_DAILY,
    "zero_results": SEARCH_DAILY,
    "reorder": REORDER_PREDICTIONS,
    "quality": DATA_QUALITY,
}


def test_every_query_reads_the_warehouse_or_the_capture_log_only() -> None:
    allowed = {
        "p.analytics.search_daily",
        "p.analytics.daily_funnel",
        "p.analytics.daily_journeys",
        "p.analytics.top_products",
        "p.analytics.data_quality",
        "p.events.reorder_predictions",
        "p.capture_logs.run_googleapis_com_stdout",
    }
    named = {n for query in queries(SOURCES).values() for n in re.findall(r"`([^`]+)`", query.sql)}

    assert named == allowed


@pytest.mark.parametrize("name", sorted(BOUNDED))
def test_a_partitioned_table_is_read_for_the_reports_days_only(name: str) -> None:
    spec = BOUNDED[name]

    assert reads(queries(SOURCES)[name].sql, DATASETS) == [
        Read(table_name(spec, DATASETS), f"{spec.partition_field} BETWEEN @start AND @end")
    ]


@pytest.mark.parametrize("name", ["funnel", "journeys"])
def test_a_daily_view_is_read_for_the_reports_days_only(name: str) -> None:
    assert "WHERE day BETWEEN @start AND @end" in queries(SOURCES)[name].sql


def test_the_capture_log_is_read_through_its_partitioning_column() -> None:
    sql = capture_sql(SOURCES.capture_log_table)

    assert "timestamp >= TIMESTAMP(@start)" in sql
    assert "timestamp < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))" in sql


def test_no_query_returns_or_names_an_identifier() -> None:
    for name, query in queries(SOURCES).items():
        for column in (
            "user_id",
            "anonymous_id",
            "stitched_user_id",
            "session_id",
            "event_id",
            "order_id",
            "request_id",
        ):
            assert column not in query.sql, (name, column)


def test_capture_health_sums_every_count_of_both_request_lines() -> None:
    sql = capture_sql(SOURCES.capture_log_table)

    for field in capture_log.COUNT_FIELDS:
        assert f"SUM(IFNULL(jsonPayload.{field}, 0))" in sql
    assert "jsonPayload.message IN ('capture', 'collector')" in sql
    assert f"jsonPayload.{log.EVENTS_RECEIVED} IS NULL" in sql  # a request refused whole


def test_a_period_holds_its_days_both_ends_included() -> None:
    period = Period.ending(dt.date(2026, 3, 1), 28)

    assert period.start == dt.date(2026, 2, 2)
    assert period.days[0] == period.start and period.days[-1] == period.end
    assert len(period.days) == 28
    with pytest.raises(ValueError, match="after end"):
        Period(start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 1))
    with pytest.raises(ValueError, match="days must be"):
        Period.ending(dt.date(2026, 3, 1), 0)


def test_funnel_steps_come_in_order_with_no_day_as_zero() -> None:
    steps = funnel_steps({"searchers": 7, "clickers": 3, "carters": None})

    assert [s["label"] for s in steps] == [label for _, label in FUNNEL_STEPS]
    assert [s["people"] for s in steps] == [7, 3, 0, 0]


class FakeClient:
    """Answers each query with scripted rows; the capture log's table is missing."""

    def __init__(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        self.rows = rows
        self.parameters: list[object] = []

    def query(self, sql: str, job_config: bigquery.QueryJobConfig) -> "FakeClient":
        self.parameters.append(job_config.query_parameters)
        if capture_log.TABLE in sql:
            raise NotFound(f"Not found: Table {SOURCES.capture_log_table}")  # type: ignore[no-untyped-call]
        [name] = [name for name, query in queries(SOURCES).items() if query.sql == sql]
        self._result = self.rows.get(name, [])
        return self

    def result(self) -> list[dict[str, Any]]:
        return self._result


def test_a_missing_capture_log_table_is_no_data_not_an_error() -> None:
    period = Period.ending(dt.date(2026, 3, 1), 7)
    sums = {"searchers": 4, "clickers": 2, "carters": 1, "buyers": 1}
    journeys = {
        "day": period.end,
        "anonymous_sessions": 3,
        "linked_sessions": 2,
        "anonymous_devices": 2,
        "linked_devices": 1,
    }
    client = FakeClient(
        {
            "funnel": [sums],
            "searches": [{"day": period.end, "searches": 3}],
            "journeys": [journeys],
        }
    )

    data = fetch(client, SOURCES, period)

    assert data.capture is None
    assert data.capture_note == f"{SOURCES.capture_log_table} does not exist yet"
    assert [s["people"] for s in data.funnel] == [4, 2, 1, 1]
    assert data.searches == [{"day": period.end, "searches": 3}]
    assert data.journeys == [journeys]
    # Every query ran for the report's days.
    for parameters in client.parameters:
        values = {p.name: p.value for p in cast(list[bigquery.ScalarQueryParameter], parameters)}
        assert values == {"start": period.start, "end": period.end}
