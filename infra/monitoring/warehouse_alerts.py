"""Alerts for the warehouse's scheduled queries, from the Data Transfer Service's run logs.

A failed rule makes the data-quality run fail with ``data_quality_failed: <rule> <family>...``
(``warehouse/sql/data_quality_alert.sql``); the service logs that error at severity ERROR, which
is what the first policy matches. The second catches any other failed scheduled query, whose
tables would otherwise silently stop getting new days.
"""

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from event_capture.warehouse.catalog import QUALITY_FAILED

TRANSFER_ERRORS = 'resource.type="bigquery_dts_config" AND severity>=ERROR'
# A log-match alert notifies at most once per period, and closes itself after a quiet day.
RATE_LIMIT = "3600s"
AUTO_CLOSE = "86400s"


@dataclass(frozen=True, kw_only=True)
class LogAlertSpec:
    display_name: str
    log_filter: str
    documentation: str


POLICIES = {
    "data-quality-failed": LogAlertSpec(
        display_name="Warehouse: a data-quality rule failed",
        log_filter=f'{TRANSFER_ERRORS} AND "{QUALITY_FAILED}"',
        documentation=(
            "The daily data-quality run found a rule over its threshold; the log entry names "
            "each failed rule. The day's figures are in the `data_quality` table of the "
            "analytics dataset (`value`, `threshold`, `rows_checked`)."
        ),
    ),
    "scheduled-query-failed": LogAlertSpec(
        display_name="Warehouse: a scheduled query failed",
        log_filter=f'{TRANSFER_ERRORS} AND NOT "{QUALITY_FAILED}"',
        documentation=(
            "A warehouse scheduled query failed, so its table has no partition for that day. The "
            "log entry holds BigQuery's error; re-run the day from BigQuery's Scheduled queries "
            "page once fixed (each run replaces its day, so a re-run is safe)."
        ),
    ),
}


def warehouse_alerts(
    *,
    project: str,
    channels: list[gcp.monitoring.NotificationChannel],
    opts: pulumi.ResourceOptions,
) -> dict[str, gcp.monitoring.AlertPolicy]:
    return log_match_alerts(POLICIES, project=project, channels=channels, opts=opts)


def log_match_alerts(
    policies: dict[str, LogAlertSpec],
    *,
    project: str,
    channels: list[gcp.monitoring.NotificationChannel],
    opts: pulumi.ResourceOptions,
) -> dict[str, gcp.monitoring.AlertPolicy]:
    """One policy per spec, alerting on the first log entry its filter matches."""
    return {
        name: gcp.monitoring.AlertPolicy(
            name,
            project=project,
            display_name=spec.display_name,
            combiner="OR",
            severity="ERROR",
            conditions=[
                gcp.monitoring.AlertPolicyConditionArgs(
                    display_name=spec.display_name,
                    condition_matched_log=gcp.monitoring.AlertPolicyConditionConditionMatchedLogArgs(
                        filter=spec.log_filter
                    ),
                )
            ],
            notification_channels=[channel.id for channel in channels],
            documentation=gcp.monitoring.AlertPolicyDocumentationArgs(
                content=spec.documentation, mime_type="text/markdown"
            ),
            alert_strategy=gcp.monitoring.AlertPolicyAlertStrategyArgs(
                notification_rate_limit=gcp.monitoring.AlertPolicyAlertStrategyNotificationRateLimitArgs(
                    period=RATE_LIMIT
                ),
                auto_close=AUTO_CLOSE,
            ),
            opts=opts,
        )
        for name, spec in policies.items()
    }
