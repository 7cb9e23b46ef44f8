"""The report as one self-contained HTML page: the charts' specs and Vega, Vega-Lite and
vega-embed inlined (vl-convert's bundle), so opening it needs no network and no CDN.

When every chart has rendered the page sets ``data-charts="ready"`` on ``<body>`` (``failed``
when one could not), and ``window.reportViews`` holds each chart's Vega view by section id:
what the browser test inspects.
"""

import datetime as dt
import html
import json
from dataclasses import dataclass
from functools import cache

import altair as alt
import vl_convert

from event_capture.report import charts
from event_capture.report.queries import ReportData, Sources


@dataclass(frozen=True, kw_only=True)
class Section:
    id: str
    title: str
    text: str  # plain text; escaped on the page
    chart: charts.Chart | None  # None: nothing to draw, ``empty`` says why
    empty: str = ""


@cache
def vega_bundle() -> str:
    """Vega, Vega-Lite (the version Altair writes) and vega-embed as one script."""
    version = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    # No snippet of ours: the default one puts vegaEmbed, vega and vegaLite on window.
    bundle = vl_convert.javascript_bundle(None, vl_version=version)  # type: ignore[arg-type]
    if "</script" in bundle.lower():
        raise ValueError("the Vega bundle would end its <script> element early")
    return bundle


