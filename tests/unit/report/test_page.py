"""The report page, assembled without a browser: self-contained, every section explained, each
chart's rows inline, and a note where there is nothing to draw."""

import datetime as dt
import json
import re
from typing import Any

import pytest

from event_capture.report import charts, page
from event_capture.report.queries import Period, ReportData, Sources, funnel_steps

D = dt.date(2026, 3, 10)
PERIOD = Period.ending(D, 7)
SOURCES = Sources.of_project("p")
SECTION_IDS = [
    "searches",
    "zero_results",
    "journeys",
    "funnel",
    "top_products",
    "reorder",
    "quality",
    "capture",
]


def data(**overrides: Any) -> ReportData:
    values: dict[str, Any] = {
        "period": PERIOD,
        "searches": [{"day": D, "intent": "reorder", "searches": 9}],
        "zero_results": [
            {"normalized_query": "oat milk", "searches": 8, "zero_result_searches": 2}
        ],
        "funnel": funnel_steps({"searchers": 10, "clickers": 4, "carters": 2, "buyers": 1}),
        "journeys": [
            {
                "day": D,
                "anonymous_sessions": 3,
                "linked_sessions": 2,
                "anonymous_devices": 2,
                "linked_devices": 1,
            }
        ],
        "top_products": [
            {"product_id": "sku_oat", "views": 5, "clicks": 3, "carts": 2, "orders": 1, "units": 2}
        ],
        "reorder": [{"snapshot_date": D, "status": "due", "pairs": 3}],
        "quality": [
            {
                "check_date": D,
                "rule": "null_rate",
                "family": "searches",
                "field": "latency_ms",
                "value": 0.0,
                "threshold": 0.05,
                "passed": True,
                "rows_checked": 30,
            }
        ],
        "capture": [
            {
                "day": D,
                "requests": 4,
                "refused_requests": 1,
                "received": 12,
                "accepted": 9,
                "rejected": 2,
                "dead_lettered": 3,
                "not_stored": 1,
            }
        ],
    }
    return ReportData(**values | overrides)


def render(report: ReportData) -> str:
    return page.render(
        report,
        SOURCES,
        generated_at=dt.datetime(2026, 3, 11, 6, tzinfo=dt.UTC),
        min_users=5,
        capture_source="the sink",
    )


def specs(html: str) -> dict[str, Any]:
    [found] = re.findall(r"^const SPECS = (.*);$", html, re.MULTILINE)
    loaded: dict[str, Any] = json.loads(found)
    return loaded


def rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """A chart's rows: inline values, or a dataset of the spec's own (Altair moves them there)."""
    data = spec["data"]
    found: list[dict[str, Any]] = (
        data["values"] if "values" in data else spec["datasets"][data["name"]]
    )
    return found


def test_the_page_loads_nothing_from_elsewhere() -> None:
    html = render(data())

    assert not re.search(r"<script[^>]*\ssrc=", html)
    assert "<link" not in html and "@import" not in html and "url(" not in page.STYLE
    assert "vegaEmbed" in html  # the bundle itself is inline
    for spec in specs(html).values():
        assert '"url"' not in json.dumps(spec.get("data", {}))


def test_every_section_has_a_title_an_explanation_and_a_chart() -> None:
    html = render(data())

    assert re.findall(r'<section id="(\w+)">', html) == SECTION_IDS
    assert sorted(specs(html)) == sorted(SECTION_IDS)
    for section in page.sections(data(), min_users=5, capture_source="the sink"):
        assert f'<div class="chart" id="chart-{section.id}">' in html
        assert section.title and len(section.text) > 60
    assert "at least 5 distinct users" in html  # the k-anonymity note
    assert "Wed 4 Mar 2026 to Tue 10 Mar 2026 (7 days, UTC)" in html
    assert "p.analytics" in html and "p.events" in html


def test_each_chart_carries_its_rows_inline() -> None:
    found = specs(render(data()))

    def values(section: str) -> list[dict[str, Any]]:
        return rows(found[section])

    assert values("searches") == [{"day": "2026-03-10", "intent": "reorder", "searches": 9}]
    assert values("zero_results")[0]["zero_result_rate"] == 0.25
    assert [v["people"] for v in values("funnel")] == [10, 4, 2, 1]
    by_kind = {v["kind"]: (v["sessions"], v["devices"]) for v in values("journeys")}
    assert by_kind == dict(zip(charts.JOURNEY_KINDS, ((2, 1), (1, 1)), strict=True))
    by_outcome = {v["outcome"]: v["events"] for v in values("capture")}
    assert by_outcome == dict(zip(charts.CAPTURE_OUTCOMES, (6, 3, 2, 1), strict=True))


@pytest.mark.parametrize(
    "section", ["searches", "zero_results", "journeys", "top_products", "reorder"]
)
def test_a_section_without_rows_shows_a_note_instead_of_a_chart(section: str) -> None:
    html = render(data(**{section: []}))

    assert f'id="chart-{section}"' not in html
    assert section not in specs(html)
    [note] = re.findall(rf'<section id="{section}">.*?<p class="empty">(.*?)</p>', html, re.S)
    assert note.startswith("No ")


def test_a_funnel_nobody_entered_shows_a_note() -> None:
    html = render(data(funnel=funnel_steps({})))

    assert 'id="chart-funnel"' not in html and "Nobody searched" in html


def test_no_capture_log_table_says_so_on_the_page() -> None:
    html = render(data(capture=None, capture_note="p.capture_logs.x does not exist yet"))

    assert 'id="chart-capture"' not in html
    assert "No capture log data yet: p.capture_logs.x does not exist yet." in html
    assert "capture" not in specs(html)


def test_text_from_the_data_cannot_end_the_script_or_add_markup() -> None:
    query = "</script><img src=x onerror=alert(1)>"
    html = render(
        data(zero_results=[{"normalized_query": query, "searches": 5, "zero_result_searches": 5}])
    )

    assert query not in html
    assert rows(specs(html)["zero_results"])[0]["normalized_query"] == query
