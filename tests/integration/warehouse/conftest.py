"""The warehouse layer on the session's BigQuery emulator, built once and filled with ``shop_day``.

Its own two datasets keep the other integration tests' events out of the expected rows. The
events go in through the capture pipeline, as the app's would; every scheduled query then runs
once for day D (run date D+1), in schedule order.
"""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from google.cloud import bigquery

from event_capture.ingest.pipeline import CapturePipeline
from event_capture.ingest.wiring import bigquery_sink
from event_capture.warehouse.catalog import SCHEDULED_TABLES, VIEWS, Datasets, ScheduledTable, View
from localcloud import bootstrap
from localcloud.cloud import LocalCloud
from localcloud.warehouse import create_warehouse, run_all
from tests.integration.conftest import PROJECT
from tests.integration.warehouse.shop_day import ShopDay, shop_day

EVENTS_DATASET = "warehouse_events"
ANALYTICS_DATASET = "warehouse_analytics"
DATASETS = Datasets(f"{PROJECT}.{EVENTS_DATASET}", f"{PROJECT}.{ANALYTICS_DATASET}")
# u3's search, stored a second time as a retry arriving after insertId's de-duplication window
# would be (the emulator, like BigQuery, drops a copy with the same insertId sent soon after).
DUPLICATED = "oat_3"


@dataclass
class Warehouse:
    client: bigquery.Client
    shop: ShopDay
    quality_failures: list[str]

    @property
    def day(self) -> dt.date:
        return self.shop.day

    def query(self, sql: str) -> list[dict[str, Any]]:
        return [dict(row.items()) for row in self.client.query(sql).result()]

    def table(self, name: str, where: str = "TRUE") -> list[dict[str, Any]]:
        """Every row of a view or scheduled table of the warehouse."""
        dataset = self.dataset_of(name)
        return self.query(f"SELECT * FROM `{dataset}.{name}` WHERE {where}")

    def snapshot(self, spec: ScheduledTable) -> list[dict[str, Any]]:
        """The rows the scheduled query wrote for day D."""
        rows = self.table(spec.name, f"{spec.partition_field} = DATE '{self.day.isoformat()}'")
        for row in rows:
            assert row.pop(spec.partition_field) == self.day
        return rows

    @staticmethod
    def dataset_of(name: str) -> str:
        items: list[ScheduledTable | View] = [*SCHEDULED_TABLES, *VIEWS]
        [role] = [item.dataset for item in items if item.name == name]
        return DATASETS.of(role)


def _store_again(client: bigquery.Client, event_id: str, received_at: dt.datetime) -> None:
    """A second copy of a stored search, received later on day D, without an insertId."""
    table = f"{DATASETS.events}.searches"
    [row] = client.query(
        f"SELECT * FROM `{table}` WHERE received_at > TIMESTAMP('2000-01-01') "
        f"AND event_id = '{event_id}'"
    ).result()
    copy = dict(row.items()) | {"received_at": received_at}
    schema = client.get_table(table).schema
    errors = client.insert_rows(table, [copy], selected_fields=schema, row_ids=[None])
    assert errors == []


@pytest.fixture(scope="session")
def warehouse(cloud: LocalCloud) -> Iterator[Warehouse]:
    client = cloud.bigquery_client()
    bootstrap.create_dataset_and_tables(client, EVENTS_DATASET)
    shop = shop_day(dt.datetime.now(dt.UTC).date())
    # Received at noon of day D by the pipeline's clock, whatever the wall clock says: "late"
    # (received 24 hours or more after occurring) and "received on D" then hold by the day.
    noon = dt.datetime.combine(shop.day, dt.time(12), dt.UTC)
    config = cloud.config(BIGQUERY_DATASET=EVENTS_DATASET, GCS_ENABLED="false")
    pipeline = CapturePipeline(
        bigquery=bigquery_sink(config),
        dead_letter=None,
        archive=None,
        redis=None,
        clock=lambda: noon,
    )
    result = pipeline.handle(shop.events, batch=True)
    assert result.body["accepted"] == len(shop.events), result.body
    _store_again(client, shop.ids[DUPLICATED], noon + dt.timedelta(hours=1))

    create_warehouse(client, DATASETS)

    failures = run_all(client, DATASETS, shop.day + dt.timedelta(days=1))
    yield Warehouse(client, shop, failures)
