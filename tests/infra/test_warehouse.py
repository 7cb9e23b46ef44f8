"""The warehouse layer in the mocked stack: views, scheduled queries, their account and alerts."""

import json

import pytest

from event_capture.tables.definitions import load_table_definitions
from event_capture.warehouse.catalog import (
    DASHBOARD_VIEWS,
    DEDUP_VIEWS,
    FEATURE_TABLES,
    QUALITY_FAILED,
    SCHEDULED_TABLES,
    VIEWS,
)
from event_capture.warehouse.render import Datasets, scheduled_sql, view_sql
from infra.monitoring.warehouse_alerts import POLICIES
from infra.policy.rules import anonymous_tables_hold_no_identifiers, resource_violations
from tests.infra.test_budget_and_monitoring import channel_ids
from tools.mocked_stack import MockedResource, MockedStack, run_mocked
from tools.sample_stacks import PROJECT, REQUIRED_CONFIG

DATASETS = Datasets(events=f"{PROJECT}.events", analytics=f"{PROJECT}.analytics")
WAREHOUSE = f"warehouse-queries@{PROJECT}.iam.gserviceaccount.com"
TABLE = "gcp:bigquery/table:Table"
TRANSFER = "gcp:bigquery/dataTransferConfig:DataTransferConfig"
DAY_MS = 24 * 60 * 60 * 1000


def tables_by_id(stack: MockedStack) -> dict[str, MockedResource]:
    return {t.get("tableId"): t for t in stack.of_type(TABLE)}


def test_every_view_is_deployed_from_its_sql_file_in_its_dataset(stack: MockedStack) -> None:
    tables = tables_by_id(stack)

    for view in VIEWS:
        deployed = tables[view.name]
        assert deployed.get("view.query") == view_sql(view, DATASETS), view.name
        assert deployed.get("view.useLegacySql") is False, view.name
        assert deployed.get("datasetId") == view.dataset, view.name
    assert {v.name for v in DEDUP_VIEWS} == {
        f"{d['table_id']}_dedup" for d in load_table_definitions()
    }


def test_dashboard_views_are_authorized_to_read_the_events_dataset(stack: MockedStack) -> None:
    grants = [r for r in stack.of_type("gcp:bigquery/datasetAccess:DatasetAccess") if r.get("view")]

    assert sorted((g.get("datasetId"), g.get("view.tableId")) for g in grants) == sorted(
        ("events", view.name) for view in DASHBOARD_VIEWS
    )
    assert {g.get("view.datasetId") for g in grants} == {"analytics"}


def test_scheduled_tables_are_partitioned_and_only_anonymous_ones_outlive_the_raw_events(
    stack: MockedStack,
) -> None:
    tables = tables_by_id(stack)

    for spec in SCHEDULED_TABLES:
        table = tables[spec.name]
        columns = json.loads(table.get("schema"))
        assert [c["name"] for c in columns] == [c.name for c in spec.columns]
        assert table.get("timePartitioning.field") == spec.partition_field
        assert table.get("requirePartitionFilter") is True
        expiry = table.get("timePartitioning.expirationMs")
        if table.get("labels")["personal-data"] == "none":
            assert not {"user_id", "session_id"} & {c["name"] for c in columns}, spec.name
        else:
            assert expiry is not None and expiry <= 90 * DAY_MS, spec.name
    assert tables["search_daily"].get("timePartitioning.expirationMs") is None
    assert tables["user_profiles"].get("timePartitioning.expirationMs") == 7 * DAY_MS
    # The partial table the features are summed from lives as long as the raw events.
    assert tables["user_daily"].get("timePartitioning.expirationMs") == 90 * DAY_MS
    assert tables["user_daily"].get("labels")["personal-data"] == "user-level"


def test_each_table_has_a_daily_scheduled_query_running_its_script_as_the_warehouse_account(
    stack: MockedStack,
) -> None:
    configs = {c.name.removeprefix("schedule-"): c for c in stack.of_type(TRANSFER)}

    assert set(configs) == {spec.name for spec in SCHEDULED_TABLES}
    for spec in SCHEDULED_TABLES:
        config = configs[spec.name]
        assert config.get("dataSourceId") == "scheduled_query"
        assert config.get("params") == {"query": scheduled_sql(spec, DATASETS)}
        assert config.get("serviceAccountName") == WAREHOUSE
        assert config.get("schedule").startswith("every day ")
        assert config.get("location") == "US"
        assert config.get("destinationDatasetId") is None  # scripts write their own partition
    # user_recommendations reads the same day's product_recommendations; every feature table
    # reads user_daily.
    assert configs["user_recommendations"].get("schedule") > configs["product_recommendations"].get(
        "schedule"
    )
    for spec in FEATURE_TABLES:
        assert configs[spec.name].get("schedule") > configs["user_daily"].get("schedule")


