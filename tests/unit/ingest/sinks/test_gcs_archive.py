"""ingest.sinks.gcs_archive: a request's accepted rows as one object of the archive, on the
create-only writer and a fake bucket; a failed write fails every row and raises nothing."""

from __future__ import annotations

from google.api_core import exceptions as gexc

from event_capture.ingest.row import Request
from event_capture.ingest.sinks.gcs_archive import GcsArchiveSink
from event_capture.ingest.sinks.result import FailureKind
from event_capture.ingest.validation import validate_events
from event_capture.schemas.responses import SinkStatus
from tests.fakes.clock import Clock
from tests.fakes.storage import FakeBucket, Fault
from tests.unit import event_factory as factory
from tests.unit.ingest.sinks.test_gcs_objects import writer

R = factory.RECEIVED_AT


def test_the_archive_keeps_a_request_of_every_family_in_one_object_in_request_order() -> None:
    bucket, clock = FakeBucket(), Clock()
    w, _ = writer(bucket, clock)
    events = [factory.search(R), factory.order(R), factory.search(R), factory.voice(R)]
    rows, rejected = validate_events(events, R)
    assert not rejected and len({row.table for row in rows}) == 3

    result = GcsArchiveSink(w).write(rows, Request("req1", R))

    assert (result.status, result.stored, result.failed) == (SinkStatus.OK, rows, [])
    assert list(bucket.objects) == ["archive/dt=2026-11-28/hour=16/20261128T163733-req1.ndjson"]
    [stored] = bucket.objects.values()
    assert stored.data.splitlines() == [row.json for row in rows]


def test_a_failed_archive_write_fails_every_row_of_the_request_and_raises_nothing() -> None:
    bucket, clock = FakeBucket(faults={"upload": [Fault(gexc.Forbidden("no"))]}), Clock()  # type: ignore[no-untyped-call]
    w, _ = writer(bucket, clock)
    rows, _ = validate_events([factory.search(R), factory.order(R)], R)

    result = GcsArchiveSink(w).write(rows, Request("req1", R))

    assert result.status == SinkStatus.FAILED
    assert [f.row for f in result.failed] == rows
    assert {f.failure.kind for f in result.failed} == {FailureKind.UNDELIVERED}
    assert bucket.objects == {}
