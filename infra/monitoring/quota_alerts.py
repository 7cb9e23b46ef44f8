"""Alerts on BigQuery's streaming quota, on the collector's senders and on the cost guard's
switches.

Two signals for the quota, because the one that measures it arrives late:

- **The insert rate against the project's limit**, from BigQuery's own metrics
  ``storage/insertall_inserted_rows`` and ``storage/insertall_inserted_bytes``. Their
  descriptors say they are sampled every 60 s but may take up to 21,720 s (about 6 hours) to
  appear, so this alert can fire hours after the rate was reached. It warns of a trend.
- **Inserts refused with ``quotaExceeded``**, from the capture functions' log lines (a
  log-based metric, minutes behind): the quota was hit. The rows went to the dead-letter area,
  nothing is lost; replay them once the rate is down.

The limits: capture sends insertIds (best-effort de-duplication), and in that mode the
documented per-project limits are 500,000 rows/s in the US and EU multi-regions (100,000
elsewhere) and 100 MB/s. Read from secondary copies of cloud.google.com/bigquery/quotas
(2025-2026), not the live page: UNCONFIRMED. The alert fires at half of each.
"""

import pulumi_gcp as gcp

from event_capture.collector.identity import Unproven
from event_capture.contracts import log_fields as log
from infra.function_source import COLLECTOR, COST_GUARD
from infra.monitoring.alert_policies import AlertSpec
from infra.monitoring.log_metrics import (
    EDGE_REFUSALS,
    GUARD_SWITCHES,
    MOSTLY_REJECTED,
    QUOTA_EXCEEDED,
    metric_type,
    monitoring_service_filter,
    unproven_metric,
)

MULTI_REGIONS = frozenset({"US", "EU"})
ROWS_PER_SECOND = {"multi-region": 500_000, "region": 100_000}
BYTES_PER_SECOND = 100 * 1000 * 1000
ALERT_SHARE = 0.5
INSERTED_ROWS = "bigquery.googleapis.com/storage/insertall_inserted_rows"
INSERTED_BYTES = "bigquery.googleapis.com/storage/insertall_inserted_bytes"


def streaming_limits(location: str) -> tuple[int, int]:
    """(rows/s, bytes/s) of the project's streaming quota in the dataset's location."""
    kind = "multi-region" if location.upper() in MULTI_REGIONS else "region"
    return ROWS_PER_SECOND[kind], BYTES_PER_SECOND


def _rate_over(
    metric: str, limit: float
) -> gcp.monitoring.AlertPolicyConditionConditionThresholdArgs:
    """The project's rate of ``metric``, all tables summed, above ``ALERT_SHARE`` of ``limit``."""
    return gcp.monitoring.AlertPolicyConditionConditionThresholdArgs(
        # Project-wide series, as the quota is (the per-dataset metrics sit on bigquery_dataset).
        filter=f'metric.type="{metric}" AND resource.type="bigquery_project"',
        aggregations=[
            gcp.monitoring.AlertPolicyConditionConditionThresholdAggregationArgs(
                alignment_period="60s",
                per_series_aligner="ALIGN_RATE",
                cross_series_reducer="REDUCE_SUM",
            )
        ],
        comparison="COMPARISON_GT",
        threshold_value=ALERT_SHARE * limit,
        duration="0s",
        evaluation_missing_data="EVALUATION_MISSING_DATA_INACTIVE",
    )


def _count_above_zero(
    filter_: str, window: str = "300s"
) -> gcp.monitoring.AlertPolicyConditionConditionThresholdArgs:
    return gcp.monitoring.AlertPolicyConditionConditionThresholdArgs(
        filter=filter_,
        aggregations=[
            gcp.monitoring.AlertPolicyConditionConditionThresholdAggregationArgs(
                alignment_period=window,
                per_series_aligner="ALIGN_DELTA",
                cross_series_reducer="REDUCE_SUM",
            )
        ],
        comparison="COMPARISON_GT",
        threshold_value=0,
        duration="0s",
        evaluation_missing_data="EVALUATION_MISSING_DATA_INACTIVE",
    )


