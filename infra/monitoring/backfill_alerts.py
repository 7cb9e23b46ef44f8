"""The alert on a failed run of the scheduled archive backfill (``infra/archive_backfill.py``).

It matches any entry of severity ERROR from the backfill's service: the traceback of a run that
raised, and Cloud Run's request entry of its 5xx answer to the push. It needs no field of the
backfill's own log line, so it holds whatever that line reports.
"""

import pulumi
import pulumi_gcp as gcp

from event_capture.contracts.archive_layout import BACKFILL_EVERY_MINUTES, BACKFILL_LOOKBACK_HOURS
from infra.function_source import ARCHIVE_BACKFILL
from infra.monitoring.log_metrics import log_service_filter
from infra.monitoring.warehouse_alerts import LogAlertSpec, log_match_alerts

BACKFILL_FAILED = "archive-backfill-failed"
POLICIES = {
    BACKFILL_FAILED: LogAlertSpec(
        display_name="Archive: a scheduled backfill run failed",
        log_filter=f"{log_service_filter((ARCHIVE_BACKFILL.name,))} AND severity>=ERROR",
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


def backfill_alerts(
    *,
    project: str,
    channels: list[gcp.monitoring.NotificationChannel],
    opts: pulumi.ResourceOptions,
) -> dict[str, gcp.monitoring.AlertPolicy]:
    return log_match_alerts(POLICIES, project=project, channels=channels, opts=opts)
