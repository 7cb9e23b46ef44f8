"""The report's charts: one Vega-Lite spec (through Altair) per section, from the queries' rows.

Each chart carries its rows inline (``values``), so the page needs no data file or request. A
daily chart spans every day of the report, days without rows included, so gaps show.
"""

import datetime as dt
from collections.abc import Iterable
from typing import Any

import altair as alt

from event_capture.report.queries import REORDER_STATUSES, Period, Row

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
INK = "#1f2933"
MUTED = "#52606d"
GRID = "#e4e7eb"
PASSED, FAILED, UNMEASURED = "#2f9e44", "#e03131", "#adb5bd"
# Where each captured event ended up: a partition of the events received.
CAPTURE_OUTCOMES = {
    "stored in BigQuery": "#2f9e44",
    "dead-lettered (accepted, awaiting replay)": "#f08c00",
    "rejected (invalid)": "#e03131",
    "not stored (503, client resends)": "#862e9c",
}
# A day's anonymous sessions by their device: one linked to a known user (it logged in, before
# or after) or one linked to no one. Each device is one or the other, so the kinds add up.
JOURNEY_KINDS = {
    "device logged in (linked to a user)": "#1c7ed6",
    "device linked to no one": "#adb5bd",
}
REORDER_COLOURS = dict(zip(REORDER_STATUSES, ("#adb5bd", "#f08c00", "#e03131"), strict=True))
PRODUCT_METRICS = {
    "views": "#a5d8ff",
    "clicks": "#4dabf7",
    "carts": "#1c7ed6",
    "orders": "#0b3d91",
}
WIDE = 860
# The rules' names take the rest of the width.
QUALITY_WIDTH = WIDE - 240
Chart = alt.Chart | alt.LayerChart


def config(chart: Chart) -> Chart:
    """The page's look: its font, quiet axes, no frame."""
    styled: Chart = (
        chart.configure(font=FONT, background="transparent")
        .configure_view(stroke=None)
        .configure_axis(
            labelColor=MUTED,
            titleColor=INK,
            titleFontWeight="normal",
            titleFontSize=12,
            labelFontSize=11,
            gridColor=GRID,
            domainColor="#9aa5b1",
            tickColor="#9aa5b1",
        )
        .configure_legend(
            labelColor=INK,
            titleColor=INK,
            labelFontSize=12,
            titleFontSize=12,
            orient="top",
            labelLimit=400,
        )
    )
    return styled


