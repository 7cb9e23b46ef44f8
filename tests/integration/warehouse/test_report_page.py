"""The analytics report (``make report``) of ``shop_day``'s warehouse, rendered in headless
Chromium: every chart draws marks whose values are the fixture's, worked out here by hand, the
console stays free of errors and warnings, and the page makes no request but its own file.

The capture log table is filled the way ``make report`` fills it locally (``localcloud/log_sink``,
the stand-in for the Cloud Logging sink), from real log lines of the capture pipeline: requests
accepted, partly rejected, dead-lettered (BigQuery missing its dataset) and not stored (no
durable sink left), each dated as Logging would date it. A full-page screenshot goes to the test
artefacts (``TEST_ARTIFACTS_DIR``, default ``.localcloud/artifacts/``).
"""

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from event_capture.ingest.answer import capture_answer
from event_capture.report import capture_log, page
from event_capture.report.charts import CAPTURE_OUTCOMES, JOURNEY_KINDS
from event_capture.report.queries import Period, ReportData, Sources, fetch
from event_capture.warehouse.catalog import DATA_QUALITY, DEFAULT_MIN_USERS
from localcloud import bootstrap
from localcloud.cloud import LocalCloud
from localcloud.log_sink import LogEntry, route
from localcloud.processes import REPO
from localcloud.sample_events import sample_event
from localcloud.warehouse import run_all
from tests.integration.conftest import PROJECT
from tests.integration.warehouse.conftest import DATASETS, Warehouse
from tests.integration.warehouse.shop_day import COFFEE, GRANOLA, OAT
from tests.integration.warehouse.test_data_quality import EXPECTED as QUALITY_ON_D

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", REPO / ".localcloud" / "artifacts"))
LOG_TABLE = capture_log.table_id(PROJECT, "report_capture_logs")
CAPTURE_DATASET = "report_events"
DEAD_LETTERS = f"{PROJECT}-report-dead-letters"
INVALID = {"event_type": "search"}  # no envelope: rejected, naming each missing field
CHART_IDS = (
    "searches",
    "zero_results",
    "journeys",
    "funnel",
    "top_products",
    "reorder",
    "quality",
    "capture",
)
STORED, DEAD_LETTERED, REJECTED, NOT_STORED = CAPTURE_OUTCOMES
LOGGED_IN, NO_LOGIN = JOURNEY_KINDS


@dataclass
class Report:
    path: Path
    data: ReportData
    day: dt.date
    capture_days: dict[dt.date, dict[str, int]]
    quality_rows: list[dict[str, Any]]


def _capture_requests(cloud: LocalCloud, day: dt.date) -> list[LogEntry]:
    """Real request lines of the capture pipeline, dated on D-1, D and D+1 (at noon)."""
    client = cloud.bigquery_client()
    bootstrap.create_dataset_and_tables(client, CAPTURE_DATASET)
    bootstrap.create_bucket(cloud.storage_client(), DEAD_LETTERS)
    # Its own table and bucket: nothing here lands where other tests count rows or objects.
    own = {"BIGQUERY_DATASET": CAPTURE_DATASET, "GCS_BUCKET": DEAD_LETTERS}
    healthy = cloud.pipeline(**own)
    # BigQuery answers 404 for every insert: the rows go to the dead-letter area.
    no_table = cloud.pipeline(**own | {"BIGQUERY_DATASET": "report_no_such_dataset"})
    # ... and without Cloud Storage nothing durable is left: a 503.
    nowhere = cloud.pipeline(BIGQUERY_DATASET="report_no_such_dataset", GCS_ENABLED="false")
    requests = [
        (-1, healthy, [sample_event("search") for _ in range(3)], 200),
        (0, healthy, [*(sample_event("product_view") for _ in range(4)), INVALID, INVALID], 207),
        (1, no_table, [sample_event("search"), sample_event("search"), INVALID], 207),
        (1, nowhere, [sample_event("order_placed"), INVALID], 503),
    ]
    entries = []
    for days, pipeline, events, status in requests:
        result = capture_answer(pipeline.handle(events, batch=True))
        assert result.status == status, result.body
        moment = dt.datetime.combine(day + dt.timedelta(days=days), dt.time(12), dt.UTC)
        entries.append(LogEntry(timestamp=moment, payload=result.log))
    return entries


