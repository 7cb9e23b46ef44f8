"""Replay on a fake bucket: what moves where, and the races between runs.

Two operators (or an operator and a retried job) may replay at once, and a run may die at any
step. Whatever the interleaving, no row is lost and none is stored twice under two insertIds:
every row is inserted with its original insertId, and BigQuery de-duplicates repeats. The same
flow runs against fake-gcs-server and the BigQuery emulator in tests/integration.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest
from google.api_core import exceptions as gexc

from event_capture.ingest.retry import Timing
from event_capture.ingest.row import Row
from event_capture.ingest.sinks import dead_letter
from event_capture.ingest.sinks.gcs_objects import NdjsonWriter
from event_capture.ingest.sinks.result import (
    Failure,
    FailureKind,
    all_failed,
)
from event_capture.ingest.validation import validate_events
from tests.fakes.sinks import FakeSink
from tests.fakes.storage import FakeBucket, FakeStorageClient, Fault
from tests.unit import event_factory as factory
from tools.replay import ReplayReport, replay

R = factory.RECEIVED_AT
NOW = datetime(2026, 11, 29, 9, 0, 0, tzinfo=UTC)
SOURCE = "dead-letter/searches/dt=2026-11-28/hour=16/20261128T163733-req1.ndjson"
REPLAYED = "dead-letter-replayed/searches/dt=2026-11-28/hour=16/20261128T163733-req1.ndjson"
INVALID = "dead-letter-invalid/searches/dt=2026-11-28/hour=16/20261128T163733-req1.ndjson"
RETRY = (
    "dead-letter/searches/dt=2026-11-28/hour=16/20261128T163733-req1-retry-20261129T090000.ndjson"
)


def bigquery(verdict: Callable[[Row], FailureKind | None] = lambda row: None) -> FakeSink:
    """The BigQuery sink: inserts each row ``verdict`` answers None for, fails the others so."""

    def refuses(row: Row) -> Failure | None:
        kind = verdict(row)
        return None if kind is None else Failure(kind, f"{kind} {row.index}")

    return FakeSink(name="bigquery", refuses=refuses)


def searches(count: int) -> list[Row]:
    rows, rejections = validate_events([factory.search(R) for _ in range(count)], R)
    assert rejections == []
    return rows


def dead_lettered(bucket: FakeBucket, rows: Sequence[Row], name: str = SOURCE) -> None:
    entries = all_failed(rows, FailureKind.UNDELIVERED, "deadline of 20s exceeded")
    bucket.upload(name, "".join(dead_letter.encode(e) + "\n" for e in entries), {})


def run(
    bucket: FakeBucket,
    sink: FakeSink,
    stored: Callable[[str, Sequence[Row]], set[str]] | None = None,
) -> ReplayReport:
    writer = NdjsonWriter(
        lambda: FakeStorageClient(bucket),
        bucket="dead-letters",
        deadline_seconds=5.0,
        timing=Timing(lambda: 0.0, lambda seconds: None, lambda: 0.0),
    )
    if stored is None:
        return replay(writer, sink, progress=io.StringIO(), now=lambda: NOW)
    return replay(writer, sink, progress=io.StringIO(), now=lambda: NOW, stored=stored)


def ids_in(bucket: FakeBucket, name: str) -> list[str]:
    return [entry.row.event_id for entry in dead_letter.decode(bucket.objects[name].data)]


def test_every_row_is_inserted_with_its_insert_id_and_the_object_moved() -> None:
    bucket, rows = FakeBucket(), searches(3)
    dead_lettered(bucket, rows)
    sink = bigquery()

    report = run(bucket, sink)

    assert sink.event_ids == [row.event_id for row in rows]
    assert set(bucket.objects) == {REPLAYED}
    assert report.as_dict() == {
        "objects": 1,
        "rows": 3,
        "already_stored": 0,
        "inserted": 3,
        "invalid": 0,
        "still_failing": 0,
    }
    # The moved object is byte for byte what the function wrote.
    assert ids_in(bucket, REPLAYED) == [row.event_id for row in rows]


def test_invalid_rows_go_to_a_person_and_transient_ones_stay_for_the_next_run() -> None:
    bucket, rows = FakeBucket(), searches(3)
    dead_lettered(bucket, rows)
    kinds = {rows[0].event_id: FailureKind.INVALID, rows[2].event_id: FailureKind.UNDELIVERED}
    sink = bigquery(lambda row: kinds.get(row.event_id))

    report = run(bucket, sink)

    assert ids_in(bucket, INVALID) == [rows[0].event_id]
    assert ids_in(bucket, RETRY) == [rows[2].event_id]
    assert REPLAYED in bucket.objects and SOURCE not in bucket.objects
    assert (report.inserted, report.invalid, report.still_failing) == (1, 1, 1)
    # Leftovers are written before the original leaves dead-letter/: a crash between the
    # two repeats work, never loses a row.
    moved = bucket.journal.index(("delete", SOURCE))
    assert bucket.journal.index(("upload", INVALID)) < moved
    assert bucket.journal.index(("upload", RETRY)) < moved
    # What BigQuery said of each row is what a person reads.
    [entry] = dead_letter.decode(bucket.objects[INVALID].data)
    assert entry.failure == Failure(FailureKind.INVALID, "invalid 0")


def test_a_second_run_finds_nothing_to_do() -> None:
    bucket, sink = FakeBucket(), bigquery()
    dead_lettered(bucket, searches(2))
    run(bucket, sink)

    again = run(bucket, sink)

    assert again.objects == 0
    assert len(sink.event_ids) == 2


def test_another_run_moving_the_object_first_is_not_an_error() -> None:
    # Between our copy and our delete, a concurrent run deletes the source.
    bucket, rows = FakeBucket(), searches(2)
    dead_lettered(bucket, rows)

    def concurrent_delete(op: str, name: str) -> None:
        if op == "copy":
            bucket.objects.pop(SOURCE, None)

    bucket.after = concurrent_delete

    report = run(bucket, bigquery())

    assert report.objects == 1
    assert set(bucket.objects) == {REPLAYED}


def test_a_copy_already_made_by_an_earlier_run_still_removes_the_source() -> None:
    # An earlier run copied, then died before deleting: our copy gets 412, our delete works.
    bucket, rows = FakeBucket(), searches(2)
    dead_lettered(bucket, rows)
    bucket.upload(REPLAYED, bucket.objects[SOURCE].data, {})

    report = run(bucket, bigquery())

    assert report.objects == 1
    assert set(bucket.objects) == {REPLAYED}


def test_leftovers_already_written_by_an_interrupted_run_are_kept_once() -> None:
    bucket, rows = FakeBucket(), searches(2)
    dead_lettered(bucket, rows)
    invalid = lambda row: FailureKind.INVALID  # noqa: E731 - every row is refused
    bucket.upload(INVALID, "what the interrupted run wrote\n", {})

    report = run(bucket, bigquery(invalid))

    assert report.invalid == 2
    assert bucket.objects[INVALID].data == "what the interrupted run wrote\n"
    assert SOURCE not in bucket.objects


def test_a_run_that_dies_before_the_move_is_repeated_with_the_same_insert_ids() -> None:
    bucket, rows = FakeBucket(), searches(2)
    dead_lettered(bucket, rows)
    forbidden = gexc.Forbidden("copy not allowed")  # type: ignore[no-untyped-call]
    bucket.faults["copy"] = [Fault(forbidden)]
    sink = bigquery()

    with pytest.raises(gexc.Forbidden):
        run(bucket, sink)
    assert SOURCE in bucket.objects  # nothing lost: the object is still there to replay

    run(bucket, sink)

    ids = [row.event_id for row in rows]
    assert sink.event_ids == ids + ids  # the same insertIds: BigQuery keeps one copy
    assert set(bucket.objects) == {REPLAYED}


def test_rows_bigquery_already_holds_are_not_inserted_again() -> None:
    # A request answered 503 after dead-lettering this table; its resend was stored. Replaying
    # the dead-lettered copy hours later would duplicate it, outside BigQuery's own window.
    bucket, rows = FakeBucket(), searches(3)
    dead_lettered(bucket, rows)
    asked: list[tuple[str, list[str]]] = []

    def stored(table: str, candidates: Sequence[Row]) -> set[str]:
        asked.append((table, [row.event_id for row in candidates]))
        return {rows[0].event_id, rows[2].event_id}

    sink = bigquery()
    report = run(bucket, sink, stored)

    assert asked == [("searches", [row.event_id for row in rows])]
    assert sink.event_ids == [rows[1].event_id]
    assert (report.already_stored, report.inserted) == (2, 1)
    assert set(bucket.objects) == {REPLAYED}
