"""Every query the report runs, and the rows they return: aggregates only.

The tables and views are named from the warehouse catalog (and ``capture_log`` for the routed
request log), so a rename there reaches the report. Each query reads the report's days, from
``@start`` to ``@end`` (dates, UTC, both included), through the partitioning column where its
table has one. None returns a user, device, session or event id: ``reorder_predictions`` holds
one row per user and product, and its query returns counts of them per day only.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.api_core.exceptions import BadRequest, NotFound

from event_capture.contracts import log_fields as log
from event_capture.platform.bigquery_surface import BigQueryQueries
from event_capture.platform.query import DATE, Query
from event_capture.report import capture_log
from event_capture.warehouse.catalog import (
    DATA_QUALITY,
    REORDER_PREDICTIONS,
    SEARCH_DAILY,
    VIEWS,
)
from event_capture.warehouse.render import Datasets, table_name

# reorder_predictions' due_score is days since the last order over the usual interval: 1 or
# more is due (its column's definition); twice the usual interval or more counts as overdue.
DUE_SCORE = 1
OVERDUE_SCORE = 2
REORDER_STATUSES = ("not due yet", "due", "overdue")
TOP_PRODUCTS = 10
ZERO_RESULT_QUERIES = 15
# How the report names the intent of searches sent without one (search_daily keeps NULL).
UNKNOWN_INTENT = "unknown"
FUNNEL_STEPS = (
    ("searchers", "Searched"),
    ("clickers", "Clicked a result"),
    ("carters", "Added to cart"),
    ("buyers", "Ordered"),
)
# The capture log's counts as the report names them.
CAPTURE_COUNTS = {
    log.EVENTS_RECEIVED: "received",
    log.EVENTS_ACCEPTED: "accepted",
    log.EVENTS_REJECTED: "rejected",
    log.EVENTS_DEAD_LETTERED: "dead_lettered",
    log.EVENTS_NOT_STORED: "not_stored",
}

Row = dict[str, Any]
# The report's days, both included.
PERIOD = {"start": DATE, "end": DATE}


@dataclass(frozen=True, kw_only=True)
class Sources:
    """Where the report reads: the warehouse's datasets and the routed request log's table."""

    datasets: Datasets
    capture_log_table: str

    @classmethod
    def of_project(
        cls,
        project: str,
        *,
        events: str = "events",
        analytics: str = "analytics",
        capture_logs: str = capture_log.DATASET,
    ) -> "Sources":
        return cls(
            datasets=Datasets(f"{project}.{events}", f"{project}.{analytics}"),
            capture_log_table=capture_log.table_id(project, capture_logs),
        )


@dataclass(frozen=True, kw_only=True)
class Period:
    """The report's days, UTC, ``start`` to ``end`` included."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"period: start {self.start} is after end {self.end}")

    @classmethod
    def ending(cls, end: dt.date, days: int) -> "Period":
        if days < 1:
            raise ValueError(f"period: days must be ≥ 1, not {days}")
        return cls(start=end - dt.timedelta(days=days - 1), end=end)

    @property
    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=k) for k in range((self.end - self.start).days + 1)]


@dataclass(frozen=True, kw_only=True)
class ReportData:
    period: Period
    searches: list[Row]  # day, intent, searches
    zero_results: list[Row]  # normalized_query, searches, zero_result_searches
    funnel: list[Row]  # step, label, people: one row per FUNNEL_STEPS
    # day, anonymous_sessions, linked_sessions, anonymous_devices, linked_devices
    journeys: list[Row]
    top_products: list[Row]  # product_id, views, clicks, carts, orders, units
    reorder: list[Row]  # snapshot_date, status, pairs
    quality: list[Row]  # check_date, rule, family, field, value, threshold, passed, rows_checked
    # day, requests, refused_requests and CAPTURE_COUNTS' names; None: no table to read yet.
    capture: list[Row] | None
    capture_note: str = ""  # why capture is None


def _view(name: str, datasets: Datasets) -> str:
    [view] = [view for view in VIEWS if view.name == name]
    return f"{datasets.of(view.dataset)}.{view.name}"


def searches_sql(datasets: Datasets) -> str:
    return f"""
SELECT day, IFNULL(intent, '{UNKNOWN_INTENT}') AS intent, SUM(searches) AS searches
FROM `{table_name(SEARCH_DAILY, datasets)}`
WHERE day BETWEEN @start AND @end
GROUP BY day, intent
ORDER BY day, intent
""".strip()  # noqa: S608 - names from the catalog, values as parameters


def zero_results_sql(datasets: Datasets) -> str:
    # zero_result_rate is the day's zero-result searches over those that reported a result
    # count: times that number, the count again (rounded back from the float); rows written
    # before the column existed counted every search. HAVING names the alias: there,
    # ``searches`` would be the select list's SUM, and BigQuery refuses an aggregate of an
    # aggregate.
    counted = "IFNULL(searches_with_result_count, searches)"
    zero = f"CAST(ROUND(SUM(IFNULL(zero_result_rate, 0) * {counted})) AS INT64)"
    return f"""
SELECT normalized_query, SUM({counted}) AS searches, {zero} AS zero_result_searches
FROM `{table_name(SEARCH_DAILY, datasets)}`
WHERE day BETWEEN @start AND @end
GROUP BY normalized_query
HAVING zero_result_searches > 0
ORDER BY zero_result_searches DESC, normalized_query
LIMIT {ZERO_RESULT_QUERIES}
""".strip()  # noqa: S608 - names from the catalog, values as parameters


