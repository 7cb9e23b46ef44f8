"""The alerts on forgetting users (``infra/forget.py``): a run failed, or requests stayed filed
for a day.

The first matches any entry of severity ERROR from the forget function's service: the traceback
of a run that raised (its requests stay filed for the next run), and Cloud Run's request entry of
its 5xx answer to the push. The second reads the run's own line (``forget_run``,
``forget_requests_left``) through a log-based metric: every hourly run for a day left requests
filed, so at least one user asked to be forgotten a day ago still is not.
"""

import pulumi
import pulumi_gcp as gcp

from infra.forget import FORGET_EVERY_MINUTES, SCHEDULE_NAME, TOPIC_NAME
from infra.function_source import FORGET
from infra.monitoring.log_metrics import (
    FORGET_RUNS_LEAVING_REQUESTS,
    log_service_filter,
    metric_type,
    monitoring_service_filter,
)
from infra.monitoring.warehouse_alerts import AUTO_CLOSE, LogAlertSpec, log_match_alerts

SERVICE = (FORGET.name,)
FORGET_FAILED = "forget-run-failed"
FORGET_PENDING = "forget-requests-pending"
POLICY_NAMES = (FORGET_FAILED, FORGET_PENDING)
RUN_NOW = f"`gcloud pubsub topics publish {TOPIC_NAME} --message=now`"
POLICIES = {
    FORGET_FAILED: LogAlertSpec(
        display_name="Privacy: a forget run failed",
        log_filter=f"{log_service_filter(SERVICE)} AND severity>=ERROR",
        documentation=(
            "A run of the forget function (the `forget` function, every "
            f"{FORGET_EVERY_MINUTES} minutes) failed; the log entry holds the error. The "
            "requests it took stay filed in the forget bucket (`requests/`), and the next run "
            "takes them again. If runs keep failing, fix the cause (BigQuery, Cloud Storage or "
            f"Redis unreachable, a grant missing, a malformed suppression list), then run it now: "
            f"{RUN_NOW}."
        ),
    )
}
# Each run's window: one hourly run in each; every window for the retest window below with a run
# that left requests is a request a day old. Cloud Monitoring takes a retest window of at most a
# day; 23 hours and the first window's hour make the day.
WINDOW = f"{FORGET_EVERY_MINUTES * 60}s"
PENDING_SECONDS = 23 * 3600
LEAVING = (
    f'metric.type="{metric_type(FORGET_RUNS_LEAVING_REQUESTS)}" '
    f"AND {monitoring_service_filter(SERVICE)}"
)


def forget_alerts(
    *,
    project: str,
    channels: list[gcp.monitoring.NotificationChannel],
    opts: pulumi.ResourceOptions,
) -> dict[str, gcp.monitoring.AlertPolicy]:
    policies = log_match_alerts(POLICIES, project=project, channels=channels, opts=opts)
    display_name = "Privacy: requests to forget a user pending for a day"
    policies[FORGET_PENDING] = gcp.monitoring.AlertPolicy(
        FORGET_PENDING,
        project=project,
        display_name=display_name,
        combiner="OR",
        severity="ERROR",
        conditions=[
            gcp.monitoring.AlertPolicyConditionArgs(
                display_name=display_name,
                condition_threshold=gcp.monitoring.AlertPolicyConditionConditionThresholdArgs(
                    filter=LEAVING,
                    aggregations=[
                        gcp.monitoring.AlertPolicyConditionConditionThresholdAggregationArgs(
                            alignment_period=WINDOW,
                            per_series_aligner="ALIGN_DELTA",
                            cross_series_reducer="REDUCE_SUM",
                            group_by_fields=["resource.label.service_name"],
                        )
                    ],
                    comparison="COMPARISON_GT",
                    threshold_value=0,
                    duration=f"{PENDING_SECONDS}s",
                    # An hour without a run line (a failed run alerts on its own) is no hour of
                    # requests left: the day starts again.
                    evaluation_missing_data="EVALUATION_MISSING_DATA_INACTIVE",
                ),
            )
        ],
        notification_channels=[channel.id for channel in channels],
        documentation=gcp.monitoring.AlertPolicyDocumentationArgs(
            content=(
                "Every run of the forget function for a day left requests filed: a user asked "
                "to be forgotten at least a day ago is still in a store. Read the newest "
                "receipts in the forget bucket (`receipts/<request id>/`): each names the store "
                "still pending. Rows in BigQuery's streaming buffer clear within 90 minutes; "
                "anything longer is an error in the function's log. Once fixed, the Cloud "
                f"Scheduler job `{SCHEDULE_NAME}` runs it every hour, or run it now: {RUN_NOW}."
            ),
            mime_type="text/markdown",
        ),
        alert_strategy=gcp.monitoring.AlertPolicyAlertStrategyArgs(auto_close=AUTO_CLOSE),
        opts=opts,
    )
    return policies