def _json(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """Rows as JSON values: dates as ISO strings."""
    return [
        {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()} for row in rows
    ]


def _day_x(period: Period, field: str = "day", width: int = WIDE) -> alt.X:
    # Ordinal days, every day of the period: a bar per day, the same slots in every chart.
    days = [day.isoformat() for day in period.days]
    # "Wed 02 Dec" needs about 70 pixels across; slanted when the days are narrower.
    slanted = width / len(days) < 72
    return alt.X(
        f"{field}:O",
        title="Day (UTC)",
        scale=alt.Scale(domain=days, paddingInner=0.2),
        axis=alt.Axis(
            labelExpr="utcFormat(toDate(datum.value), '%a %d %b')",
            labelAngle=-40 if slanted else 0,
            labelOverlap="parity",
        ),
    )


def _counts(title: str, top: float) -> dict[str, Any]:
    """A count axis and its scale: whole numbers only (no tick at 0.5 for a count of 1), and
    the scale rounded up to the last tick."""
    ticks = max(1, min(int(top), 6))
    return {
        "axis": alt.Axis(title=title, format=",d", tickMinStep=1, tickCount=ticks),
        "scale": alt.Scale(nice=ticks),
    }


def _daily_top(rows: Iterable[Row], day: str, value: str) -> float:
    totals: dict[object, float] = {}
    for row in rows:
        totals[row[day]] = totals.get(row[day], 0) + row[value]
    return max(totals.values(), default=1)


def searches(rows: list[Row], period: Period) -> Chart:
    chart: Chart = (
        alt.Chart(alt.InlineData(values=_json(rows)))
        .mark_bar()
        .encode(
            x=_day_x(period),
            y=alt.Y("sum(searches):Q", **_counts("Searches", _daily_top(rows, "day", "searches"))),
            color=alt.Color(
                "intent:N", title="Intent", scale=alt.Scale(scheme="tableau10"), sort="ascending"
            ),
            tooltip=[
                alt.Tooltip("day:N", title="Day"),
                alt.Tooltip("intent:N", title="Intent"),
                alt.Tooltip("searches:Q", title="Searches", format="d"),
            ],
        )
        .properties(width=WIDE, height=240)
    )
    return chart


def zero_results(rows: list[Row]) -> Chart:
    values = [
        {
            **row,
            "zero_result_rate": row["zero_result_searches"] / row["searches"],
            "note": f"{row['zero_result_searches']:,} of {row['searches']:,} searches "
            f"({row['zero_result_searches'] / row['searches']:.0%})",
        }
        for row in _json(rows)
    ]
    base = alt.Chart(alt.InlineData(values=values)).encode(
        # The query's order (most first): a sort by x would conflict across the two layers.
        y=alt.Y(
            "normalized_query:N",
            title="Normalized query",
            sort=[value["normalized_query"] for value in values],
        ),
        x=alt.X(
            "zero_result_searches:Q",
            **_counts(
                "Searches that found nothing",
                max((value["zero_result_searches"] for value in values), default=1),
            ),
        ),
        tooltip=[
            alt.Tooltip("normalized_query:N", title="Query"),
            alt.Tooltip("zero_result_searches:Q", title="With no results", format="d"),
            alt.Tooltip("searches:Q", title="Searches", format="d"),
            alt.Tooltip("zero_result_rate:Q", title="Share", format=".0%"),
        ],
    )
    bars = base.mark_bar(color="#e8590c", cornerRadiusEnd=3)
    labels = base.mark_text(align="left", dx=4, color=INK).encode(text="note:N")
    chart: Chart = (bars + labels).properties(width=WIDE - 300, height=32 * len(values))
    return chart


def funnel(rows: list[Row]) -> Chart:
    first = rows[0]["people"] if rows else 0
    values = []
    for index, row in enumerate(rows):
        previous = rows[index - 1]["people"] if index else 0
        note = f"{row['people']:,}"
        if previous:
            note += f" · {row['people'] / previous:.0%} of the step before"
        values.append({**row, "share": row["people"] / first if first else 0.0, "note": note})
    base = alt.Chart(alt.InlineData(values=values)).encode(
        y=alt.Y("label:N", title=None, sort=[value["label"] for value in values]),
        x=alt.X("people:Q", **_counts("People (a person counts once a day)", first or 1)),
        tooltip=[
            alt.Tooltip("label:N", title="Step"),
            alt.Tooltip("people:Q", title="People", format=","),
            alt.Tooltip("share:Q", title="Of those who searched", format=".0%"),
        ],
    )
    bars = base.mark_bar(color="#1c7ed6", cornerRadiusEnd=3)
    labels = base.mark_text(align="left", dx=4, color=INK).encode(text="note:N")
    chart: Chart = (bars + labels).properties(width=WIDE - 260, height=4 * 38)
    return chart


def journey_kinds(row: Row) -> dict[str, dict[str, int]]:
    """A day's anonymous sessions and their devices, split by JOURNEY_KINDS."""
    linked, unlinked = JOURNEY_KINDS
    return {
        linked: {"sessions": row["linked_sessions"], "devices": row["linked_devices"]},
        unlinked: {
            "sessions": row["anonymous_sessions"] - row["linked_sessions"],
            "devices": row["anonymous_devices"] - row["linked_devices"],
        },
    }


def journeys(rows: list[Row], period: Period) -> Chart:
    values = [
        {
            "day": row["day"],
            "kind": kind,
            "kind_order": list(JOURNEY_KINDS).index(kind),
            **counts,
            "anonymous_sessions": row["anonymous_sessions"],
        }
        for row in _json(rows)
        for kind, counts in journey_kinds(row).items()
    ]
    top = _daily_top(rows, "day", "anonymous_sessions")
    chart: Chart = (
        alt.Chart(alt.InlineData(values=values))
        .mark_bar()
        .encode(
            x=_day_x(period),
            y=alt.Y("sum(sessions):Q", **_counts("Sessions without a user id", top)),
            color=alt.Color(
                "kind:N",
                title=None,
                sort=list(JOURNEY_KINDS),
                scale=alt.Scale(domain=list(JOURNEY_KINDS), range=list(JOURNEY_KINDS.values())),
            ),
            order=alt.Order("kind_order:Q"),
            tooltip=[
                alt.Tooltip("day:N", title="Day"),
                alt.Tooltip("kind:N", title="Device"),
                alt.Tooltip("sessions:Q", title="Sessions", format=","),
                alt.Tooltip("devices:Q", title="Devices", format=","),
                alt.Tooltip(
                    "anonymous_sessions:Q", title="Anonymous sessions that day", format=","
                ),
            ],
        )
        .properties(width=WIDE, height=200)
    )
    return chart


def top_products(rows: list[Row]) -> Chart:
    values = [
        {"product_id": row["product_id"], "metric": metric, "count": row[metric], "rank": rank}
        for rank, row in enumerate(rows)
        for metric in PRODUCT_METRICS
    ]
    chart: Chart = (
        alt.Chart(alt.InlineData(values=values))
        .mark_bar(cornerRadiusEnd=2)
        .encode(
            y=alt.Y(
                "product_id:N",
                title="Product",
                sort=alt.EncodingSortField("rank", op="min", order="ascending"),
            ),
            yOffset=alt.YOffset("metric:N", sort=list(PRODUCT_METRICS)),
            x=alt.X(
                "count:Q",
                **_counts("Count, last 28 days", max((v["count"] for v in values), default=1)),
            ),
            color=alt.Color(
                "metric:N",
                title=None,
                sort=list(PRODUCT_METRICS),
                scale=alt.Scale(domain=list(PRODUCT_METRICS), range=list(PRODUCT_METRICS.values())),
            ),
            tooltip=[
                alt.Tooltip("product_id:N", title="Product"),
                alt.Tooltip("metric:N", title="Measure"),
                alt.Tooltip("count:Q", title="Count", format=","),
            ],
        )
        .properties(width=WIDE - 160, height=max(80, 52 * len(rows)))
    )
    return chart


def reorder(rows: list[Row], period: Period) -> Chart:
    chart: Chart = (
        alt.Chart(alt.InlineData(values=_json(rows)))
        .mark_bar()
        .encode(
            x=_day_x(period, "snapshot_date"),
            y=alt.Y(
                "sum(pairs):Q",
                **_counts("User–product pairs", _daily_top(rows, "snapshot_date", "pairs")),
            ),
            color=alt.Color(
                "status:N",
                title="Next order",
                sort=list(REORDER_COLOURS),
                scale=alt.Scale(domain=list(REORDER_COLOURS), range=list(REORDER_COLOURS.values())),
            ),
            order=alt.Order("status_order:Q"),
            tooltip=[
                alt.Tooltip("snapshot_date:N", title="Snapshot"),
                alt.Tooltip("status:N", title="Next order"),
                alt.Tooltip("pairs:Q", title="Pairs", format="d"),
            ],
        )
        .transform_calculate(status_order=f"indexof({list(REORDER_COLOURS)!r}, datum.status)")
        .properties(width=WIDE, height=200)
    )
    return chart


def _check(row: Row) -> str:
    field = f".{row['field']}" if row["field"] else ""
    return f"{row['rule']} · {row['family']}{field}"


def quality(rows: list[Row], period: Period) -> Chart:
    values = [
        {
            **row,
            "check": _check(row),
            "result": "nothing to measure"
            if row["value"] is None
            else ("passed" if row["passed"] else "failed"),
        }
        for row in _json(rows)
    ]
    checks = sorted({value["check"] for value in values})
    results = {"passed": PASSED, "failed": FAILED, "nothing to measure": UNMEASURED}
    chart: Chart = (
        alt.Chart(alt.InlineData(values=values))
        .mark_rect(stroke="white", strokeWidth=2, cornerRadius=3)
        .encode(
            x=_day_x(period, "check_date", QUALITY_WIDTH),
            y=alt.Y("check:N", title=None, sort=checks, axis=alt.Axis(labelLimit=340)),
            color=alt.Color(
                "result:N",
                title="Result",
                scale=alt.Scale(domain=list(results), range=list(results.values())),
            ),
            tooltip=[
                alt.Tooltip("check_date:N", title="Day"),
                alt.Tooltip("check:N", title="Rule"),
                alt.Tooltip("value:Q", title="Value", format=".3~f"),
                alt.Tooltip("threshold:Q", title="Threshold", format=".3~f"),
                alt.Tooltip("rows_checked:Q", title="Rows checked", format=","),
                alt.Tooltip("result:N", title="Result"),
            ],
        )
        .properties(width=QUALITY_WIDTH, height=max(60, 24 * len(checks)))
    )
    return chart


def capture_outcomes(row: Row) -> dict[str, int]:
    """A day's events received, split by where they ended up (the outcomes add up)."""
    labels = list(CAPTURE_OUTCOMES)
    return {
        labels[0]: row["accepted"] - row["dead_lettered"],
        labels[1]: row["dead_lettered"],
        labels[2]: row["rejected"],
        labels[3]: row["not_stored"],
    }


def capture(rows: list[Row], period: Period) -> Chart:
    values = [
        {
            "day": row["day"],
            "outcome": outcome,
            "outcome_order": list(CAPTURE_OUTCOMES).index(outcome),
            "events": events,
            "accepted": row["accepted"],
            "requests": row["requests"],
            "refused_requests": row["refused_requests"],
        }
        for row in _json(rows)
        for outcome, events in capture_outcomes(row).items()
    ]
    chart: Chart = (
        alt.Chart(alt.InlineData(values=values))
        .mark_bar()
        .encode(
            x=_day_x(period),
            y=alt.Y(
                "sum(events):Q",
                **_counts("Events received", _daily_top(rows, "day", "received")),
            ),
            color=alt.Color(
                "outcome:N",
                title=None,
                sort=list(CAPTURE_OUTCOMES),
                scale=alt.Scale(
                    domain=list(CAPTURE_OUTCOMES), range=list(CAPTURE_OUTCOMES.values())
                ),
                legend=alt.Legend(columns=2),
            ),
            order=alt.Order("outcome_order:Q"),
            tooltip=[
                alt.Tooltip("day:N", title="Day"),
                alt.Tooltip("outcome:N", title="Outcome"),
                alt.Tooltip("events:Q", title="Events", format=","),
                alt.Tooltip("accepted:Q", title="Accepted that day", format=","),
                alt.Tooltip("requests:Q", title="Requests that day", format=","),
                alt.Tooltip("refused_requests:Q", title="Refused whole", format=","),
            ],
        )
        .properties(width=WIDE, height=240)
    )
    return chart
