"""Log-based metrics on the one-line-per-request log of every function that runs the capture
pipeline: the capture function, and the collector when it is deployed. Each metric means what it
meant for capture alone, summed over them; the ``service_name`` resource label tells them apart.

Field names come from ``event_capture.ingest.log_fields``, the contract the function's log line
is tested against, so a renamed field fails a test instead of silently flattening a chart.
"""

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from event_capture.collector.identity import Unproven
from event_capture.contracts import log_fields as log
from event_capture.contracts.log_fields import (
    FEATURES_MESSAGE,
    MATERIALIZE_MESSAGE,
    MATERIALIZE_OUTCOMES,
)
from infra.apis import after
from infra.function_source import (
    ARCHIVE_BACKFILL,
    CAPTURE,
    COLLECTOR,
    COST_GUARD,
    FEATURES,
    FORGET,
    MATERIALIZER,
)

LOG_METRIC_PREFIX = "logging.googleapis.com/user/"
# The message of each pipeline function's request line: the collector's line holds the
# capture pipeline's fields under the same names, and adds its own (ignored calls, route).
REQUEST_LINE_MESSAGES = {
    CAPTURE.name: log.CAPTURE_MESSAGE,
    COLLECTOR.name: log.COLLECTOR_MESSAGE,
}


@dataclass(frozen=True, kw_only=True)
class CountSpec:
    """A distribution of a per-request count: ``_sum`` is the total, ``_count`` the requests."""

    name: str
    field: str
    description: str
    unit: str = "1"


@dataclass(frozen=True, kw_only=True)
class SinkOutcomeSpec:
    """Requests by a sink's outcome (``ok``, ``partial``, ``failed``), as a ``status`` label."""

    name: str
    sink: str
    description: str


COUNTS = (
    CountSpec(
        name="capture_events_accepted",
        field=log.EVENTS_ACCEPTED,
        description="Events accepted per request.",
    ),
    CountSpec(
        name="capture_events_rejected",
        field=log.EVENTS_REJECTED,
        description="Events rejected per request.",
    ),
    CountSpec(
        name="capture_events_dead_lettered",
        field=log.EVENTS_DEAD_LETTERED,
        description="Events written to the dead-letter area per request.",
    ),
    CountSpec(
        name="capture_bigquery_failed_rows",
        field=log.BIGQUERY_FAILED_ROWS,
        description="Rows BigQuery did not take per request (then dead-lettered).",
    ),
    CountSpec(
        name="capture_events_not_archived",
        field=log.EVENTS_NOT_ARCHIVED,
        description="Accepted events the archive did not take, per request.",
    ),
    CountSpec(
        name="capture_archive_lines_dropped",
        field=log.ARCHIVE_LINES_DROPPED,
        description="Archive lines an instance dropped per request (too old to write, or past "
        "its buffer's cap while writes failed); the scheduled backfill writes them.",
    ),
    CountSpec(
        name="capture_latency",
        field=log.LATENCY_MS,
        description="Capture latency inside the function.",
        unit="ms",
    ),
)
SINK_OUTCOMES = tuple(
    SinkOutcomeSpec(
        name=f"capture_sink_{sink}",
        sink=sink,
        description=f"Requests by the {sink} sink's outcome.",
    )
    for sink in (log.SINK_BIGQUERY, log.SINK_DEAD_LETTER, log.SINK_GCS_ARCHIVE, log.SINK_REDIS)
)


@dataclass(frozen=True, kw_only=True)
class CircuitSpec:
    """Requests that found a backend's circuit open or probing, by ``state``."""

    name: str
    backend: str
    description: str


CIRCUITS = tuple(
    CircuitSpec(
        name=f"capture_circuit_{backend}",
        backend=backend,
        description=f"Requests that skipped or probed {backend} because its circuit was open.",
    )
    for backend in log.BACKENDS
)


@dataclass(frozen=True, kw_only=True)
class LogMetricsArgs:
    project: str
    # The Cloud Run services (a gen2 function runs as one of its name) whose request log lines
    # the metrics read: capture's, and the collector's.
    services: tuple[str, ...]
    # With the online features: their request and load lines get metrics of their own.
    online_features: bool = False
    # With the cost guard: its switches.
    cost_guard: bool = False
    # With the scheduled archive backfill: the lines each run wrote.
    archive_backfill: bool = False
    # With forgetting users: the runs that left requests for a later run.
    forget: bool = False


def metric_type(name: str) -> str:
    return f"{LOG_METRIC_PREFIX}{name}"


def _quoted(values: tuple[str, ...]) -> list[str]:
    return [f'"{value}"' for value in values]


