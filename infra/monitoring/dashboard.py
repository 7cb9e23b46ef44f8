"""The Cloud Monitoring dashboard: capture rate, rejections, sink failures, circuits, latency.

Every chart sums the functions that run the capture pipeline (capture, and the collector when
deployed); with the collector, one more chart splits the accepted events by function.
"""

import json
from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.monitoring.log_metrics import (
    CIRCUITS,
    SINK_OUTCOMES,
    metric_type,
    monitoring_service_filter,
    promql_service_selector,
)

ROW_HEIGHT = 4
HALF_WIDTH = 6


def _events_per_minute(
    metric: str, *, services: tuple[str, ...], by_service: bool = False
) -> dict[str, Any]:
    # A log-based distribution's _sum is the total of the field over all requests.
    prom = metric_type(metric).replace(".", "_").replace("/user/", ":user_")
    selector = promql_service_selector(services)
    total = "sum by (service_name)" if by_service else "sum"
    return {
        "plotType": "LINE",
        "legendTemplate": "{{service_name}}"
        if by_service
        else metric.removeprefix("capture_events_"),
        "timeSeriesQuery": {"prometheusQuery": f"60 * {total}(rate({prom}_sum{selector}[5m]))"},
    }


def _filter_series(
    filter_: str, *, aligner: str, reducer: str, group_by: list[str] | None = None, legend: str = ""
) -> dict[str, Any]:
    return {
        "plotType": "LINE",
        "legendTemplate": legend,
        "timeSeriesQuery": {
            "timeSeriesFilter": {
                "filter": filter_,
                "aggregation": {
                    "alignmentPeriod": "60s",
                    "perSeriesAligner": aligner,
                    "crossSeriesReducer": reducer,
                    "groupByFields": group_by or [],
                },
            }
        },
    }


def _chart(title: str, data_sets: list[dict[str, Any]], *, y_label: str) -> dict[str, Any]:
    return {
        "title": title,
        "xyChart": {"dataSets": data_sets, "yAxis": {"label": y_label, "scale": "LINEAR"}},
    }


def dashboard_layout(services: tuple[str, ...]) -> dict[str, Any]:
    revision = monitoring_service_filter(services)
    several = len(services) > 1
    charts = [
        _chart(
            "Events per minute: accepted, rejected, dead-lettered",
            [
                _events_per_minute(name, services=services)
                for name in (
                    "capture_events_accepted",
                    "capture_events_rejected",
                    "capture_events_dead_lettered",
                )
            ],
            y_label="events/min",
        ),
        _chart(
            "Requests with a failed or partial sink, per sink",
            [
                _filter_series(
                    f'metric.type="{metric_type(o.name)}" AND {revision} '
                    'AND metric.label.status=one_of("partial", "failed")',
                    aligner="ALIGN_RATE",
                    reducer="REDUCE_SUM",
                    legend=o.sink,
                )
                for o in SINK_OUTCOMES
            ],
            y_label="requests/s",
        ),
        _chart(
            "Capture latency in the function (p50, p99)",
            [
                _filter_series(
                    f'metric.type="{metric_type("capture_latency")}" AND {revision}',
                    aligner="ALIGN_DELTA",
                    reducer=reducer,
                    legend=reducer.removeprefix("REDUCE_PERCENTILE_").join(("p", "")),
                )
                for reducer in ("REDUCE_PERCENTILE_50", "REDUCE_PERCENTILE_99")
            ],
            y_label="ms",
        ),
        _chart(
            "Requests that found a circuit open, per backend",
            [
                _filter_series(
                    f'metric.type="{metric_type(c.name)}" AND {revision}',
                    aligner="ALIGN_RATE",
                    reducer="REDUCE_SUM",
                    legend=c.backend,
                )
                for c in CIRCUITS
            ],
            y_label="requests/s",
        ),
        _chart(
            "Accepted events not archived (backfill with tools/backfill_archive.py)",
            [_events_per_minute("capture_events_not_archived", services=services)],
            y_label="events/min",
        ),
        _chart(
            "HTTP responses by class",
            [
                _filter_series(
                    f'metric.type="run.googleapis.com/request_count" AND {revision}',
                    aligner="ALIGN_RATE",
                    reducer="REDUCE_SUM",
                    group_by=[
                        "metric.label.response_code_class",
                        *(["resource.label.service_name"] if several else []),
                    ],
                )
            ],
            y_label="requests/s",
        ),
    ]
    if several:
        charts.insert(
            1,
            _chart(
                "Events accepted per minute, per function",
                [_events_per_minute("capture_events_accepted", services=services, by_service=True)],
                y_label="events/min",
            ),
        )
    tiles = [
        {
            "xPos": (i % 2) * HALF_WIDTH,
            "yPos": (i // 2) * ROW_HEIGHT,
            "width": HALF_WIDTH,
            "height": ROW_HEIGHT,
            "widget": chart,
        }
        for i, chart in enumerate(charts)
    ]
    return {"displayName": "Event capture", "mosaicLayout": {"columns": 12, "tiles": tiles}}


def capture_dashboard(
    *,
    project: str,
    services: tuple[str, ...],
    metrics: list[gcp.logging.Metric],
    opts: pulumi.ResourceOptions,
) -> gcp.monitoring.Dashboard:
    """The dashboard of ``services``; its charts read ``metrics``, which must exist first."""
    return gcp.monitoring.Dashboard(
        "capture-dashboard",
        project=project,
        dashboard_json=json.dumps(dashboard_layout(services)),
        opts=opts.merge(pulumi.ResourceOptions(depends_on=list(metrics))),
    )
