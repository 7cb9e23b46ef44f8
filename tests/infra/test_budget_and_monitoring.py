"""Cost alerts and monitoring: thresholds, channels, and metrics that match the real log line."""

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from event_capture.archive_backfill.function import BackfillFunction
from event_capture.contracts import log_fields
from event_capture.contracts.capture_mode import CaptureMode
from event_capture.contracts.log_fields import GUARD_MESSAGE
from event_capture.cost_guard.decision import Action
from event_capture.cost_guard.guard import Outcome
from event_capture.forget import function as forget_function
from event_capture.forget.config import load_forget_config
from event_capture.ingest.answer import capture_answer
from event_capture.ingest.circuit import CircuitBreaker
from event_capture.ingest.pipeline import CapturePipeline
from infra.monitoring.backfill_alerts import POLICY_NAMES as BACKFILL_POLICIES
from infra.monitoring.budget import budget_warnings, fixed_monthly_usd
from infra.monitoring.forget_alerts import FORGET_PENDING
from infra.monitoring.forget_alerts import POLICY_NAMES as FORGET_POLICIES
from infra.monitoring.log_metrics import (
    ARCHIVE_LINES_BACKFILLED,
    FORGET_RUNS_LEAVING_REQUESTS,
    GUARD_SWITCHES,
    QUOTA_EXCEEDED,
)
from infra.monitoring.warehouse_alerts import POLICIES as WAREHOUSE_POLICIES
from infra.settings import load_settings
from tests.fakes.sinks import FakeDeadLetter, FakeSink
from tests.fakes.storage import FakeBucket, FakeStorageClient
from tests.unit.ingest.sinks.test_bigquery import api_error, harness
from tests.unit.ingest.test_pipeline import REQUEST_ID, R, mixed_batch
from tests.unit.tools.test_backfill_archive import TABLE_REFS, StoredRows, writer
from tools.mocked_stack import MOCK_PROJECT_NUMBER, MockedStack
from tools.sample_stacks import REQUIRED_CONFIG, WITH_REDIS

EMAILS = json.loads(REQUIRED_CONFIG["event-capture:alertEmails"])
USER_METRIC = re.compile(r"logging\.googleapis\.com/user/(\w+)")
PROMQL_METRIC = re.compile(r"logging_googleapis_com:user_(\w+?)_(?:sum|count|bucket)\b")
PAYLOAD_FIELD = re.compile(r"jsonPayload\.([\w.]+)")
# BigQuery's reason for a refusal on the streaming quota (errors[0].reason of its answer).
QUOTA_REASON = "quotaExceeded"
# The metrics that read the cost guard's line, not the capture pipeline's.
GUARD_METRICS = {GUARD_SWITCHES}
BACKFILL_NOW = datetime(2026, 11, 28, 19, 0, tzinfo=UTC)


def channel_ids(stack: MockedStack) -> set[str]:
    """The channels as the budget names them: one per configured address."""
    rule = stack.named("monthly-budget").get("allUpdatesRule")
    return set(rule["monitoringNotificationChannels"])


def test_one_email_channel_per_configured_address(stack: MockedStack) -> None:
    channels = stack.of_type("gcp:monitoring/notificationChannel:NotificationChannel")

    assert sorted(c.get("labels.email_address") for c in channels) == sorted(EMAILS)
    assert {c.get("type") for c in channels} == {"email"}


def test_budget_alerts_at_50_90_100_percent_and_100_percent_forecast(stack: MockedStack) -> None:
    budget = stack.named("monthly-budget")
    rules = {(r["thresholdPercent"], r["spendBasis"]) for r in budget.get("thresholdRules")}

    assert rules == {
        (0.5, "CURRENT_SPEND"),
        (0.9, "CURRENT_SPEND"),
        (1.0, "CURRENT_SPEND"),
        (1.0, "FORECASTED_SPEND"),
    }
    assert len(budget.get("thresholdRules")) == 4
    assert budget.get("amount.specifiedAmount") == {"currencyCode": "USD", "units": "5"}
    assert budget.get("budgetFilter.projects") == [f"projects/{MOCK_PROJECT_NUMBER}"]
    assert budget.get("billingAccount") == REQUIRED_CONFIG["event-capture:billingAccount"]