def _any_of(values: tuple[str, ...]) -> str:
    """A Logging query value matching any of these (one alone: as deployed before the collector)."""
    quoted = _quoted(values)
    return quoted[0] if len(quoted) == 1 else f"({' OR '.join(quoted)})"


def log_service_filter(services: tuple[str, ...]) -> str:
    """Cloud Logging entries of these services."""
    return (
        f'resource.type="cloud_run_revision" AND resource.labels.service_name={_any_of(services)}'
    )


def monitoring_service_filter(services: tuple[str, ...]) -> str:
    """Cloud Monitoring time series of these services."""
    names = _quoted(services)
    value = names[0] if len(names) == 1 else f"one_of({', '.join(names)})"
    return f'resource.type="cloud_run_revision" AND resource.labels.service_name={value}'


def promql_service_selector(services: tuple[str, ...]) -> str:
    """The PromQL label selector of these services' series."""
    match = f'="{services[0]}"' if len(services) == 1 else f'=~"{"|".join(services)}"'
    return f'{{monitored_resource="cloud_run_revision",service_name{match}}}'


def capture_log_filter(services: tuple[str, ...]) -> str:
    """Log entries of the pipeline's request lines, from each of these services."""
    messages = tuple(dict.fromkeys(REQUEST_LINE_MESSAGES[service] for service in services))
    return f"{log_service_filter(services)} AND jsonPayload.message={_any_of(messages)}"


