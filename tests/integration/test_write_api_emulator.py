"""The Storage Write API path on the emulator's gRPC port: every family lands and reads back
through the ``_dedup`` views, a row BigQuery refuses goes to the dead-letter area, and appends
go on after the emulator closed the stream under them."""

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from google.cloud import bigquery

from event_capture.ingest import clients
from event_capture.ingest.answer import capture_answer
from event_capture.ingest.row import Request
from event_capture.ingest.sinks import dead_letter
from event_capture.ingest.sinks.dead_letter import DeadLetterSink
from event_capture.ingest.sinks.result import FailureKind
from event_capture.ingest.validation import validate_events
from event_capture.ingest.wiring import bigquery_sink, dead_letter_writer
from event_capture.ingest.write_api import WriteApiAppends
from event_capture.schemas.families import MODEL_BY_EVENT_TYPE
from localcloud.cloud import LocalCloud
from localcloud.sample_events import sample_batch, sample_event
from localcloud.warehouse import create_views
from tests.unit import event_factory as factory

# Whatever the default, these tests take the Write API.
WRITE_API = {"BIGQUERY_WRITE_API": "true"}


@pytest.fixture(scope="module")
def views(cloud: LocalCloud) -> Iterator[None]:
    client = cloud.bigquery_client()
    client.create_dataset(cloud.settings.warehouse_datasets.analytics, exists_ok=True)
    create_views(client, cloud.settings.warehouse_datasets)
    yield


def dedup_rows(cloud: LocalCloud, table: str, ids: list[str]) -> list[dict[str, Any]]:
    name = f"{cloud.settings.project}.{cloud.settings.dataset}.{table}_dedup"
    job = cloud.bigquery_client().query(
        f"SELECT * FROM `{name}` WHERE event_id IN UNNEST(@ids) ORDER BY event_id",
        job_config=bigquery.QueryJobConfig(
            query_parameters=[bigquery.ArrayQueryParameter("ids", "STRING", ids)]
        ),
    )
    return [dict(row.items()) for row in job.result()]


def test_the_cloud_writes_through_the_write_api(cloud: LocalCloud) -> None:
    config = cloud.config(**WRITE_API)

    assert config.uses_write_api
    assert isinstance(clients.bigquery_writes(config), WriteApiAppends)


def test_every_family_lands_and_reads_back_through_the_dedup_views(
    cloud: LocalCloud, views: None
) -> None:
    events = [*sample_batch(30, users=4), sample_event("identify")]
    pipeline = cloud.pipeline(**WRITE_API)

    first = capture_answer(pipeline.handle(events, batch=True))
    # Sent again, as a client that never saw the answer would: the default stream stores the
    # rows twice (at-least-once), the views once.
    second = capture_answer(pipeline.handle(events, batch=True))

    assert (first.status, second.status) == (200, 200), first.body
    by_table: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_table.setdefault(MODEL_BY_EVENT_TYPE[event["event_type"]].TABLE, []).append(event)
    assert len(by_table) == len({model.TABLE for model in MODEL_BY_EVENT_TYPE.values()})
    for table, sent in by_table.items():
        ids = [event["event_id"] for event in sent]
        rows = {row["event_id"]: row for row in dedup_rows(cloud, table, ids)}
        assert sorted(rows) == sorted(ids), table
        assert len(cloud.rows(table, ids)) == 2 * len(ids), table  # raw: both copies
        for event in sent:
            row = rows[event["event_id"]]
            assert row["user_id"] == event["user_id"]
            assert row["occurred_at"] == datetime.fromisoformat(event["occurred_at"])
            assert row["received_at"] is not None
            if table == "orders":
                assert [(i["product_id"], i["quantity"]) for i in row["items"]] == [
                    (i["product_id"], i["quantity"]) for i in event["items"]
                ]
                assert float(row["total"]) == pytest.approx(float(event["total"]))
            if table == "searches":
                assert row["query"] == event["query"]
                assert row["filters"] == event["filters"]


def test_a_row_bigquery_refuses_goes_to_the_dead_letter_area_and_its_neighbour_lands(
    cloud: LocalCloud,
) -> None:
    now = datetime.now(UTC)
    rows, _ = validate_events([factory.order(now), factory.order(now)], now)
    # A NUMERIC the encoder passes on as text and BigQuery cannot read.
    bad = dataclasses.replace(rows[0], json=rows[0].json.replace('"total":"6.48"', '"total":"x"'))
    assert bad.json != rows[0].json
    config = cloud.config(**WRITE_API)
    request = Request("write-api-invalid", now)

    result = bigquery_sink(config).write([bad, rows[1]], request)
    kept = DeadLetterSink(dead_letter_writer(config)).write(result.failed, request)

    assert [row.event_id for row in result.stored] == [rows[1].event_id]
    assert [(f.row.event_id, f.failure.kind) for f in result.failed] == [
        (bad.event_id, FailureKind.INVALID)
    ]
    assert "numeric" in result.failed[0].failure.detail.lower()
    assert [row.event_id for row in kept.stored] == [bad.event_id]
    letters = [
        entry
        for text in cloud.objects("dead-letter/").values()
        for entry in dead_letter.decode(text)
    ]
    assert bad.event_id in {entry.row.event_id for entry in letters}
    assert [row["event_id"] for row in cloud.rows("orders", [bad.event_id, rows[1].event_id])] == [
        rows[1].event_id
    ]


def test_appends_go_on_after_the_emulator_closed_the_stream_under_them(
    cloud: LocalCloud,
) -> None:
    now = datetime.now(UTC)
    sink = bigquery_sink(cloud.config(**WRITE_API))
    before, _ = validate_events([factory.search(now)], now)
    assert sink.write(before, Request("before", now)).failed == []

    with cloud.outage(cloud.bigquery):  # the open stream dies with the process
        pass
    after, _ = validate_events([factory.search(now) for _ in range(3)], now)
    result = sink.write(after, Request("after", now))

    assert result.failed == [], result.error
    ids = [row.event_id for row in [*before, *after]]
    assert sorted(row["event_id"] for row in cloud.rows("searches", ids)) == sorted(ids)