def funnel_sql(datasets: Datasets) -> str:
    sums = ", ".join(f"SUM({column}) AS {column}" for column, _ in FUNNEL_STEPS)
    return f"""
SELECT {sums}
FROM `{_view("daily_funnel", datasets)}`
WHERE day BETWEEN @start AND @end
""".strip()  # noqa: S608 - names from the catalog, values as parameters


def journeys_sql(datasets: Datasets) -> str:
    return f"""
SELECT day, anonymous_sessions, linked_sessions, anonymous_devices, linked_devices
FROM `{_view("daily_journeys", datasets)}`
WHERE day BETWEEN @start AND @end
ORDER BY day
""".strip()  # noqa: S608 - names from the catalog, values as parameters


def top_products_sql(datasets: Datasets) -> str:
    # The view has its own window (the last 28 days up to today), not the report's days.
    return f"""
SELECT product_id, views, clicks, carts, orders, units
FROM `{_view("top_products", datasets)}`
ORDER BY orders DESC, carts DESC, views DESC, product_id
LIMIT {TOP_PRODUCTS}
""".strip()  # noqa: S608 - names from the catalog, values as parameters


def reorder_sql(datasets: Datasets) -> str:
    not_due, due, overdue = REORDER_STATUSES
    return f"""
SELECT
  snapshot_date,
  CASE
    WHEN due_score >= {OVERDUE_SCORE} THEN '{overdue}'
    WHEN due_score >= {DUE_SCORE} THEN '{due}'
    ELSE '{not_due}'
  END AS status,
  COUNT(*) AS pairs
FROM `{table_name(REORDER_PREDICTIONS, datasets)}`
WHERE snapshot_date BETWEEN @start AND @end
GROUP BY snapshot_date, status
ORDER BY snapshot_date, status
""".strip()  # noqa: S608 - names from the catalog, values as parameters


def quality_sql(datasets: Datasets) -> str:
    return f"""
SELECT check_date, rule, family, field, value, threshold, passed, rows_checked
FROM `{table_name(DATA_QUALITY, datasets)}`
WHERE check_date BETWEEN @start AND @end
ORDER BY rule, family, field, check_date
""".strip()  # noqa: S608 - names from the catalog, values as parameters


def capture_sql(table: str) -> str:
    """Per day, the routed request lines' counts (FLOAT columns, summed back to integers)."""
    payload = "jsonPayload"
    counts = ",\n  ".join(
        f"CAST(SUM(IFNULL({payload}.{field}, 0)) AS INT64) AS {name}"
        for field, name in CAPTURE_COUNTS.items()
    )
    messages = ", ".join(f"'{message}'" for message in capture_log.MESSAGES)
    return f"""
SELECT
  DATE({capture_log.PARTITION_FIELD}) AS day,
  COUNT(*) AS requests,
  COUNTIF({payload}.{log.EVENTS_RECEIVED} IS NULL) AS refused_requests,
  {counts}
FROM `{table}`
WHERE {capture_log.PARTITION_FIELD} >= TIMESTAMP(@start)
  AND {capture_log.PARTITION_FIELD} < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
  AND {payload}.message IN ({messages})
GROUP BY day
ORDER BY day
""".strip()  # noqa: S608 - names from the catalog, values as parameters


def queries(sources: Sources) -> dict[str, Query]:
    """Every query of the report by what it is for (the page's sections), each run with the
    report's days (top_products has a window of its own and ignores them)."""
    datasets = sources.datasets
    sql = {
        "searches": searches_sql(datasets),
        "zero_results": zero_results_sql(datasets),
        "funnel": funnel_sql(datasets),
        "journeys": journeys_sql(datasets),
        "top_products": top_products_sql(datasets),
        "reorder": reorder_sql(datasets),
        "quality": quality_sql(datasets),
        "capture": capture_sql(sources.capture_log_table),
    }
    return {name: Query(text, PERIOD) for name, text in sql.items()}


def _run(client: BigQueryQueries, query: Query, period: Period) -> list[Row]:
    return query.rows(client, start=period.start, end=period.end)


def funnel_steps(sums: Mapping[str, int | None]) -> list[Row]:
    """The funnel's one row of sums as a row per step, in order (no day: 0)."""
    return [
        {"step": order, "label": label, "people": sums.get(column) or 0}
        for order, (column, label) in enumerate(FUNNEL_STEPS)
    ]


def fetch(client: BigQueryQueries, sources: Sources, period: Period) -> ReportData:
    sql = queries(sources)
    rows = {name: _run(client, sql[name], period) for name in sql if name != "capture"}
    capture: list[Row] | None
    note = ""
    try:
        capture = _run(client, sql["capture"], period)
    except NotFound:
        capture, note = None, f"{sources.capture_log_table} does not exist yet"
    except BadRequest as error:
        # A table Logging created from entries that lacked a field has no column for it yet.
        capture, note = None, f"{sources.capture_log_table} cannot be read: {error.message}"
    [sums] = rows["funnel"] or [{}]
    return ReportData(
        period=period,
        searches=rows["searches"],
        zero_results=rows["zero_results"],
        funnel=funnel_steps(sums),
        journeys=rows["journeys"],
        top_products=rows["top_products"],
        reorder=rows["reorder"],
        quality=rows["quality"],
        capture=capture,
        capture_note=note,
    )