def _day(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def sections(data: ReportData, *, min_users: int, capture_source: str) -> list[Section]:
    period = data.period
    k = f"at least {min_users} distinct users"
    capture_empty = (
        f"No capture log data yet: {data.capture_note}."
        if data.capture is None
        else "No capture log data yet: no request lines in these days."
    )
    return [
        Section(
            id="searches",
            title="Searches per day and intent",
            text="Searches a day, by the intent the app's classifier gave them, from "
            f"search_daily. It keeps a normalized query only on days {k} made it, so rarer "
            "queries are missing from these totals: they are a lower bound.",
            chart=charts.searches(data.searches, period) if data.searches else None,
            empty="No searches in search_daily for these days.",
        ),
        Section(
            id="zero_results",
            title="Searches that found nothing",
            text="Normalized queries whose searches returned no results, most first, with the "
            "share of that query's searches that found nothing. k-anonymous as stored: a query "
            f"appears only for days {k} searched it, so no rare (and so identifying) query "
            "shows here.",
            chart=charts.zero_results(data.zero_results) if data.zero_results else None,
            empty="No zero-result searches in these days.",
        ),
        Section(
            id="journeys",
            title="Journeys across the login",
            text="Sessions without a user id per day (daily_journeys), and how many of them "
            "belong to devices that logged in, before or after: such a device is linked to its "
            "user, so those sessions count as that user's in the funnel below.",
            chart=charts.journeys(data.journeys, period) if data.journeys else None,
            empty="No sessions without a user id in these days.",
        ),
        Section(
            id="funnel",
            title="Search → click → cart → order",
            text="People who searched, then clicked a result, then added to cart, then ordered, "
            "on the same day (daily_funnel), summed over the days: a person counts once a day "
            "at each step they reached after every step before it. A person is counted across "
            "the login: a user with every device linked to them, so a search made before "
            "logging in and the order after it are one person's; a device linked to no one is "
            "a person of its own.",
            chart=charts.funnel(data.funnel) if data.funnel[0]["people"] else None,
            empty="Nobody searched in these days.",
        ),
        Section(
            id="top_products",
            title="Top products",
            text="The most ordered products of the last 28 days up to today (the top_products "
            "view's own window), with their views, clicks and cart additions.",
            chart=charts.top_products(data.top_products) if data.top_products else None,
            empty="No product interactions or orders in the last 28 days.",
        ),
        Section(
            id="reorder",
            title="Reorders due",
            text="Per daily snapshot of reorder_predictions, how many user–product pairs "
            "(ordered on two days or more) are not due yet, due (the time since the last order "
            "has reached the usual interval between orders) or overdue (twice that or more). "
            "Counts only: no user is shown.",
            chart=charts.reorder(data.reorder, period) if data.reorder else None,
            empty="No reorder snapshots in these days (they are kept for 7 days).",
        ),
        Section(
            id="quality",
            title="Data quality",
            text="Each nightly data-quality rule per day: green passed, red failed (that run "
            "raised the alert), grey when there was nothing to measure. Hover a cell for the "
            "value, its threshold and the rows checked.",
            chart=charts.quality(data.quality, period) if data.quality else None,
            empty="No data-quality results for these days.",
        ),
        Section(
            id="capture",
            title="Capture health",
            text="Every event the capture function and the collector received, per day, by "
            "where it ended up. Accepted events are those stored in BigQuery plus those "
            "dead-lettered (durable in Cloud Storage until replay re-inserts them). From the "
            f"functions' request log lines: {capture_source}.",
            chart=charts.capture(data.capture, period) if data.capture else None,
            empty=capture_empty,
        ),
    ]


STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body {
  margin: 0; background: #f5f7fa; color: #1f2933;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
header { background: #102a43; color: #f0f4f8; padding: 28px 0 24px; }
main, header > div { max-width: 1040px; margin: 0 auto; padding: 0 24px; }
h1 { margin: 0 0 6px; font-size: 26px; font-weight: 650; letter-spacing: -0.01em; }
header p { margin: 0; color: #bcccdc; }
header code { color: #f0f4f8; white-space: nowrap; }
section {
  background: #fff; border-radius: 10px; margin: 20px 0; padding: 20px 24px 16px;
  box-shadow: 0 1px 2px rgba(16, 42, 67, 0.08), 0 1px 8px rgba(16, 42, 67, 0.04);
}
h2 { margin: 0 0 4px; font-size: 18px; font-weight: 620; }
section > p { margin: 0 0 12px; color: #52606d; max-width: 80ch; }
.chart { overflow-x: auto; }
.empty {
  margin: 8px 0 4px; padding: 14px 16px; border-radius: 8px; background: #fff8e1;
  color: #7c5e10; border: 1px dashed #f0c36d;
}
footer { max-width: 1040px; margin: 0 auto; padding: 8px 24px 32px; color: #7b8794; }
"""

EMBED = """
window.reportViews = {};
const options = {renderer: "svg", actions: false};
Promise.all(Object.entries(SPECS).map(([id, spec]) =>
  vegaEmbed("#chart-" + id, spec, options).then((r) => { window.reportViews[id] = r.view; })
)).then(
  () => { document.body.dataset.charts = "ready"; },
  (error) => { console.error(error); document.body.dataset.charts = "failed"; }
);
"""


def _script_json(value: object) -> str:
    # Inside <script>, "</" could end the element: JSON allows it escaped.
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


def _section_html(section: Section) -> str:
    body = (
        f'<div class="chart" id="chart-{section.id}"></div>'
        if section.chart is not None
        else f'<p class="empty">{html.escape(section.empty)}</p>'
    )
    return (
        f'<section id="{section.id}">\n<h2>{html.escape(section.title)}</h2>\n'
        f"<p>{html.escape(section.text)}</p>\n{body}\n</section>"
    )


def render(
    data: ReportData,
    sources: Sources,
    *,
    generated_at: dt.datetime,
    min_users: int,
    capture_source: str,
) -> str:
    """The whole page."""
    parts = sections(data, min_users=min_users, capture_source=capture_source)
    specs = {s.id: charts.config(s.chart).to_dict() for s in parts if s.chart is not None}
    period = data.period
    days = (period.end - period.start).days + 1
    title = "Search and shop analytics"
    datasets = sources.datasets
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}: {period.start} to {period.end}</title>
<style>{STYLE}</style>
<script>{vega_bundle()}</script>
</head>
<body>
<header><div>
<h1>{title}</h1>
<p>{_day(period.start)} to {_day(period.end)} ({days} days, UTC) · from
<code>{html.escape(datasets.analytics)}</code> and <code>{html.escape(datasets.events)}</code>
(reorder counts)</p>
</div></header>
<main>
{"\n".join(_section_html(section) for section in parts)}
</main>
<footer>Generated {generated_at:%Y-%m-%d %H:%M} UTC by <code>make report</code>.
Every figure is an aggregate; no user, device, session or event id is on this page.</footer>
<script>
const SPECS = {_script_json(specs)};
{EMBED}
</script>
</body>
</html>
"""