def test_budget_notifies_every_channel_and_publishes_to_its_topic(stack: MockedStack) -> None:
    rule = stack.named("monthly-budget").get("allUpdatesRule")
    channels = stack.of_type("gcp:monitoring/notificationChannel:NotificationChannel")

    assert len(rule["monitoringNotificationChannels"]) == len(channels) == len(EMAILS)
    assert len(set(rule["monitoringNotificationChannels"])) == len(EMAILS)
    assert rule["pubsubTopic"] == stack.outputs["budgetTopic"]
    publisher = stack.named("billing-publishes-budget-alerts")
    assert publisher.get("role") == "roles/pubsub.publisher"
    assert publisher.get("member").endswith("@system.gserviceaccount.com")


def quota_refused_pipeline(breakers: dict[str, CircuitBreaker]) -> CapturePipeline:
    """The pipeline on the real BigQuery sink, every insert refused for the streaming quota
    (retried until the sink's deadline, then dead-lettered), the other sinks fakes."""
    refused = api_error(gexc.Forbidden, "quota", errors=[{"reason": QUOTA_REASON}])
    journal: list[str] = []
    return CapturePipeline(
        bigquery=harness(then=refused, deadline=5.0).sink,
        dead_letter=FakeDeadLetter(journal),
        archive=FakeSink(name="archive", journal=journal),
        redis=FakeSink(name="redis", journal=journal),
        clock=lambda: R,
        request_id=lambda: REQUEST_ID,
        breakers=breakers,
    )


def backend_breakers() -> dict[str, CircuitBreaker]:
    """A circuit breaker per backend, as the deployed function has."""
    return {
        backend: CircuitBreaker(failure_threshold=3, cooldown_seconds=30)
        for backend in (
            log_fields.BACKEND_BIGQUERY,
            log_fields.BACKEND_GCS,
            log_fields.BACKEND_REDIS,
        )
    }


def real_log_line() -> dict[str, Any]:
    """The capture function's log line for a request where BigQuery refuses every insert for quota
    and the rows are dead-lettered."""
    result = capture_answer(quota_refused_pipeline(backend_breakers()).handle(mixed_batch(), True))
    assert result.log["events_dead_lettered"] > 0
    assert result.log[log_fields.BIGQUERY_ERROR_REASONS][QUOTA_REASON] > 0
    return result.log


def guard_log_line() -> dict[str, Any]:
    """The cost guard's line for a switch to archive-only (functions/cost-guard/main.py)."""
    outcome = Outcome(Action.TRIP, "spent 100% of the budget", CaptureMode.ARCHIVE_ONLY)
    return {"severity": "WARNING", "message": GUARD_MESSAGE, **outcome.as_dict()}


