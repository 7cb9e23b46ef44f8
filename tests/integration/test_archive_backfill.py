"""Backfilling the archive on the real emulators: events accepted while the archive was off end
up in it exactly once each, with the lines the function writes.

A dataset and buckets of its own keep these tests apart from the others.
"""

import io
import json
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from event_capture.archive_backfill.backfill import SETTLE
from event_capture.ingest.answer import capture_answer
from event_capture.ingest.row import Request
from event_capture.ingest.validation import validate_events
from event_capture.ingest.wiring import bigquery_sink
from localcloud import bootstrap
from localcloud.cloud import LocalCloud
from localcloud.sample_events import sample_batch, sample_event
from tools.backfill_archive import main

DATASET = "backfill"


@pytest.fixture(scope="module")
def dataset(cloud: LocalCloud) -> str:
    bootstrap.create_dataset_and_tables(cloud.bigquery_client(), DATASET)
    return DATASET


def new_bucket(cloud: LocalCloud) -> str:
    name = f"{cloud.settings.project}-backfill-{uuid.uuid4().hex[:8]}"
    cloud.storage_client().create_bucket(name)
    return name


def archive_lines(cloud: LocalCloud, bucket: str) -> list[str]:
    return [
        line for text in cloud.objects("archive/", bucket).values() for line in text.splitlines()
    ]


def by_event(lines: Iterable[str]) -> dict[str, str]:
    return {json.loads(line)["event_id"]: line for line in lines}