@pytest.fixture(scope="module")
def report(
    warehouse: Warehouse, cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory
) -> Report:
    d = warehouse.day
    # The data-quality runs of D+1 and D+2 too (conftest runs only D's), so the results show
    # over days; they add partitions, and the other tests read D's.
    for k in (2, 3):
        run_all(warehouse.client, DATASETS, d + dt.timedelta(days=k), [DATA_QUALITY])
    route(warehouse.client, LOG_TABLE, _capture_requests(cloud, d))
    period = Period(start=d - dt.timedelta(days=7), end=d + dt.timedelta(days=2))
    sources = Sources(datasets=DATASETS, capture_log_table=LOG_TABLE)
    data = fetch(warehouse.client, sources, period)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(
        page.render(
            data,
            sources,
            generated_at=dt.datetime.now(dt.UTC),
            min_users=DEFAULT_MIN_USERS,
            capture_source=f"{LOG_TABLE}, filled as the sink would fill it",
        ),
        encoding="utf-8",
    )
    quality_rows = warehouse.query(
        f"SELECT check_date, rule, family, field, value, passed "
        f"FROM `{DATASETS.analytics}.data_quality` "
        f"WHERE check_date BETWEEN '{period.start}' AND '{period.end}'"
    )
    capture_days = {
        # D-1: three searches stored. D: four views stored, two events rejected.
        d - dt.timedelta(days=1): {STORED: 3, DEAD_LETTERED: 0, REJECTED: 0, NOT_STORED: 0},
        d: {STORED: 4, DEAD_LETTERED: 0, REJECTED: 2, NOT_STORED: 0},
        # D+1: two searches dead-lettered and one rejected; then an order not stored (503) and
        # one more rejected.
        d + dt.timedelta(days=1): {STORED: 0, DEAD_LETTERED: 2, REJECTED: 2, NOT_STORED: 1},
    }
    return Report(path, data, d, capture_days, quality_rows)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed; run `make test` as root", pytrace=False)
    with sync_playwright() as playwright:
        # No name resolves: a request for a CDN would fail even if the check below missed it.
        args = ["--host-resolver-rules=MAP * ~NOTFOUND"]
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=args)
        yield browser
        browser.close()


@dataclass
class Opened:
    page: Page
    console: list[str]
    requests: list[str]


