"""The capture functions' request log lines, routed into BigQuery for the analytics report.

A Cloud Logging sink with the log-based metrics' filter writes every request line of capture
(and the collector) into the dataset ``capture_logs``, where Logging names the table after the
log and partitions it by day (``event_capture.report.capture_log`` describes the table the
report reads). The lines hold counts, statuses and rules, never an event's content or a user
id, so the dataset keeps them as long as the data-quality results.

| who | what | where |
| --- | --- | --- |
| the sink's writer identity (Google-managed) | write tables | the ``capture_logs`` dataset only |

Logging streams the lines into BigQuery, billed as streaming inserts (one row per request).
"""

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from event_capture.report import capture_log
from event_capture.warehouse.catalog import DATA_QUALITY_DAYS
from infra.apis import after
from infra.monitoring.log_metrics import capture_log_filter
from infra.scheduled_queries import DATA_EDITOR

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True, kw_only=True)
class CaptureLogSinkArgs:
    project: str
    location: str
    # The Cloud Run services whose request lines are routed: capture's, and the collector's.
    services: tuple[str, ...]
    deletion_protection: bool
    labels: dict[str, str]


class CaptureLogSink(pulumi.ComponentResource):
    dataset: gcp.bigquery.Dataset
    sink: gcp.logging.ProjectSink

    def __init__(
        self,
        name: str,
        args: CaptureLogSinkArgs,
        *,
        apis: list[gcp.projects.Service],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("event-capture:monitoring:CaptureLogSink", name, None, opts)
        child = after(apis, self)
        self.dataset = gcp.bigquery.Dataset(
            "capture-logs",
            project=args.project,
            dataset_id=capture_log.DATASET,
            location=args.location,
            description="The capture functions' request log lines (counts, no event content).",
            default_partition_expiration_ms=DATA_QUALITY_DAYS * DAY_MS,
            labels={**args.labels, "personal-data": "none"},
            delete_contents_on_destroy=not args.deletion_protection,
            opts=child,
        )
        self.sink = gcp.logging.ProjectSink(
            "capture-request-log",
            project=args.project,
            name="capture-request-log",
            destination=self.dataset.dataset_id.apply(
                lambda dataset: (
                    f"bigquery.googleapis.com/projects/{args.project}/datasets/{dataset}"
                )
            ),
            filter=capture_log_filter(args.services),
            unique_writer_identity=True,
            # One table partitioned by day on `timestamp`, not a table per day.
            bigquery_options=gcp.logging.ProjectSinkBigqueryOptionsArgs(
                use_partitioned_tables=True
            ),
            opts=child,
        )
        gcp.bigquery.DatasetIamMember(
            "log-sink-writes-capture-logs",
            project=args.project,
            dataset_id=self.dataset.dataset_id,
            role=DATA_EDITOR,
            member=self.sink.writer_identity,
            opts=child,
        )
        self.register_outputs({"dataset": self.dataset.dataset_id})