class LogMetrics(pulumi.ComponentResource):
    metrics: dict[str, gcp.logging.Metric]

    def __init__(
        self,
        name: str,
        args: LogMetricsArgs,
        *,
        apis: list[gcp.projects.Service],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("event-capture:monitoring:LogMetrics", name, None, opts)
        child = after(apis, self)
        project = args.project
        base = capture_log_filter(args.services)
        self.metrics = {}
        for count in COUNTS:
            self.metrics[count.name] = gcp.logging.Metric(
                count.name,
                project=project,
                name=count.name,
                description=count.description,
                filter=f"{base} AND jsonPayload.{count.field}>=0",
                value_extractor=f"EXTRACT(jsonPayload.{count.field})",
                metric_descriptor=gcp.logging.MetricMetricDescriptorArgs(
                    metric_kind="DELTA", value_type="DISTRIBUTION", unit=count.unit
                ),
                # 0, 1, 2, 4 ... 2^15: a batch is at most 500 events; latency up to ~30 s.
                bucket_options=gcp.logging.MetricBucketOptionsArgs(
                    exponential_buckets=gcp.logging.MetricBucketOptionsExponentialBucketsArgs(
                        num_finite_buckets=16, growth_factor=2, scale=1
                    )
                ),
                opts=child,
            )
        for outcome in SINK_OUTCOMES:
            self.metrics[outcome.name] = _labelled_count(
                outcome.name,
                project=project,
                description=outcome.description,
                base_filter=base,
                field=f"jsonPayload.{log.SINKS}.{outcome.sink}.status",
                label="status",
                values=("ok", "partial", "failed"),
                label_description="ok, partial or failed",
                opts=child,
            )
        for circuit in CIRCUITS:
            self.metrics[circuit.name] = _labelled_count(
                circuit.name,
                project=project,
                description=circuit.description,
                base_filter=base,
                field=f"jsonPayload.{log.CIRCUITS}.{circuit.backend}",
                label="state",
                values=("open", "half_open"),
                label_description="open or half_open",
                opts=child,
            )
        # BigQuery's own quota metrics reach Monitoring hours late; the insert answers do not.
        self.metrics[QUOTA_EXCEEDED] = gcp.logging.Metric(
            QUOTA_EXCEEDED,
            project=project,
            name=QUOTA_EXCEEDED,
            description="Requests whose BigQuery inserts were refused with quotaExceeded.",
            filter=f"{base} AND jsonPayload.{log.BIGQUERY_ERROR_REASONS}.quotaExceeded>0",
            metric_descriptor=gcp.logging.MetricMetricDescriptorArgs(
                metric_kind="DELTA", value_type="INT64", unit="1"
            ),
            opts=child,
        )
        if args.cost_guard:
            self.metrics[GUARD_SWITCHES] = _labelled_count(
                GUARD_SWITCHES,
                project=project,
                description="Cost guard switches of capture, by action (trip, resume).",
                base_filter=(
                    f"{log_service_filter((COST_GUARD.name,))} "
                    f'AND jsonPayload.message="{log.GUARD_MESSAGE}"'
                ),
                field=f"jsonPayload.{log.ACTION}",
                label=log.ACTION,
                values=log.SWITCHING_ACTIONS,
                label_description=", ".join(log.SWITCHING_ACTIONS),
                opts=child,
            )
        if args.archive_backfill:
            # What instances lost (killed before their write, or dropped) and the backfill
            # found: a steady rise is instances dying, not one run's outage.
            self.metrics[ARCHIVE_LINES_BACKFILLED] = gcp.logging.Metric(
                ARCHIVE_LINES_BACKFILLED,
                project=project,
                name=ARCHIVE_LINES_BACKFILLED,
                description="Archive lines the scheduled backfill wrote, per run.",
                filter=(
                    f"{log_service_filter((ARCHIVE_BACKFILL.name,))} "
                    f'AND jsonPayload.message="{log.BACKFILL_MESSAGE}" '
                    f"AND jsonPayload.{log.BACKFILL_WRITTEN}>=0"
                ),
                value_extractor=f"EXTRACT(jsonPayload.{log.BACKFILL_WRITTEN})",
                metric_descriptor=gcp.logging.MetricMetricDescriptorArgs(
                    metric_kind="DELTA", value_type="DISTRIBUTION", unit="1"
                ),
                # 0, 1, 2, 4 ... 2^19: a run covers hours of events.
                bucket_options=gcp.logging.MetricBucketOptionsArgs(
                    exponential_buckets=gcp.logging.MetricBucketOptionsExponentialBucketsArgs(
                        num_finite_buckets=20, growth_factor=2, scale=1
                    )
                ),
                opts=child,
            )
        if args.forget:
            # A request stays filed while the user's rows sit in BigQuery's streaming buffer;
            # a run after run that leaves requests is one that cannot finish them.
            self.metrics[FORGET_RUNS_LEAVING_REQUESTS] = gcp.logging.Metric(
                FORGET_RUNS_LEAVING_REQUESTS,
                project=project,
                name=FORGET_RUNS_LEAVING_REQUESTS,
                description="Forget runs that left requests filed for a later run.",
                filter=(
                    f"{log_service_filter((FORGET.name,))} "
                    f'AND jsonPayload.message="{log.FORGET_MESSAGE}" '
                    f"AND jsonPayload.{log.FORGET_LEFT}>0"
                ),
                metric_descriptor=gcp.logging.MetricMetricDescriptorArgs(
                    metric_kind="DELTA", value_type="INT64", unit="1"
                ),
                opts=child,
            )
        if COLLECTOR.name in args.services:
            self.metrics[EDGE_REFUSALS] = _labelled_count(
                EDGE_REFUSALS,
                project=project,
                description="Collector requests refused by its limits (429) or dropped as a "
                "known crawler, by rule.",
                base_filter=(
                    f"{log_service_filter((COLLECTOR.name,))} "
                    f'AND jsonPayload.message="{log.COLLECTOR_MESSAGE}"'
                ),
                field=f"jsonPayload.{log.RULE}",
                label=log.RULE,
                values=log.EDGE_RULES,
                label_description=", ".join(log.EDGE_RULES),
                opts=child,
            )
        if COLLECTOR.name in args.services:
            self.metrics[MOSTLY_REJECTED] = _collector_count_by_key(
                MOSTLY_REJECTED,
                project,
                "Collector requests answered 200 that rejected at least as many calls as they "
                "accepted, by write key id.",
                f"jsonPayload.{log.MOSTLY_REJECTED}=true",
                "the write key's id (empty for the ElevenLabs route)",
                child,
            )
            for reason in Unproven:
                name = unproven_metric(reason)
                self.metrics[name] = _collector_count_by_key(
                    name,
                    project,
                    f"Collector requests with calls from client keys whose user id was not kept "
                    f"({reason}), by write key id; the line counts the calls.",
                    f"jsonPayload.{log.USER_IDS_UNPROVEN}.{reason}>0",
                    "the client write key's id",
                    child,
                )
        if args.online_features:
            self.metrics.update(_online_feature_metrics(project, child))
        self.register_outputs({"metrics": list(self.metrics)})


QUOTA_EXCEEDED = "capture_bigquery_quota_exceeded"
GUARD_SWITCHES = "cost_guard_switches"
ARCHIVE_LINES_BACKFILLED = "archive_lines_backfilled"
FORGET_RUNS_LEAVING_REQUESTS = "forget_runs_leaving_requests"
EDGE_REFUSALS = "collector_edge_refusals"
MOSTLY_REJECTED = "collector_batches_mostly_rejected"
FEATURES_LATENCY = "features_latency"


def unproven_metric(reason: Unproven) -> str:
    """The metric of one reason a user id was not kept. One per reason, not one labelled by it:
    the line counts reasons as the keys of one object, and a label extractor reads a value.
    Requests are counted, not calls: a counter needs no distribution to alert on."""
    return f"collector_{log.USER_IDS_UNPROVEN}_{reason}"


FEATURES_UNAVAILABLE = "features_unavailable"
MATERIALIZER_RUNS = "materializer_runs"


def _online_feature_metrics(
    project: str, opts: pulumi.ResourceOptions
) -> dict[str, gcp.logging.Metric]:
    """The features function's latency and its 503s (Redis down or hung), and the
    materializer's runs by outcome (loaded, unchanged, no_snapshot, skipped, refused)."""
    features = (
        f'{log_service_filter((FEATURES.name,))} AND jsonPayload.message="{FEATURES_MESSAGE}"'
    )
    materializer = (
        f"{log_service_filter((MATERIALIZER.name,))} "
        f'AND jsonPayload.message="{MATERIALIZE_MESSAGE}"'
    )
    return {
        FEATURES_LATENCY: gcp.logging.Metric(
            FEATURES_LATENCY,
            project=project,
            name=FEATURES_LATENCY,
            description="Features answers' latency inside the function.",
            filter=f"{features} AND jsonPayload.latency_ms>=0",
            value_extractor="EXTRACT(jsonPayload.latency_ms)",
            metric_descriptor=gcp.logging.MetricMetricDescriptorArgs(
                metric_kind="DELTA", value_type="DISTRIBUTION", unit="ms"
            ),
            # 0.01 ms to about 80 ms: answers take a fraction of a millisecond.
            bucket_options=gcp.logging.MetricBucketOptionsArgs(
                exponential_buckets=gcp.logging.MetricBucketOptionsExponentialBucketsArgs(
                    num_finite_buckets=14, growth_factor=2, scale=0.01
                )
            ),
            opts=opts,
        ),
        FEATURES_UNAVAILABLE: gcp.logging.Metric(
            FEATURES_UNAVAILABLE,
            project=project,
            name=FEATURES_UNAVAILABLE,
            description="Features answers that were 503 (Redis down or hung).",
            filter=f"{features} AND jsonPayload.http_status=503",
            metric_descriptor=gcp.logging.MetricMetricDescriptorArgs(
                metric_kind="DELTA", value_type="INT64", unit="1"
            ),
            opts=opts,
        ),
        MATERIALIZER_RUNS: _labelled_count(
            MATERIALIZER_RUNS,
            project=project,
            description="Materializer runs by outcome.",
            base_filter=materializer,
            field="jsonPayload.outcome",
            label="outcome",
            values=MATERIALIZE_OUTCOMES,
            label_description=", ".join(MATERIALIZE_OUTCOMES),
            opts=opts,
        ),
    }


def _labelled_count(
    name: str,
    *,
    project: str,
    description: str,
    base_filter: str,
    field: str,
    label: str,
    values: tuple[str, ...] | None,
    label_description: str,
    opts: pulumi.ResourceOptions,
) -> gcp.logging.Metric:
    """Requests whose log line has one of ``values`` at ``field`` (None: any line of
    ``base_filter``), by that value as ``label``."""
    if values is not None:
        base_filter += f" AND {field}=({' OR '.join(f'"{v}"' for v in values)})"
    return gcp.logging.Metric(
        name,
        project=project,
        name=name,
        description=description,
        filter=base_filter,
        label_extractors={label: f"EXTRACT({field})"},
        metric_descriptor=gcp.logging.MetricMetricDescriptorArgs(
            metric_kind="DELTA",
            value_type="INT64",
            unit="1",
            labels=[
                gcp.logging.MetricMetricDescriptorLabelArgs(
                    key=label, value_type="STRING", description=label_description
                )
            ],
        ),
        opts=opts,
    )


def _collector_count_by_key(
    name: str,
    project: str,
    description: str,
    condition: str,
    label_description: str,
    opts: pulumi.ResourceOptions,
) -> gcp.logging.Metric:
    """Collector request lines that meet ``condition``, counted by write key id."""
    return _labelled_count(
        name,
        project=project,
        description=description,
        base_filter=(
            f"{log_service_filter((COLLECTOR.name,))} "
            f'AND jsonPayload.message="{log.COLLECTOR_MESSAGE}" AND {condition}'
        ),
        field=f"jsonPayload.{log.KEY_ID}",
        label=log.KEY_ID,
        values=None,
        label_description=label_description,
        opts=opts,
    )