def backfill_log_line(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The archive backfill's line for a run that found nothing to write
    (functions/archive-backfill/main.py)."""
    run = BackfillFunction(
        writer(FakeBucket()), StoredRows, table_refs=TABLE_REFS, clock=lambda: BACKFILL_NOW
    )
    capsys.readouterr()
    run()
    lines: list[dict[str, Any]] = [json.loads(t) for t in capsys.readouterr().out.splitlines()]
    [line] = lines
    assert line["message"] == log_fields.BACKFILL_MESSAGE
    return line


def forget_log_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """The forget function's line for a run that found no request (functions/forget/main.py);
    no store is touched when no request is filed."""
    monkeypatch.setattr(forget_function, "stores_of", lambda config, storage: None)
    config = load_forget_config(
        {"GCP_PROJECT": "p", "GCS_BUCKET": "archive", "FORGET_BUCKET": "forget-requests"}
    )
    run = forget_function.ForgetFunction(
        config, storage=FakeStorageClient, clock=lambda: BACKFILL_NOW, wait=lambda _: None
    )
    capsys.readouterr()
    run()
    lines: list[dict[str, Any]] = [json.loads(t) for t in capsys.readouterr().out.splitlines()]
    [line] = lines
    assert line["message"] == log_fields.FORGET_MESSAGE
    return line


def field_exists(line: dict[str, Any], path: str) -> bool:
    value: Any = line
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True


def test_every_log_metric_reads_fields_the_function_actually_logs(
    stack: MockedStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    capture, guard, backfill = real_log_line(), guard_log_line(), backfill_log_line(capsys)
    forget = forget_log_line(capsys, monkeypatch)
    metrics = stack.of_type("gcp:logging/metric:Metric")

    assert len(metrics) >= 4
    assert FORGET_RUNS_LEAVING_REQUESTS in {m.name for m in metrics}
    for metric in metrics:
        line = (
            guard
            if metric.name in GUARD_METRICS
            else backfill
            if metric.name == ARCHIVE_LINES_BACKFILLED
            else forget
            if metric.name == FORGET_RUNS_LEAVING_REQUESTS
            else capture
        )
        extractors = (metric.get("labelExtractors") or {}).values()
        text = " ".join([metric.get("filter"), metric.get("valueExtractor") or "", *extractors])
        fields = PAYLOAD_FIELD.findall(text)
        assert fields, metric.name
        for field in fields:
            assert field_exists(line, field), f"{metric.name}: jsonPayload.{field} is not logged"
    names = {m.get("name") for m in metrics}
    assert {
        "capture_events_accepted",
        "capture_events_rejected",
        "capture_events_dead_lettered",
        "capture_bigquery_failed_rows",
        QUOTA_EXCEEDED,
        *GUARD_METRICS,
    } <= names


def test_sink_metrics_filter_on_the_statuses_the_function_reports(stack: MockedStack) -> None:
    line = real_log_line()
    bigquery_metric = stack.named("capture_sink_bigquery").get("filter")

    assert line["sinks"]["bigquery"]["status"] == "failed"
    assert '"failed"' in bigquery_metric
    assert f'jsonPayload.message="{line["message"]}"' in bigquery_metric


def test_alert_policies_cover_inserts_dead_letters_and_5xx_and_notify_everyone(
    stack: MockedStack,
) -> None:
    policies = {
        p.name: p
        for p in stack.of_type("gcp:monitoring/alertPolicy:AlertPolicy")
        # Log-match and absence policies: test_warehouse.py, test_archive_backfill_stack.py;
        # forgetting users' (test_forget_stack.py) but the threshold on its own metric.
        if p.name not in {*WAREHOUSE_POLICIES, *BACKFILL_POLICIES, *FORGET_POLICIES}
        or p.name == FORGET_PENDING
    }
    metric_names = {m.get("name") for m in stack.of_type("gcp:logging/metric:Metric")}

    assert set(policies) == {
        "bigquery-insert-failures",
        "dead-letters-growing",
        "function-5xx",
        # infra/monitoring/quota_alerts.py: tests/infra/test_cost_guard_stack.py
        "streaming-rows-near-quota",
        "streaming-bytes-near-quota",
        "streaming-quota-exceeded",
        "cost-guard-switched",
        FORGET_PENDING,
    }
    for policy in policies.values():
        assert set(policy.get("notificationChannels")) == channel_ids(stack), policy.name
        condition = policy.get("conditions")[0]["conditionThreshold"]
        filters = condition["filter"] + condition.get("denominatorFilter", "")
        assert set(USER_METRIC.findall(filters)) <= metric_names, policy.name
        assert policy.get("documentation.content"), policy.name
    five_xx = policies["function-5xx"].get("conditions")[0]["conditionThreshold"]
    assert 'metric.label.response_code_class="5xx"' in five_xx["filter"]
    inserts = policies["bigquery-insert-failures"].get("conditions")[0]["conditionThreshold"]
    assert "capture_sink_bigquery" in inserts["filter"] + inserts["denominatorFilter"]


def test_dashboard_charts_only_metrics_the_stack_defines(stack: MockedStack) -> None:
    layout = json.loads(stack.named("capture-dashboard").get("dashboardJson"))
    text = json.dumps(layout)
    defined = {m.get("name") for m in stack.of_type("gcp:logging/metric:Metric")}
    titles = [tile["widget"]["title"] for tile in layout["mosaicLayout"]["tiles"]]

    used = set(USER_METRIC.findall(text)) | set(PROMQL_METRIC.findall(text))
    assert used and used <= defined
    assert {"capture_events_accepted", "capture_events_rejected", "capture_latency"} <= used
    assert any("sink" in title for title in titles)
    assert any("latency" in title.lower() for title in titles)


def test_a_budget_below_the_online_features_fixed_cost_is_said_at_deploy_time() -> None:
    redis = load_settings(WITH_REDIS)
    fixed = fixed_monthly_usd(redis)
    enough = load_settings({**WITH_REDIS, "event-capture:budgetAmount": str(int(fixed) + 1)})
    no_guard = load_settings({**WITH_REDIS, "event-capture:costGuardEnabled": "false"})
    euros = load_settings({**WITH_REDIS, "event-capture:budgetCurrency": "EUR"})

    assert 40 < fixed < 60  # Memorystore 1 GB and two connector instances, a month
    [warning] = budget_warnings(redis)  # the default 5 USD
    assert "budgetAmount 5 USD is below the fixed cost" in warning
    assert budget_warnings(enough) == []
    assert budget_warnings(no_guard) == []
    assert budget_warnings(euros) == []
    assert fixed_monthly_usd(load_settings(REQUIRED_CONFIG)) == 0
