"""The alerts on the scheduled archive backfill (``infra/archive_backfill.py``): a run failed, or
no run succeeded for a while.

The first matches any entry of severity ERROR from the backfill's service: the traceback of a
run that raised, and Cloud Run's request entry of its 5xx answer to the push. The second watches
Cloud Run's own count of the service's 2xx answers, so it catches what writes no entry at all: a
paused or deleted schedule, a broken trigger. Neither needs a field of the backfill's own log
line, so they hold whatever that line reports.
"""

import pulumi
import pulumi_gcp as gcp

from event_capture.contracts.archive_layout import BACKFILL_EVERY_MINUTES, BACKFILL_LOOKBACK_HOURS
from infra.archive_backfill import SCHEDULE_NAME
from infra.function_source import ARCHIVE_BACKFILL
from infra.monitoring.log_metrics import log_service_filter, monitoring_service_filter
from infra.monitoring.warehouse_alerts import AUTO_CLOSE, LogAlertSpec, log_match_alerts

SERVICE = (ARCHIVE_BACKFILL.name,)
BACKFILL_FAILED = "archive-backfill-failed"
BACKFILL_NOT_RUNNING = "archive-backfill-not-running"
POLICY_NAMES = (BACKFILL_FAILED, BACKFILL_NOT_RUNNING)
POLICIES = {
    BACKFILL_FAILED: LogAlertSpec(
        display_name="Archive: a scheduled backfill run failed",
        log_filter=f"{log_service_filter(SERVICE)} AND severity>=ERROR",
        documentation=(
            "A run of the archive backfill (the `archive-backfill` function, every "
            f"{BACKFILL_EVERY_MINUTES} minutes) failed; the log entry holds the error. Each run "
            f"looks {BACKFILL_LOOKBACK_HOURS} hours back, so the runs after it cover its hours "
            "again and one failed run loses nothing. If runs keep failing, fix the cause (BigQuery "
            "or Cloud Storage unreachable, a grant missing), then run `make backfill-archive "
            "FROM=.. TO=..` over the hours since the last run that succeeded."
        ),
    )
}
# No successful run for as long as the lookback: the hours before it are no run's any more. At
# most 23.5 h (Cloud Monitoring's metric-absence conditions), and only once a first run has
# succeeded after the policy was made.
NOT_RUNNING_SECONDS = min(BACKFILL_LOOKBACK_HOURS * 3600, 23 * 3600)
SUCCEEDED = (
    f'metric.type="run.googleapis.com/request_count" AND {monitoring_service_filter(SERVICE)} '
    'AND metric.label.response_code_class="2xx"'
)


def backfill_alerts(
    *,
    project: str,
    channels: list[gcp.monitoring.NotificationChannel],
    opts: pulumi.ResourceOptions,
) -> dict[str, gcp.monitoring.AlertPolicy]:
    policies = log_match_alerts(POLICIES, project=project, channels=channels, opts=opts)
    display_name = "Archive: no scheduled backfill run succeeded"
    policies[BACKFILL_NOT_RUNNING] = gcp.monitoring.AlertPolicy(
        BACKFILL_NOT_RUNNING,
        project=project,
        display_name=display_name,
        combiner="OR",
        severity="ERROR",
        conditions=[
            gcp.monitoring.AlertPolicyConditionArgs(
                display_name=display_name,
                condition_absent=gcp.monitoring.AlertPolicyConditionConditionAbsentArgs(
                    filter=SUCCEEDED,
                    duration=f"{NOT_RUNNING_SECONDS}s",
                    # One series for the service: a new revision's series replaces the old one's
                    # instead of leaving it absent.
                    aggregations=[
                        gcp.monitoring.AlertPolicyConditionConditionAbsentAggregationArgs(
                            alignment_period="300s",
                            per_series_aligner="ALIGN_DELTA",
                            cross_series_reducer="REDUCE_SUM",
                            group_by_fields=["resource.label.service_name"],
                        )
                    ],
                ),
            )
        ],
        notification_channels=[channel.id for channel in channels],
        documentation=gcp.monitoring.AlertPolicyDocumentationArgs(
            content=(
                f"The archive backfill has not answered a run with success for "
                f"{NOT_RUNNING_SECONDS // 3600} hours: the hours before that are no later run's. "
                f"Check that the Cloud Scheduler job `{SCHEDULE_NAME}` is enabled and ran, and "
                "the function's log; then run `make backfill-archive FROM=.. TO=..` "
                "over the hours since the last run that succeeded."
            ),
            mime_type="text/markdown",
        ),
        alert_strategy=gcp.monitoring.AlertPolicyAlertStrategyArgs(auto_close=AUTO_CLOSE),
        opts=opts,
    )
    return policies
