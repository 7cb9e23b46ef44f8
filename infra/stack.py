"""The whole stack: what ``pulumi up`` creates, wired together. ``__main__`` exports its outputs."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from infra import event_tables
from infra.access import Access, AccessArgs, account_member
from infra.apis import enable_apis
from infra.archive_backfill import ArchiveBackfill, ArchiveBackfillArgs
from infra.capture_function import FUNCTION_NAME, CaptureFunction, CaptureFunctionArgs
from infra.capture_log_sink import CaptureLogSink, CaptureLogSinkArgs
from infra.collector_function import CollectorFunction, CollectorFunctionArgs, flood_day
from infra.cost_guard import CostGuard, CostGuardArgs
from infra.event_buckets import EventBuckets, EventBucketsArgs
from infra.event_tables import EventTables, EventTablesArgs
from infra.forget import Forget, ForgetArgs
from infra.function_build import FunctionBuild, build_repository
from infra.function_source import (
    ARCHIVE_BACKFILL,
    CAPTURE,
    COLLECTOR,
    COST_GUARD,
    FEATURES,
    FORGET,
    MATERIALIZER,
    REPO_ROOT,
    build_source_archive,
)
from infra.monitoring.alert_policies import AlertPolicies, AlertPoliciesArgs
from infra.monitoring.backfill_alerts import backfill_alerts
from infra.monitoring.budget import BudgetAlerts, BudgetAlertsArgs, budget_warnings
from infra.monitoring.channels import email_channels
from infra.monitoring.dashboard import capture_dashboard
from infra.monitoring.forget_alerts import forget_alerts
from infra.monitoring.log_metrics import LogMetrics, LogMetricsArgs
from infra.monitoring.quota_alerts import quota_alert_specs
from infra.monitoring.warehouse_alerts import warehouse_alerts
from infra.online_features import OnlineFeatures, OnlineFeaturesArgs
from infra.redis_secret import RedisSecret, RedisSecretArgs
from infra.scheduled_queries import ScheduledQueries, ScheduledQueriesArgs
from infra.service_accounts import ServiceAccounts, ServiceAccountsArgs
from infra.settings import Settings
from infra.warehouse import Warehouse, WarehouseArgs

LABELS = {"app": "event-capture", "managed-by": "pulumi"}
# The event tables were first deployed as "warehouse", of the type event_tables.FORMER_TYPE.
# Without this alias Pulumi would see a new component and a gone one, and delete and recreate
# the dataset and every table with their data; with it the state is renamed in place. Children
# keep their names (what Google sees) and follow their parent's alias.
EVENT_TABLES_BEFORE_RENAME = pulumi.Alias(name="warehouse", type_=event_tables.FORMER_TYPE)


@dataclass(frozen=True, kw_only=True)
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
    # Online features only (redisEnabled).
    features_url: pulumi.Output[str] | None
    # The collector only (collectorEnabled).
    collector_url: pulumi.Output[str] | None
    # The cost guard only (costGuardEnabled): what tools/cost_guard.py needs.
    capture_control_bucket: pulumi.Output[str] | None = None
    scheduled_queries: pulumi.Output[str] | None = None
    # Forgetting users only (forgetEnabled): where the app files its requests.
    forget_bucket: pulumi.Output[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The stack outputs by their exported names; a part the stack lacks has none."""
        outputs = {
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
            "featuresUrl": self.features_url,
            "collectorUrl": self.collector_url,
            "captureControlBucket": self.capture_control_bucket,
            "scheduledQueries": self.scheduled_queries,
            "forgetBucket": self.forget_bucket,
        }
        return {name: value for name, value in outputs.items() if value is not None}

    def export(self) -> None:
        for name, value in self.as_dict().items():
            pulumi.export(name, value)


