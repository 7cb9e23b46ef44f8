"""The warehouse layer on the local BigQuery emulator: the same views and tables as the cloud, and
a stand-in for the daily scheduled queries (``make nightly`` runs them: ``tools/nightly.py``).
"""

import datetime as dt
from collections.abc import Iterable

from google.api_core.exceptions import BadRequest
from google.cloud import bigquery

from event_capture.warehouse.catalog import (
    DATA_QUALITY,
    SCHEDULED_TABLES,
    VIEWS,
    ScheduledTable,
)
from event_capture.warehouse.render import (
    Datasets,
    backfill_sql,
    scheduled_query,
    scheduled_sql,
    table_name,
    view_sql,
)
from localcloud.bootstrap import create_or_update


def create_views(client: bigquery.Client, datasets: Datasets) -> None:
    for view in VIEWS:
        table = bigquery.Table(f"{datasets.of(view.dataset)}.{view.name}")
        table.view_query = view_sql(view, datasets)
        table.description = view.description
        create_or_update(client, table, ["view_query", "description"])


def create_table(client: bigquery.Client, spec: ScheduledTable, datasets: Datasets) -> None:
    table = bigquery.Table(
        table_name(spec, datasets),
        schema=[bigquery.SchemaField.from_api_repr(c.api_repr()) for c in spec.columns],
    )
    table.time_partitioning = bigquery.TimePartitioning(field=spec.partition_field)
    table.require_partition_filter = True
    table.description = spec.description
    create_or_update(client, table, ["schema", "description"])


def create_scheduled_tables(client: bigquery.Client, datasets: Datasets) -> None:
    for spec in SCHEDULED_TABLES:
        create_table(client, spec, datasets)


def create_warehouse(client: bigquery.Client, datasets: Datasets) -> None:
    """Both datasets, the views and the scheduled queries' tables (the event tables exist)."""
    client.create_dataset(datasets.analytics, exists_ok=True)
    create_views(client, datasets)
    create_scheduled_tables(client, datasets)


def run_script(client: bigquery.Client, script: str, run_date: dt.date) -> None:
    client.query(script, job_config=scheduled_query(script).job_config(run_date=run_date)).result()


def run_scheduled(
    client: bigquery.Client, spec: ScheduledTable, datasets: Datasets, run_date: dt.date
) -> None:
    """What the table's scheduled query does in the cloud on ``run_date``: the same script."""
    run_script(client, scheduled_sql(spec, datasets), run_date)


def backfill_partials(client: bigquery.Client, datasets: Datasets, run_date: dt.date) -> None:
    """Fill the partial tables' whole retention window up to ``run_date``, as after a first
    deploy: the same script an operator runs in the cloud (``backfill_sql``).
    """
    run_script(client, backfill_sql(datasets), run_date)


def run_all(
    client: bigquery.Client,
    datasets: Datasets,
    run_date: dt.date,
    tables: Iterable[ScheduledTable] = SCHEDULED_TABLES,
) -> list[str]:
    """Every scheduled query in schedule order; the data-quality failures come back as text."""
    failures = []
    for spec in sorted(tables, key=lambda t: t.schedule):
        try:
            run_scheduled(client, spec, datasets, run_date)
        except BadRequest as error:
            if spec is not DATA_QUALITY:
                raise
            # The job's own error (the message of ERROR() in the SQL), not the HTTP wrapper.
            failures.append(str(error.errors[0]["message"] if error.errors else error.message))
    return failures