def test_k_from_config_reaches_the_search_aggregate_query() -> None:
    stack = run_mocked({**REQUIRED_CONFIG, "event-capture:aggregateMinUsers": "8"})
    [config] = [c for c in stack.of_type(TRANSFER) if c.name == "schedule-search_daily"]

    assert "HAVING COUNT(DISTINCT s.trusted_user_id) >= 8" in config.get("params")["query"]


def test_the_warehouse_account_reads_and_writes_single_tables_and_only_runs_jobs_project_wide(
    stack: MockedStack,
) -> None:
    member = f"serviceAccount:{WAREHOUSE}"
    grants = [r for r in stack.resources if r.get("member") == member]
    by_role: dict[tuple[str, str], set[str]] = {}
    for grant in grants:
        where = grant.get("tableId") or grant.get("project")
        by_role.setdefault((grant.type, grant.get("role")), set()).add(where)

    scripts = [c.get("params")["query"] for c in stack.of_type(TRANSFER)]
    raw = {d["table_id"] for d in load_table_definitions()}
    read = {table for table in raw if any(f".{table}`" in script for script in scripts)}
    # Every family the nightly build has read so far; a raw table none of them names (the
    # identity links, until stitching reads them) gets no grant.
    assert read >= {"searches", "product_interactions", "orders", "sessions", "voice_interactions"}
    assert by_role == {
        ("gcp:projects/iAMMember:IAMMember", "roles/bigquery.jobUser"): {PROJECT},
        # The raw tables alone: the scripts inline the de-duplication, no _dedup view is read.
        ("gcp:bigquery/iamMember:IamMember", "roles/bigquery.dataViewer"): read,
        ("gcp:bigquery/iamMember:IamMember", "roles/bigquery.dataEditor"): {
            spec.name for spec in SCHEDULED_TABLES
        },
    }


def test_only_the_transfer_service_agent_may_act_as_the_warehouse_account(
    stack: MockedStack,
) -> None:
    grants = [
        g
        for g in stack.of_type("gcp:serviceaccount/iAMMember:IAMMember")
        if "warehouse-queries" in g.get("serviceAccountId")
    ]

    assert [(g.get("role"), g.get("member")) for g in grants] == [
        (
            "roles/iam.serviceAccountTokenCreator",
            "serviceAccount:service-123456789012@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com",
        )
    ]


def test_failed_data_quality_rules_and_failed_queries_alert_everyone(stack: MockedStack) -> None:
    policies = {p.name: p for p in stack.of_type("gcp:monitoring/alertPolicy:AlertPolicy")}

    for name in POLICIES:
        policy = policies[name]
        log_filter = policy.get("conditions")[0]["conditionMatchedLog"]["filter"]
        assert 'resource.type="bigquery_dts_config"' in log_filter
        assert "severity>=ERROR" in log_filter
        assert set(policy.get("notificationChannels")) == channel_ids(stack)
        assert policy.get("alertStrategy.notificationRateLimit.period")
    assert (
        f'AND "{QUALITY_FAILED}"'
        in policies["data-quality-failed"].get("conditions")[0]["conditionMatchedLog"]["filter"]
    )


@pytest.mark.parametrize(
    ("columns", "violations"),
    [
        (["day", "searches"], []),
        (["day", "user_id"], ["labelled personal-data=none but has column user_id"]),
    ],
)
def test_a_table_kept_beyond_90_days_may_not_hold_identifiers(
    columns: list[str], violations: list[str]
) -> None:
    props = {
        "labels": {"personal-data": "none"},
        "schema": json.dumps([{"name": c, "type": "STRING"} for c in columns]),
        "timePartitioning": {"type": "DAY"},
        "requirePartitionFilter": True,
    }

    assert anonymous_tables_hold_no_identifiers(TABLE, props) == violations
    assert [m for _, m in resource_violations(TABLE, props)] == violations
