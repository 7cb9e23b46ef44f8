"""Alert policies: BigQuery streaming inserts failing, dead letters accumulating, 5xx answers.

Each is a ratio or a count over a window, e-mailed to every ``alertEmails`` address, with the
first thing to do written into the alert itself. Each is judged per function that runs the
capture pipeline (capture, and the collector when deployed), so one function's trouble is not
diluted by the other's traffic; the incident names the function (``service_name``).
"""

from dataclasses import dataclass
from typing import TypedDict

import pulumi
import pulumi_gcp as gcp

from infra.monitoring.log_metrics import metric_type, monitoring_service_filter

WINDOW = "300s"
INSERT_FAILURE_RATIO = 0.01  # below 99 % of requests fully inserted
SERVER_ERROR_RATIO = 0.05  # 503 is the deliberate answer when no durable sink is reachable


@dataclass(frozen=True, kw_only=True)
class AlertSpec:
    name: str
    display_name: str
    severity: str
    documentation: str
    condition: gcp.monitoring.AlertPolicyConditionConditionThresholdArgs


class _WindowSum(TypedDict):
    alignment_period: str
    per_series_aligner: str
    cross_series_reducer: str
    group_by_fields: list[str]


# Numerator and denominator of a ratio are summed over the same window, per function.
SUM_OVER_WINDOW: _WindowSum = {
    "alignment_period": WINDOW,
    "per_series_aligner": "ALIGN_DELTA",
    "cross_series_reducer": "REDUCE_SUM",
    "group_by_fields": ["resource.label.service_name"],
}


def _ratio(
    *, numerator: str, denominator: str, above: float
) -> gcp.monitoring.AlertPolicyConditionConditionThresholdArgs:
    return gcp.monitoring.AlertPolicyConditionConditionThresholdArgs(
        filter=numerator,
        aggregations=[
            gcp.monitoring.AlertPolicyConditionConditionThresholdAggregationArgs(**SUM_OVER_WINDOW)
        ],
        denominator_filter=denominator,
        denominator_aggregations=[
            gcp.monitoring.AlertPolicyConditionConditionThresholdDenominatorAggregationArgs(
                **SUM_OVER_WINDOW
            )
        ],
        comparison="COMPARISON_GT",
        threshold_value=above,
        duration="0s",
        # No traffic is not an incident for a capture endpoint.
        evaluation_missing_data="EVALUATION_MISSING_DATA_INACTIVE",
    )


def alert_specs(services: tuple[str, ...]) -> list[AlertSpec]:
    revision = monitoring_service_filter(services)
    bigquery = f'metric.type="{metric_type("capture_sink_bigquery")}" AND {revision}'
    dead_letter = f'metric.type="{metric_type("capture_sink_dead_letter")}" AND {revision}'
    requests = f'metric.type="run.googleapis.com/request_count" AND {revision}'
    return [
        AlertSpec(
            name="bigquery-insert-failures",
            display_name="Event capture: BigQuery streaming-insert success rate below 99 %",
            severity="ERROR",
            documentation=(
                "More than 1 % of a function's requests (the incident names it) could not stream "
                "every row into BigQuery. "
                "The rows are in the dead-letter bucket; nothing is lost. Check BigQuery's status "
                "and the function's log (`jsonPayload.sinks.bigquery.error`), then run "
                "`make replay` once inserts succeed again."
            ),
            condition=_ratio(
                numerator=f'{bigquery} AND metric.label.status=one_of("partial", "failed")',
                denominator=bigquery,
                above=INSERT_FAILURE_RATIO,
            ),
        ),
        AlertSpec(
            name="dead-letters-growing",
            display_name="Event capture: dead letters accumulating",
            severity="WARNING",
            documentation=(
                "Rows were written to the dead-letter bucket in the last 5 minutes. They are safe "
                "but not yet in BigQuery, and dead letters older than 90 days are deleted. Run "
                "`make replay` with an operator identity once BigQuery accepts rows again."
            ),
            condition=gcp.monitoring.AlertPolicyConditionConditionThresholdArgs(
                filter=dead_letter,
                aggregations=[
                    gcp.monitoring.AlertPolicyConditionConditionThresholdAggregationArgs(
                        **SUM_OVER_WINDOW
                    )
                ],
                comparison="COMPARISON_GT",
                threshold_value=0,
                duration="0s",
                evaluation_missing_data="EVALUATION_MISSING_DATA_INACTIVE",
            ),
        ),
        AlertSpec(
            name="function-5xx",
            display_name="Event capture: more than 5 % of requests answered 5xx",
            severity="ERROR",
            documentation=(
                "The function the incident names (capture or the collector) answered 5xx to over "
                "5 % of its requests. 503 means neither "
                "BigQuery nor the dead-letter bucket took the events (the app retries them); other "
                "codes mean the function failed. Read the function's ERROR log lines."
            ),
            condition=_ratio(
                numerator=f'{requests} AND metric.label.response_code_class="5xx"',
                denominator=requests,
                above=SERVER_ERROR_RATIO,
            ),
        ),
    ]


@dataclass(frozen=True, kw_only=True)
class AlertPoliciesArgs:
    project: str
    # The Cloud Run services of the functions that run the capture pipeline.
    services: tuple[str, ...]
    channels: list[gcp.monitoring.NotificationChannel]
    # The log-based metrics the policies read; they must exist before a policy can refer to them.
    metrics: list[gcp.logging.Metric]
    # Policies beyond the pipeline's own (quota_alerts.py).
    extra: tuple[AlertSpec, ...] = ()


class AlertPolicies(pulumi.ComponentResource):
    policies: dict[str, gcp.monitoring.AlertPolicy]

    def __init__(
        self,
        name: str,
        args: AlertPoliciesArgs,
        *,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("event-capture:monitoring:AlertPolicies", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.metrics))
        self.policies = {
            spec.name: gcp.monitoring.AlertPolicy(
                spec.name,
                project=args.project,
                display_name=spec.display_name,
                combiner="OR",
                severity=spec.severity,
                conditions=[
                    gcp.monitoring.AlertPolicyConditionArgs(
                        display_name=spec.display_name, condition_threshold=spec.condition
                    )
                ],
                notification_channels=[channel.id for channel in args.channels],
                documentation=gcp.monitoring.AlertPolicyDocumentationArgs(
                    content=spec.documentation, mime_type="text/markdown"
                ),
                alert_strategy=gcp.monitoring.AlertPolicyAlertStrategyArgs(auto_close="1800s"),
                opts=child,
            )
            for spec in [*alert_specs(args.services), *args.extra]
        }
        self.register_outputs({"policies": list(self.policies)})