def quota_alert_specs(
    *, location: str, services: tuple[str, ...], cost_guard: bool
) -> list[AlertSpec]:
    rows, bytes_ = streaming_limits(location)
    refused = (
        f'metric.type="{metric_type(QUOTA_EXCEEDED)}" AND {monitoring_service_filter(services)}'
    )
    specs = [
        AlertSpec(
            name="streaming-rows-near-quota",
            display_name="Event capture: streaming inserts above half the project's row quota",
            severity="WARNING",
            documentation=(
                f"BigQuery received more than {ALERT_SHARE * rows:,.0f} rows/s (half of the "
                f"{rows:,} rows/s per project in {location}). BigQuery reports this metric up "
                "to 6 hours late: the rate may have passed. Lower `functionMaxInstances`, or "
                "ask for a higher quota before inserts are refused."
            ),
            condition=_rate_over(INSERTED_ROWS, rows),
        ),
        AlertSpec(
            name="streaming-bytes-near-quota",
            display_name="Event capture: streaming inserts above half the project's byte quota",
            severity="WARNING",
            documentation=(
                f"BigQuery received more than {ALERT_SHARE * bytes_ / 1e6:,.0f} MB/s of "
                f"streamed rows (half of {bytes_ / 1e6:,.0f} MB/s per project). Reported up to "
                "6 hours late, like the row rate."
            ),
            condition=_rate_over(INSERTED_BYTES, bytes_),
        ),
        AlertSpec(
            name="streaming-quota-exceeded",
            display_name="Event capture: BigQuery refused inserts with quotaExceeded",
            severity="ERROR",
            documentation=(
                "A function's inserts were refused for quota in the last 5 minutes (the incident "
                f"names it; `jsonPayload.{log.BIGQUERY_ERROR_REASONS}` in its log). The rows were "
                "retried, then dead-lettered: nothing is lost. Run `make replay` once the rate "
                "is down; lower `functionMaxInstances` or ask for more quota."
            ),
            condition=_count_above_zero(refused),
        ),
    ]
    if COLLECTOR.name in services:
        capped = (
            f'metric.type="{metric_type(EDGE_REFUSALS)}" '
            f"AND {monitoring_service_filter((COLLECTOR.name,))} "
            f'AND metric.label.{log.RULE}="{log.DAILY_CAP_REACHED}"'
        )
        specs.append(
            AlertSpec(
                name="collector-daily-cap-reached",
                display_name="Event capture: a client key reached its daily cap",
                severity="WARNING",
                documentation=(
                    "The collector refused a client key's requests with 429 for the rest of the "
                    "UTC day: its daily cap of requests or calls is reached "
                    f"(`{log.DAILY_CAP_REACHED}` lines name the key id). Either a flood, or "
                    "real traffic above the caps sized from `budgetAmount`: raise "
                    "`collectorDailyRequests` and `collectorDailyEvents` (and the budget) if the "
                    "traffic is real; `make purge` removes a flood's rows "
                    "(docs/apis/collector.md, Limits)."
                ),
                condition=_count_above_zero(capped),
            )
        )
        rejected = (
            f'metric.type="{metric_type(MOSTLY_REJECTED)}" '
            f"AND {monitoring_service_filter((COLLECTOR.name,))}"
        )
        specs.append(
            AlertSpec(
                name="collector-calls-mostly-rejected",
                display_name="Event capture: a sender's calls are mostly rejected",
                severity="WARNING",
                documentation=(
                    "The collector answered 200 to requests that rejected at least as many "
                    "calls as they stored, in the last hour (the incident names the key id). "
                    "The SDKs never read a 200's body, so the sender does not know: its calls "
                    f"are being lost. `jsonPayload.{log.REJECTED_RULES}` of the collector's "
                    f"`{log.MOSTLY_REJECTED}` lines says which rules they broke "
                    "(docs/apis/collector.md, Statuses)."
                ),
                condition=_count_above_zero(rejected, window="3600s"),
            )
        )
        mismatched = (
            f'metric.type="{metric_type(unproven_metric(Unproven.MISMATCH))}" '
            f"AND {monitoring_service_filter((COLLECTOR.name,))}"
        )
        specs.append(
            AlertSpec(
                name="collector-user-id-proof-mismatch",
                display_name="Event capture: user ids sent with a proof that does not match",
                severity="WARNING",
                documentation=(
                    "In the last hour, calls from a client key (the incident names its id) "
                    "carried a user id whose proof matches none of `collectorUserIdSecrets`. "
                    "They were stored under their anonymous id only: no user's data was "
                    "touched. Either the app's backend proves with a secret the stack does not "
                    "hold (a rotation half done: then every signed-in shopper is stored as "
                    "anonymous; compare the backend's secrets with the stack's, docs/deploy.md), "
                    "or someone sends user ids that are not theirs. "
                    f"`jsonPayload.{log.USER_IDS_UNPROVEN}` of the collector's lines counts "
                    "the calls by reason."
                ),
                condition=_count_above_zero(mismatched, window="3600s"),
            )
        )
    if cost_guard:
        switches = (
            f'metric.type="{metric_type(GUARD_SWITCHES)}" '
            f"AND {monitoring_service_filter((COST_GUARD.name,))}"
        )
        specs.append(
            AlertSpec(
                name="cost-guard-switched",
                display_name="Event capture: the cost guard switched capture",
                severity="WARNING",
                documentation=(
                    "The cost guard switched capture (`action` trip: archive-only, the scheduled "
                    "queries paused; `resume`: streaming again, the archive loaded). Events are "
                    f"still accepted either way. `{log.GUARD_MESSAGE}` lines in the cost "
                    "guard's log say why. To stream again before the next budget period: "
                    "`python -m tools.cost_guard resume` (docs/runbooks/cost-guard.md)."
                ),
                condition=_count_above_zero(switches),
            )
        )
    return specs