def build_stack(settings: Settings, source_root: Path = REPO_ROOT) -> StackOutputs:
    """The stack, with each function's source archived from ``source_root``."""
    project = settings.project
    apis = enable_apis(project)

    tables = EventTables(
        "event-tables",
        EventTablesArgs(
            project=project,
            dataset_id=settings.dataset_id,
            location=settings.dataset_location,
            deletion_protection=settings.deletion_protection,
            labels=LABELS,
        ),
        apis=apis,
        opts=pulumi.ResourceOptions(aliases=[EVENT_TABLES_BEFORE_RENAME]),
    )
    warehouse = Warehouse(
        "warehouse-layer",
        WarehouseArgs(
            project=project,
            location=settings.dataset_location,
            events_dataset_id=settings.dataset_id,
            analytics_dataset_id=settings.analytics_dataset_id,
            min_users=settings.aggregate_min_users,
            deletion_protection=settings.deletion_protection,
            labels=LABELS,
            events_dataset=tables.dataset,
            event_tables=tables.tables,
        ),
        apis=apis,
    )
    bucket_args = EventBucketsArgs(
        project=project,
        location=settings.region,
        deletion_protection=settings.deletion_protection,
        labels=LABELS,
    )
    buckets = EventBuckets("storage", bucket_args, apis=apis)
    accounts = ServiceAccounts(
        "identity",
        ServiceAccountsArgs(
            project=project,
            online_features=settings.redis_enabled,
            collector=settings.collector_enabled,
            cost_guard=settings.cost_guard_enabled,
            archive_backfill=settings.archive_backfill_enabled,
            forget=settings.forget_enabled,
        ),
        apis=apis,
    )
    repository = build_repository(
        settings=settings, labels=LABELS, opts=pulumi.ResourceOptions(depends_on=apis)
    )
    access = Access(
        "access",
        AccessArgs(
            project=project,
            region=settings.region,
            accounts=accounts,
            tables=tables,
            buckets=buckets,
            build_repository=repository,
            app_principals=settings.app_principals,
            operators=settings.operators,
        ),
        apis=apis,
    )
    build = FunctionBuild(
        source_bucket=buckets.function_source.name,
        build_account_id=accounts.build.id,
        repository=repository,
    )
    invoker = account_member(accounts.invoker)

    redis_secret: RedisSecret | None = None
    online: OnlineFeatures | None = None
    if accounts.features is not None:
        redis_secret = RedisSecret(
            "redis",
            RedisSecretArgs(
                project=project,
                region=settings.region,
                redis_url=settings.redis_url,
                readers={
                    CAPTURE.name: account_member(accounts.runtime),
                    FEATURES.name: account_member(accounts.features.features),
                    MATERIALIZER.name: account_member(accounts.features.materializer),
                    **(
                        {COLLECTOR.name: account_member(accounts.collector)}
                        if accounts.collector
                        else {}
                    ),
                    **(
                        {FORGET.name: account_member(accounts.forget.runtime)}
                        if accounts.forget
                        else {}
                    ),
                },
                labels=LABELS,
            ),
            apis=apis,
        )
        online = OnlineFeatures(
            "online-features",
            OnlineFeaturesArgs(
                settings=settings,
                build=build,
                features_source=build_source_archive(FEATURES, source_root),
                materializer_source=build_source_archive(MATERIALIZER, source_root),
                accounts=accounts.features,
                redis_secret=redis_secret,
                warehouse_tables=warehouse.tables,
                invoker_member=invoker,
                build_grants=access.grants,
                labels=LABELS,
            ),
            apis=apis,
        )
    scheduled = ScheduledQueries(
        "scheduled-queries",
        ScheduledQueriesArgs(
            project=project,
            location=settings.dataset_location,
            warehouse=warehouse,
            event_tables=tables.tables,
            feature_runs=online.topic if online else None,
        ),
        apis=apis,
    )
    channels = email_channels(
        project=project, emails=settings.alert_emails, opts=pulumi.ResourceOptions(depends_on=apis)
    )
    budget = BudgetAlerts(
        "cost",
        BudgetAlertsArgs(
            project=project,
            billing_account=settings.billing_account,
            amount=settings.budget_amount,
            currency=settings.budget_currency,
            channels=channels,
            labels=LABELS,
        ),
        apis=apis,
    )
    flood = flood_day(settings) if settings.collector_enabled else None
    for warning in budget_warnings(settings, flood):
        pulumi.log.warn(warning)
    guard: CostGuard | None = None
    if accounts.cost_guard is not None:
        guard = CostGuard(
            "guard",
            CostGuardArgs(
                settings=settings,
                build=build,
                source=build_source_archive(COST_GUARD, source_root),
                accounts=accounts.cost_guard,
                budget=budget.budget,
                budget_topic=budget.topic,
                archive_bucket=buckets.archive,
                event_tables=tables.tables,
                scheduled_queries=scheduled.configs,
                mode_readers={
                    CAPTURE.name: account_member(accounts.runtime),
                    **(
                        {COLLECTOR.name: account_member(accounts.collector)}
                        if accounts.collector
                        else {}
                    ),
                },
                build_grants=access.grants,
                labels=LABELS,
            ),
            apis=apis,
        )
    mode_bucket = guard.control_bucket.name if guard else None
    mode_grants = guard.reader_grants if guard else []
    function = CaptureFunction(
        "capture-function",
        CaptureFunctionArgs(
            settings=settings,
            source=build_source_archive(CAPTURE, source_root),
            build=build,
            archive_bucket=buckets.archive.name,
            dead_letter_bucket=buckets.dead_letter.name,
            capture_mode_bucket=mode_bucket,
            runtime_account_email=accounts.runtime.email,
            invoker_member=invoker,
            redis_url=redis_secret.variable() if redis_secret else None,
            grants=[
                *access.grants,
                *mode_grants,
                *([redis_secret.grants[CAPTURE.name]] if redis_secret else []),
            ],
            labels=LABELS,
        ),
        apis=apis,
    )
    collector: CollectorFunction | None = None
    if accounts.collector is not None:
        collector = CollectorFunction(
            "collector-function",
            CollectorFunctionArgs(
                settings=settings,
                source=build_source_archive(COLLECTOR, source_root),
                build=build,
                archive_bucket=buckets.archive.name,
                dead_letter_bucket=buckets.dead_letter.name,
                capture_mode_bucket=mode_bucket,
                runtime_account=accounts.collector,
                invoker_member=invoker,
                redis_url=redis_secret.variable() if redis_secret else None,
                grants=[
                    *access.grants,
                    *mode_grants,
                    *([redis_secret.grants[COLLECTOR.name]] if redis_secret else []),
                ],
                labels=LABELS,
            ),
            apis=apis,
        )
    backfill: ArchiveBackfill | None = None
    if accounts.archive_backfill is not None:
        backfill = ArchiveBackfill(
            "scheduled-backfill",
            ArchiveBackfillArgs(
                settings=settings,
                build=build,
                source=build_source_archive(ARCHIVE_BACKFILL, source_root),
                accounts=accounts.archive_backfill,
                archive_bucket=buckets.archive,
                event_tables=tables.tables,
                object_writer_role=accounts.object_writer_role,
                build_grants=access.grants,
                labels=LABELS,
            ),
            apis=apis,
        )
    forget: Forget | None = None
    if accounts.forget is not None and guard is not None:
        forget = Forget(
            "forget-users",
            ForgetArgs(
                settings=settings,
                build=build,
                source=build_source_archive(FORGET, source_root),
                accounts=accounts.forget,
                buckets=bucket_args,
                archive_bucket=buckets.archive,
                dead_letter_bucket=buckets.dead_letter,
                control_bucket=guard.control_bucket,
                event_tables=tables.tables,
                warehouse_tables=warehouse.tables,
                redis_url=redis_secret.variable() if redis_secret else None,
                redis_grant=redis_secret.grants[FORGET.name] if redis_secret else None,
                app_principals=settings.app_principals,
                operators=settings.operators,
                build_grants=access.grants,
            ),
            apis=apis,
        )
    elif not settings.forget_enabled:
        pulumi.log.warn(
            "forgetEnabled is off (it needs costGuardEnabled): no request to forget a user can "
            "be filed or carried out"
        )
    # Every function that runs the capture pipeline feeds the same metrics, alerts and charts.
    pipeline_services = (FUNCTION_NAME, *([COLLECTOR.name] if collector else []))

    log_metrics = LogMetrics(
        "log-metrics",
        LogMetricsArgs(
            project=project,
            services=pipeline_services,
            online_features=settings.redis_enabled,
            cost_guard=guard is not None,
            archive_backfill=backfill is not None,
            forget=forget is not None,
        ),
        apis=apis,
    )
    metrics = list(log_metrics.metrics.values())
    # The analytics report's capture health (make report): the same request lines, in BigQuery.
    CaptureLogSink(
        "capture-log-sink",
        CaptureLogSinkArgs(
            project=project,
            location=settings.dataset_location,
            services=pipeline_services,
            deletion_protection=settings.deletion_protection,
            labels=LABELS,
        ),
        apis=apis,
    )
    AlertPolicies(
        "alerts",
        AlertPoliciesArgs(
            project=project,
            services=pipeline_services,
            channels=channels,
            metrics=metrics,
            extra=tuple(
                quota_alert_specs(
                    location=settings.dataset_location,
                    services=pipeline_services,
                    cost_guard=guard is not None,
                )
            ),
        ),
    )
    warehouse_alerts(
        project=project, channels=channels, opts=pulumi.ResourceOptions(depends_on=apis)
    )
    if backfill is not None:
        backfill_alerts(
            project=project,
            channels=channels,
            opts=pulumi.ResourceOptions(depends_on=[*apis, backfill.function]),
        )
    if forget is not None:
        forget_alerts(
            project=project,
            channels=channels,
            opts=pulumi.ResourceOptions(depends_on=[*apis, forget.function]),
        )
    capture_dashboard(
        project=project,
        services=pipeline_services,
        metrics=metrics,
        opts=pulumi.ResourceOptions(depends_on=apis),
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
        features_url=online.url if online else None,
        collector_url=collector.url if collector else None,
        capture_control_bucket=guard.control_bucket.name if guard else None,
        scheduled_queries=guard.scheduled_queries if guard else None,
        forget_bucket=forget.bucket.name if forget else None,
    )