@pytest.fixture(scope="module")
def opened(report: Report, browser: Browser) -> Iterator[Opened]:
    tab = browser.new_page(viewport={"width": 1100, "height": 900})
    console: list[str] = []
    requests: list[str] = []

    def logged(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            console.append(f"{message.type}: {message.text}")

    tab.on("console", logged)
    tab.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    tab.on("request", lambda request: requests.append(request.url))
    tab.goto(report.path.as_uri())
    tab.wait_for_function("document.body.dataset.charts !== undefined", timeout=60_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=ARTIFACTS / "report-page.png", full_page=True)
    shutil.copy(report.path, ARTIFACTS / "report-page.html")
    yield Opened(tab, console, requests)
    tab.close()


# Every drawn item of a chart's marks (not the axes', legends' or groups'), with the row it
# stands for and its size: the chart's Vega scenegraph.
MARKS = """
(id) => {
  const out = [];
  const visit = (mark) => {
    if (mark.marktype !== "group" && mark.role === "mark") {
      for (const item of mark.items) {
        out.push({
          marktype: mark.marktype,
          datum: JSON.parse(JSON.stringify(item.datum)),
          width: item.width || 0,
          height: item.height || 0,
        });
      }
    }
    for (const item of mark.items || []) for (const child of item.items || []) visit(child);
  };
  visit(window.reportViews[id].scenegraph().root);
  return out;
}
"""


def bars(opened: Opened, chart: str) -> list[dict[str, Any]]:
    """The chart's bars (or cells), each drawn as one SVG path in its mark's group."""
    items = [item for item in opened.page.evaluate(MARKS, chart) if item["marktype"] == "rect"]
    paths = opened.page.locator(f"#chart-{chart} svg .mark-rect path").count()
    assert items and paths == len(items), (chart, len(items), paths)
    return items


def test_the_page_renders_every_chart_offline_without_console_errors(
    report: Report, opened: Opened
) -> None:
    assert opened.page.evaluate("document.body.dataset.charts") == "ready"
    assert opened.console == []
    assert opened.requests == [report.path.as_uri()]
    drawn = opened.page.evaluate("Object.keys(window.reportViews)")
    assert sorted(drawn) == sorted(CHART_IDS)
    assert opened.page.locator(".empty").count() == 0
    assert (ARTIFACTS / "report-page.png").stat().st_size > 0


def test_searches_per_day_and_intent_are_the_k_anonymous_rows(
    report: Report, opened: Opened
) -> None:
    found = {
        (b["datum"]["day"], b["datum"]["intent"]): b["datum"]["sum_searches"]
        for b in bars(opened, "searches")
    }
    # D: "oat milk" (7 searches, 5 users), "track #" (5 users) and "granola bars" (5 users,
    # sent without an intent: shown as unknown); "gluten free bread" had 4 trusted users and
    # "apples" 1: below k, not stored.
    d = report.day.isoformat()
    assert found == {(d, "product_lookup"): 7, (d, "order_status"): 5, (d, "unknown"): 5}


def test_zero_result_searches_show_the_stored_query_only(report: Report, opened: Opened) -> None:
    found = [
        (b["datum"]["normalized_query"], b["datum"]["zero_result_searches"], b["width"])
        for b in bars(opened, "zero_results")
    ]
    # u5's "oat milk" found nothing: 1 of the 6 of its 7 searches that reported a count.
    assert [(query, zero) for query, zero, _ in found] == [("oat milk", 1)]
    assert found[0][2] > 0
    [label] = [
        item["datum"]
        for item in opened.page.evaluate(MARKS, "zero_results")
        if item["marktype"] == "text"
    ]
    assert label["zero_result_rate"] == pytest.approx(1 / 6)


def test_journeys_split_each_days_anonymous_sessions_by_login(
    report: Report, opened: Opened
) -> None:
    found = {
        (b["datum"]["day"], b["datum"]["kind"]): (b["datum"]["sum_sessions"], b["datum"]["devices"])
        for b in bars(opened, "journeys")
    }
    # As test_journeys works them out. D: dev-a's two sessions before it logged in as u7, and
    # dev-forged's one (linked to no one); no other day has a session without a user id.
    d = report.day.isoformat()
    assert found == {(d, LOGGED_IN): (2, 1), (d, NO_LOGIN): (1, 1)}
    assert all(b["height"] > 0 for b in bars(opened, "journeys"))


def test_the_funnel_sums_each_days_people_per_step(opened: Opened) -> None:
    found = {
        b["datum"]["label"]: (b["datum"]["people"], b["width"]) for b in bars(opened, "funnel")
    }
    # As test_views works them out. D: u1..u7 and dev-forged searched, u1, u2, u4 and u7
    # clicked, u1 and u7 (stitched across its login) carted and ordered; D-7..D-1: u6
    # searched.
    assert {label: people for label, (people, _) in found.items()} == {
        "Searched": 8 + 7,
        "Clicked a result": 4,
        "Added to cart": 2,
        "Ordered": 2,
    }
    widths = [width for _, width in found.values()]
    assert widths == sorted(widths, reverse=True) and widths[-1] > 0


def test_top_products_show_each_products_counts(opened: Opened) -> None:
    found = {
        (b["datum"]["product_id"], b["datum"]["metric"]): b["datum"]["count"]
        for b in bars(opened, "top_products")
    }
    # As test_views works them out: views, clicks, carts, orders per product.
    expected = {OAT: (2, 2, 2, 4), COFFEE: (4, 1, 0, 3), GRANOLA: (4, 1, 1, 3)}
    assert found == {
        (product, metric): count
        for product, counts in expected.items()
        for metric, count in zip(("views", "clicks", "carts", "orders"), counts, strict=True)
    }


def test_reorder_counts_are_pairs_per_snapshot(report: Report, opened: Opened) -> None:
    found = {
        (b["datum"]["snapshot_date"], b["datum"]["status"]): b["datum"]["sum_pairs"]
        for b in bars(opened, "reorder")
    }
    # u1's oat (ordered every 10 days, then daily) and u2's coffee (every 4 days): neither is
    # due on D, D+1 or D+2; u2's granola was ordered on one day only.
    days = [(report.day + dt.timedelta(days=k)).isoformat() for k in range(3)]
    assert found == {(day, "not due yet"): 2 for day in days}
    assert not any("user_id" in b["datum"] for b in bars(opened, "reorder"))


def test_data_quality_shows_every_rule_on_every_day_checked(report: Report, opened: Opened) -> None:
    def result(value: object, passed: bool) -> str:
        return "nothing to measure" if value is None else ("passed" if passed else "failed")

    def check(rule: str, family: str, field: str | None) -> str:
        return f"{rule} · {family}{'.' + field if field else ''}"

    found = {
        (b["datum"]["check_date"], b["datum"]["check"]): b["datum"]["result"]
        for b in bars(opened, "quality")
    }
    stored = {
        (row["check_date"].isoformat(), check(row["rule"], row["family"], row["field"])): result(
            row["value"], row["passed"]
        )
        for row in report.quality_rows
    }
    assert found == stored
    d = report.day.isoformat()
    assert {c: r for (day, c), r in found.items() if day == d} == {
        check(*key): result(value, passed) for key, (value, _, passed, _) in QUALITY_ON_D.items()
    }
    assert {day for day, _ in found} == {
        (report.day + dt.timedelta(days=k)).isoformat() for k in range(3)
    }


def test_capture_health_splits_each_days_events_by_outcome(report: Report, opened: Opened) -> None:
    found: dict[str, dict[str, int]] = {}
    for b in bars(opened, "capture"):
        found.setdefault(b["datum"]["day"], {})[b["datum"]["outcome"]] = b["datum"]["sum_events"]
        assert (b["height"] > 0) == (b["datum"]["sum_events"] > 0), b
    assert found == {day.isoformat(): counts for day, counts in report.capture_days.items()}


def test_a_missing_capture_log_table_leaves_a_note_instead_of_a_chart(
    warehouse: Warehouse,
) -> None:
    sources = Sources(
        datasets=DATASETS,
        capture_log_table=capture_log.table_id(PROJECT, "report_no_capture_logs"),
    )
    period = Period.ending(warehouse.day, 3)
    data = fetch(warehouse.client, sources, period)
    html = page.render(
        data, sources, generated_at=dt.datetime.now(dt.UTC), min_users=5, capture_source="none"
    )

    assert data.capture is None and "does not exist yet" in data.capture_note
    assert 'id="chart-capture"' not in html
    assert "No capture log data yet" in html
