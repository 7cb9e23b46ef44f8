"""The cost model's row sizes, measured on the emulator, against the documented data-type sizes
worked out independently here from the rows read back."""

import datetime as dt
import decimal
import random
import uuid
from typing import Any

import pytest

from event_capture.ingest.answer import capture_answer
from event_capture.schemas.families import EVENT_TYPES
from event_capture.tables.definitions import load_table_definitions
from localcloud import bootstrap
from localcloud.cloud import LocalCloud
from localcloud.sample_events import sample_event
from tools.cost_measure import measure_rows, stored_row_bytes, table_of_event_type

DATASET = "cost_sizes"
SCHEMAS = {d["table_id"]: d["schema"]["fields"] for d in load_table_definitions()}
FIXED = {"INTEGER": 8, "FLOAT": 8, "TIMESTAMP": 8, "DATE": 8, "NUMERIC": 16, "BOOLEAN": 1}


def logical_bytes(value: Any, field: dict[str, Any]) -> int:
    """BigQuery's data size of one stored value, from its pricing page's table."""
    if value is None:
        return 0
    if field["mode"] == "REPEATED":
        return sum(logical_bytes(item, {**field, "mode": "NULLABLE"}) for item in value)
    if field["type"] == "RECORD":
        return sum(logical_bytes(value.get(f["name"]), f) for f in field["fields"])
    if field["type"] == "STRING":
        return 2 + len(value.encode())
    assert isinstance(value, int | float | dt.date | decimal.Decimal | bool), value
    return FIXED[field["type"]]


@pytest.fixture(scope="module")
def pipeline(cloud: LocalCloud) -> Any:
    bootstrap.create_dataset_and_tables(cloud.bigquery_client(), DATASET)
    return cloud.pipeline(BIGQUERY_DATASET=DATASET, GCS_ENABLED="false")


def stored(cloud: LocalCloud, pipeline: Any, events: list[dict[str, Any]]) -> dict[str, int]:
    """Each event's stored row size as the cost model measures it, by event id."""
    result = capture_answer(pipeline.handle(events, batch=True))
    assert result.status == 200, result.body
    table = table_of_event_type()[events[0]["event_type"]]
    ids = [event["event_id"] for event in events]
    return stored_row_bytes(
        cloud.bigquery_client(), f"{cloud.settings.project}.{DATASET}.{table}", ids
    )


def variant(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**event, "event_id": str(uuid.uuid4()), **changes}


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_rows_size_is_the_sum_of_its_values_sizes(
    cloud: LocalCloud, pipeline: Any, event_type: str
) -> None:
    events = [sample_event(event_type, rng=random.Random(seed)) for seed in range(3)]
    measured = stored(cloud, pipeline, events)
    table = table_of_event_type()[event_type]

    rows = cloud.rows(table, list(measured), dataset=DATASET)
    expected = {
        row["event_id"]: sum(logical_bytes(row.get(f["name"]), f) for f in SCHEMAS[table])
        for row in rows
    }
    assert measured == expected


def test_a_longer_query_costs_exactly_its_extra_bytes(cloud: LocalCloud, pipeline: Any) -> None:
    base = sample_event("search", rng=random.Random(1))
    short = variant(base, query="oat milk")
    longer = variant(base, query="oat milk and honey")
    accented = variant(base, query="crème brûlée")
    plain = variant(base, query="creme brulee")

    sizes = stored(cloud, pipeline, [short, longer, accented, plain])

    assert sizes[longer["event_id"]] - sizes[short["event_id"]] == len(" and honey")
    # è, û and é are two bytes each in UTF-8: STRING is billed by its bytes, not its letters.
    assert sizes[accented["event_id"]] - sizes[plain["event_id"]] == 3


def test_a_missing_optional_number_costs_nothing(cloud: LocalCloud, pipeline: Any) -> None:
    base = sample_event("search", rng=random.Random(2))
    with_ = variant(base)
    without = variant({k: v for k, v in base.items() if k != "latency_ms"})

    sizes = stored(cloud, pipeline, [with_, without])

    assert sizes[with_["event_id"]] - sizes[without["event_id"]] == 8


def test_each_order_line_adds_its_fields(cloud: LocalCloud, pipeline: Any) -> None:
    base = sample_event("order_placed", rng=random.Random(3))
    line = {"product_id": "sku_12345", "quantity": 2, "unit_price": "1.50"}
    one = variant(base, items=[line], total="3.00")
    two = variant(base, items=[line, line], total="6.00")

    sizes = stored(cloud, pipeline, [one, two])

    # STRING 2 + its bytes, INT64 8, NUMERIC 16 (the totals are NUMERIC of the same size).
    assert sizes[two["event_id"]] - sizes[one["event_id"]] == (2 + len("sku_12345")) + 8 + 16


def test_every_event_type_is_measured_through_the_pipeline(cloud: LocalCloud) -> None:
    measured = measure_rows(cloud, samples=2)

    assert set(measured["row_bytes"]) == set(EVENT_TYPES)
    assert all(len(sizes) == 2 for sizes in measured["row_bytes"].values())
    # An archive line is the event's JSON: longer than its row, whose keys are columns.
    for event_type, sizes in measured["row_bytes"].items():
        assert measured["archive_bytes"][event_type] > max(sizes)
    assert measured["log_line_bytes"] > 0 and measured["log_line_bytes_per_type"] > 0
