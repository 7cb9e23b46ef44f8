"""The warehouse layer on the session's BigQuery emulator, built once and filled with ``shop_day``.

Its own two datasets keep the other integration tests' events out of the expected rows. The
events go in through the capture pipeline, as the app's would, each at its own receive time,
and the nightly runs happen between them as in the cloud: every scheduled query for day D (run
date D+1), in schedule order, then the feature tables again for D+1 and D+2. Each night also
runs every feature table's full rebuild into ``<name>_full`` (its query over ``user_daily``'s
query of the whole raw window, computed in one go), for the proof that both agree.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from google.cloud import bigquery

from event_capture.ingest.answer import capture_answer
from event_capture.ingest.pipeline import CapturePipeline
from event_capture.ingest.wiring import bigquery_sink
from event_capture.warehouse.catalog import (
    FEATURE_TABLES,
    PARTIAL_TABLES,
    SCHEDULED_TABLES,
    VIEWS,
    ScheduledTable,
    View,
)
from event_capture.warehouse.full_rebuild import full_rebuild, full_rebuild_sql
from event_capture.warehouse.render import Datasets
from localcloud import bootstrap
from localcloud.cloud import LocalCloud
from localcloud.warehouse import create_table, create_warehouse, run_all, run_script
from tests.integration.conftest import PROJECT
from tests.integration.warehouse.shop_day import ShopDay, shop_day

EVENTS_DATASET = "warehouse_events"
ANALYTICS_DATASET = "warehouse_analytics"
DATASETS = Datasets(f"{PROJECT}.{EVENTS_DATASET}", f"{PROJECT}.{ANALYTICS_DATASET}")
# u3's search, stored a second time as a retry arriving after insertId's de-duplication window
# would be (the emulator, like BigQuery, drops a copy with the same insertId sent soon after).
DUPLICATED = "oat_3"
# The nightly runs start at 01:00 (the partial tables' schedule): what arrives later that day
# is the next night's.
RUN_TIME = dt.time(1)
FULL_REBUILDS = tuple(full_rebuild(spec) for spec in FEATURE_TABLES)


@dataclass
class Warehouse:
    client: bigquery.Client
    shop: ShopDay
    quality_failures: list[str]

    @property
    def day(self) -> dt.date:
        return self.shop.day

    @property
    def snapshot_days(self) -> list[dt.date]:
        """The days the nightly runs built feature snapshots for: D, D+1 and D+2."""
        return [self.day + dt.timedelta(days=k) for k in range(3)]

    def query(self, sql: str) -> list[dict[str, Any]]:
        return [dict(row.items()) for row in self.client.query(sql).result()]

    def table(self, name: str, where: str = "TRUE") -> list[dict[str, Any]]:
        """Every row of a view or scheduled table of the warehouse."""
        dataset = self.dataset_of(name)
        return self.query(f"SELECT * FROM `{dataset}.{name}` WHERE {where}")

    def snapshot(self, spec: ScheduledTable, day: dt.date | None = None) -> list[dict[str, Any]]:
        """The rows the scheduled query wrote for ``day`` (default D)."""
        day = day or self.day
        rows = self.table(spec.name, f"{spec.partition_field} = DATE '{day.isoformat()}'")
        for row in rows:
            assert row.pop(spec.partition_field) == day
        return rows

    @staticmethod
    def dataset_of(name: str) -> str:
        items: list[ScheduledTable | View] = [*SCHEDULED_TABLES, *FULL_REBUILDS, *VIEWS]
        [role] = [item.dataset for item in items if item.name == name]
        return DATASETS.of(role)


def _capture(cloud: LocalCloud, events: list[dict[str, Any]], received_at: dt.datetime) -> None:
    """Events through the capture pipeline, its clock reading ``received_at``."""
    config = cloud.config(BIGQUERY_DATASET=EVENTS_DATASET, GCS_ENABLED="false")
    pipeline = CapturePipeline(
        bigquery=bigquery_sink(config),
        dead_letter=None,
        archive=None,
        redis=None,
        clock=lambda: received_at,
    )
    result = capture_answer(pipeline.handle(events, batch=True))
    assert result.body["accepted"] == len(events), result.body


def _store_again(
    client: bigquery.Client, table: str, event_id: str, received_at: dt.datetime
) -> None:
    """A second copy of a stored event, received at ``received_at``, without an insertId."""
    table = f"{DATASETS.events}.{table}"
    [row] = client.query(
        f"SELECT * FROM `{table}` WHERE received_at > TIMESTAMP('2000-01-01') "
        f"AND event_id = '{event_id}'"
    ).result()
    copy = dict(row.items()) | {"received_at": received_at}
    schema = client.get_table(table).schema
    errors = client.insert_rows(table, [copy], selected_fields=schema, row_ids=[None])
    assert errors == []


def _arrive(cloud: LocalCloud, shop: ShopDay, since: dt.datetime, until: dt.datetime) -> None:
    """What the shop's users send in ``[since, until)``, in the order it arrives."""
    client = cloud.bigquery_client()
    arrivals: dict[dt.datetime, list[dict[str, Any]]] = defaultdict(list)
    for event in shop.events:
        arrivals[shop.received_at(event)].append(event)
    copies = [(at, table, name) for table, name, at in shop.copies]
    for at in sorted({*arrivals, *(at for at, _, _ in copies)}):
        if since <= at < until:
            if arrivals.get(at):
                _capture(cloud, arrivals[at], at)
            for _, table, name in (c for c in copies if c[0] == at):
                _store_again(client, table, shop.ids[name], at)


@pytest.fixture(scope="session")
def warehouse(cloud: LocalCloud) -> Iterator[Warehouse]:
    client = cloud.bigquery_client()
    bootstrap.create_dataset_and_tables(client, EVENTS_DATASET)
    shop = shop_day(dt.datetime.now(dt.UTC).date())
    create_warehouse(client, DATASETS)
    for spec in FULL_REBUILDS:
        create_table(client, spec, DATASETS)

    failures: list[str] = []
    since = dt.datetime.min.replace(tzinfo=dt.UTC)
    for night, day in enumerate(shop.day + dt.timedelta(days=k) for k in range(3)):
        run_date = day + dt.timedelta(days=1)
        run_at = dt.datetime.combine(run_date, RUN_TIME, dt.UTC)
        _arrive(cloud, shop, since, run_at)
        since = run_at
        # The first night runs everything; the later ones only what the proof needs.
        tables = SCHEDULED_TABLES if night == 0 else PARTIAL_TABLES + FEATURE_TABLES
        failures += run_all(client, DATASETS, run_date, tables)
        for spec in FEATURE_TABLES:
            run_script(client, full_rebuild_sql(spec, DATASETS), run_date)
    _arrive(cloud, shop, since, dt.datetime.max.replace(tzinfo=dt.UTC))
    yield Warehouse(client, shop, failures)
