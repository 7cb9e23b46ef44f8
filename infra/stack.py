"""The whole stack: what ``pulumi up`` creates, wired together. ``__main__`` exports its outputs."""

from dataclasses import dataclass
from typing import Any

import pulumi

from infra.access import Access, AccessArgs, account_member
from infra.alert_policies import AlertPolicies
from infra.apis import enable_apis
from infra.budget_alerts import BudgetAlerts, BudgetAlertsArgs, email_channels
from infra.capture_function import (
    FUNCTION_NAME,
    CaptureFunction,
    CaptureFunctionArgs,
    build_repository,
)
from infra.dashboard import capture_dashboard
from infra.event_buckets import EventBuckets, EventBucketsArgs
from infra.event_tables import EventTables, EventTablesArgs
from infra.function_source import SourceArchive, build_source_archive
from infra.log_metrics import LogMetrics
from infra.scheduled_queries import ScheduledQueries, ScheduledQueriesArgs
from infra.service_accounts import ServiceAccounts, ServiceAccountsArgs
from infra.settings import Settings
from infra.warehouse import Warehouse, WarehouseArgs
from infra.warehouse_alerts import warehouse_alerts

LABELS = {"app": "event-capture", "managed-by": "pulumi"}


@dataclass(frozen=True)
class StackOutputs:
    function_url: pulumi.Output[str]
    invoker_service_account: pulumi.Output[str]
    dataset_id: pulumi.Output[str]
    table_ids: dict[str, pulumi.Output[str]]
    archive_bucket: pulumi.Output[str]
    dead_letter_bucket: pulumi.Output[str]
    source_bucket: pulumi.Output[str]
    budget_topic: pulumi.Output[str]
    analytics_dataset_id: pulumi.Output[str]
    warehouse_account: pulumi.Output[str]

    def as_dict(self) -> dict[str, Any]:
        """The stack outputs by their exported names."""
        return {
            "functionUrl": self.function_url,
            "invokerServiceAccount": self.invoker_service_account,
            "datasetId": self.dataset_id,
            "tableIds": self.table_ids,
            "archiveBucket": self.archive_bucket,
            "deadLetterBucket": self.dead_letter_bucket,
            "sourceBucket": self.source_bucket,
            "budgetTopic": self.budget_topic,
            "analyticsDatasetId": self.analytics_dataset_id,
            "warehouseServiceAccount": self.warehouse_account,
        }

    def export(self) -> None:
        for name, value in self.as_dict().items():
            pulumi.export(name, value)


def build_stack(settings: Settings, source: SourceArchive | None = None) -> StackOutputs:
    source = source or build_source_archive()
    project = settings.project
    apis = enable_apis(project)

    tables = EventTables(
        "warehouse",
        EventTablesArgs(
            project,
            settings.dataset_id,
            settings.dataset_location,
            settings.deletion_protection,
            LABELS,
        ),
        apis,
    )
    warehouse = Warehouse(
        "warehouse-layer",
        WarehouseArgs(
            project,
            settings.dataset_location,
            settings.dataset_id,
            settings.analytics_dataset_id,
            settings.aggregate_min_users,
            settings.deletion_protection,
            LABELS,
            tables.dataset,
            tables.tables,
        ),
        apis,
    )
    scheduled = ScheduledQueries(
        "scheduled-queries",
        ScheduledQueriesArgs(project, settings.dataset_location, warehouse, tables.tables),
        apis,
    )
    buckets = EventBuckets(
        "storage",
        EventBucketsArgs(project, settings.region, settings.deletion_protection, LABELS),
        apis,
    )
    accounts = ServiceAccounts("identity", ServiceAccountsArgs(project), apis)
    repository = build_repository(settings, LABELS, pulumi.ResourceOptions(depends_on=apis))
    access = Access(
        "access",
        AccessArgs(
            project,
            settings.region,
            accounts,
            tables,
            buckets,
            repository,
            settings.app_principals,
            settings.operators,
        ),
        apis,
    )
    function = CaptureFunction(
        "capture-function",
        CaptureFunctionArgs(
            settings=settings,
            source=source,
            source_bucket=buckets.function_source.name,
            archive_bucket=buckets.archive.name,
            dead_letter_bucket=buckets.dead_letter.name,
            runtime_account_email=accounts.runtime.email,
            build_account_id=accounts.build.id,
            build_repository=repository,
            invoker_member=account_member(accounts.invoker),
            grants=access.grants,
            labels=LABELS,
        ),
        apis,
    )

    channels = email_channels(
        project, settings.alert_emails, pulumi.ResourceOptions(depends_on=apis)
    )
    budget = BudgetAlerts(
        "cost",
        BudgetAlertsArgs(
            project,
            settings.billing_account,
            settings.budget_amount,
            settings.budget_currency,
            settings.alert_emails,
            LABELS,
        ),
        channels,
        apis,
    )
    metrics = LogMetrics("log-metrics", project, FUNCTION_NAME, apis)
    metric_resources: list[pulumi.Resource] = list(metrics.metrics.values())
    AlertPolicies("alerts", project, FUNCTION_NAME, channels, metric_resources)
    warehouse_alerts(project, channels, pulumi.ResourceOptions(depends_on=apis))
    capture_dashboard(
        project, FUNCTION_NAME, metric_resources, pulumi.ResourceOptions(depends_on=apis)
    )

    return StackOutputs(
        function_url=function.url,
        invoker_service_account=accounts.invoker.email,
        dataset_id=tables.dataset.dataset_id,
        table_ids={name: table.table_id for name, table in tables.tables.items()},
        archive_bucket=buckets.archive.name,
        dead_letter_bucket=buckets.dead_letter.name,
        source_bucket=buckets.function_source.name,
        budget_topic=budget.topic.id,
        analytics_dataset_id=warehouse.analytics.dataset_id,
        warehouse_account=scheduled.account.email,
    )