def _number(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def comparable(line: str) -> str:
    """The line, with money as BigQuery keeps it ("1.50" is stored as 1.5); else unchanged."""
    data: dict[str, Any] = json.loads(line)
    if data["event_type"] != "order_placed":
        return line
    data["total"] = _number(data["total"])
    data["items"] = [{**i, "unit_price": _number(i["unit_price"])} for i in data["items"]]
    return json.dumps(data, separators=(",", ":"))


def latest_received_at(cloud: LocalCloud, events: list[dict[str, Any]]) -> dict[str, datetime]:
    """Per event, when BigQuery received its last copy."""
    latest: dict[str, datetime] = {}
    tables = {row.event_id: row.table for row in validate_events(events, datetime.now(UTC))[0]}
    for table in set(tables.values()):
        ids = [event_id for event_id, t in tables.items() if t == table]
        for row in cloud.rows(table, ids, dataset=DATASET):
            latest[row["event_id"]] = max(
                row["received_at"], latest.get(row["event_id"], row["received_at"])
            )
    return latest


def test_events_accepted_while_the_archive_was_off_are_backfilled_once_each(
    cloud: LocalCloud, dataset: str
) -> None:
    bucket, elsewhere_bucket = new_bucket(cloud), new_bucket(cloud)
    archived, off, elsewhere = sample_batch(12), sample_batch(12), sample_batch(12)
    started = datetime.now(UTC)
    on = cloud.pipeline(BIGQUERY_DATASET=dataset, GCS_BUCKET=bucket)
    assert capture_answer(on.handle(archived, batch=True)).status == 200
    on.flush_archive()
    archive_off = cloud.pipeline(BIGQUERY_DATASET=dataset, GCS_BUCKET=bucket, GCS_ENABLED="false")
    assert capture_answer(archive_off.handle(off, batch=True)).status == 200
    # Two of them resent while the archive is still off: BigQuery may hold two copies.
    assert capture_answer(archive_off.handle(off[:2], batch=True)).status == 200
    # Archived, but not in this bucket: these lines are exactly the function's.
    other = cloud.pipeline(BIGQUERY_DATASET=dataset, GCS_BUCKET=elsewhere_bucket)
    assert capture_answer(other.handle(elsewhere, batch=True)).status == 200
    other.flush_archive()
    finished = datetime.now(UTC) + timedelta(seconds=1)
    before = cloud.objects("archive/", bucket)
    assert set(by_event(archive_lines(cloud, bucket))) == {e["event_id"] for e in archived}

    config = cloud.config(BIGQUERY_DATASET=dataset, GCS_BUCKET=bucket)
    argv = ["--from", started.isoformat(), "--to", finished.isoformat()]

    def backfill(*extra: str) -> tuple[int, str]:
        out = io.StringIO()
        status = main(
            [*argv, *extra],
            config,
            now=lambda: finished + SETTLE,
            out=out,
            progress=io.StringIO(),
        )
        return status, out.getvalue()

    dry_status, dry_out = backfill("--dry-run")
    assert dry_status == 0
    assert cloud.objects("archive/", bucket) == before
    assert "nothing written (dry run)" in dry_out

    status, out = backfill()

    assert status == 0, out
    lines = archive_lines(cloud, bucket)
    everything = archived + off + elsewhere
    assert Counter(json.loads(line)["event_id"] for line in lines) == Counter(
        e["event_id"] for e in everything
    )
    report = {line.split(":")[0]: line for line in out.splitlines()}
    assert sum(int(line.split(", ")[2].split()[0]) for line in report.values()) == 24
    # The function's lines, byte for byte (money as BigQuery keeps it).
    got = by_event(lines)
    function_wrote = by_event(archive_lines(cloud, elsewhere_bucket))
    for event_id, line in function_wrote.items():
        assert comparable(got[event_id]) == comparable(line)
        if json.loads(line)["event_type"] != "order_placed":
            assert got[event_id] == line
    latest = latest_received_at(cloud, off)
    for event in off:
        [row], _ = validate_events([event], latest[event["event_id"]])
        assert comparable(got[row.event_id]) == comparable(row.json)

    # The function's objects are untouched; again, everything is in the archive: no writes.
    after = cloud.objects("archive/", bucket)
    assert {name: after[name] for name in before} == before
    again_status, again = backfill()
    assert again_status == 0
    for line in again.splitlines():
        _, counts = line.split(": ")
        in_bigquery, in_archive, written = (part.split()[0] for part in counts.split(", "))
        assert in_archive == in_bigquery and written == "0", line
    assert cloud.objects("archive/", bucket) == after


def test_the_range_includes_from_and_excludes_to_on_bigquery(
    cloud: LocalCloud, dataset: str
) -> None:
    bucket = new_bucket(cloud)
    config = cloud.config(BIGQUERY_DATASET=dataset, GCS_BUCKET=bucket)
    sink = bigquery_sink(config)
    start = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    end, tick = start + timedelta(hours=1), timedelta(microseconds=1)
    ids: dict[str, str] = {}

    def store(label: str, event: dict[str, Any], received_at: datetime) -> None:
        rows, rejections = validate_events([event], received_at)
        assert rejections == []
        assert not sink.write(rows, Request(label, received_at)).failed
        ids[label] = event["event_id"]

    for label, moment in {
        "at_from": start,
        "before_to": end - tick,
        "at_to": end,
        "before_from": start - tick,
    }.items():
        store(label, sample_event("search", now=moment), moment)
    # Resent after BigQuery's insertId window: two copies, the archive gets the latest once.
    twice = sample_event("order_placed", now=start)
    second = start + timedelta(minutes=20)
    store("first_copy", twice, start + timedelta(minutes=10))
    [copy], _ = validate_events([twice], second)
    table = f"{config.project}.{dataset}.orders"
    assert cloud.bigquery_client().insert_rows_json(table, [copy.data], row_ids=["resent"]) == []
    assert len(cloud.rows("orders", [twice["event_id"]], dataset=dataset)) == 2

    status = main(
        ["--from", start.isoformat(), "--to", end.isoformat()],
        config,
        now=lambda: datetime.now(UTC),
        out=io.StringIO(),
        progress=io.StringIO(),
    )

    assert status == 0
    got = by_event(archive_lines(cloud, bucket))
    assert set(got) == {ids["at_from"], ids["before_to"], twice["event_id"]}
    assert len(archive_lines(cloud, bucket)) == 3
    assert json.loads(got[twice["event_id"]])["received_at"] == (
        second.isoformat().replace("+00:00", "Z")
    )
