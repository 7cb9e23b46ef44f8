"""Tests for event_capture.ingest.archive_group: which objects a write makes, and the bounds on
what an instance holds. The pipeline's use of it (when lines join, when a request writes them)
is tested in test_pipeline.py."""

import datetime as dt
import json

import pytest

from event_capture.ingest.archive_group import ArchiveGroup
from event_capture.ingest.row import Request, Row
from tests.fakes.clock import WallClock
from tests.fakes.sinks import FakeSink
from tests.unit import event_factory as factory

NOON = dt.datetime(2026, 12, 7, 12, 59, 30, tzinfo=dt.UTC)


def row(number: int, size: int = 10) -> Row:
    return Row(number, f"e{number}", "search", "searches", "u", "x" * (size - 1))


def group(sink: FakeSink, wall: WallClock, **options: int) -> ArchiveGroup:
    return ArchiveGroup(sink, flush_seconds=60.0, clock=wall, **options)


def test_a_write_makes_one_object_per_hour_folder_named_after_the_request() -> None:
    sink, wall = FakeSink(), WallClock(NOON)
    archive = group(sink, wall)
    archive.add([row(1), row(2)], NOON)
    archive.add([row(3)], NOON + dt.timedelta(seconds=40))

    wall.now += dt.timedelta(seconds=60)
    taken = archive.take([], wall.now, own=False)
    written = archive.write(taken, Request("req1", wall.now, 5.0))

    assert [[r.event_id for r in call] for call in sink.calls] == [["e1", "e2"], ["e3"]]
    # Each object's name and folder come from its first line's hour, its id from the request.
    assert [(r.id, r.received_at, r.expires_at) for r in sink.requests] == [
        ("req1", NOON, 5.0),
        ("req1-1", NOON + dt.timedelta(seconds=40), 5.0),
    ]
    assert (written.objects, len(written.result.stored), archive.buffered) == (2, 3, 0)


def test_nothing_is_taken_before_the_oldest_line_is_due() -> None:
    sink, wall = FakeSink(), WallClock(NOON)
    archive = group(sink, wall)
    archive.add([row(1)], NOON)
    wall.now += dt.timedelta(seconds=59)

    assert archive.take([], wall.now, own=False).lines == []
    wall.now += dt.timedelta(seconds=1)
    assert len(archive.take([], wall.now, own=False).lines) == 1


def test_a_buffer_past_an_object_s_size_is_due_at_once_and_split() -> None:
    sink, wall = FakeSink(), WallClock(NOON)
    archive = group(sink, wall, max_object_bytes=25)
    archive.add([row(1), row(2), row(3)], NOON)

    taken = archive.take([], NOON, own=False)
    archive.write(taken, Request("req1", NOON))

    assert [[r.event_id for r in call] for call in sink.calls] == [["e1", "e2"], ["e3"]]


def test_past_the_buffer_s_cap_the_oldest_lines_are_dropped_and_returned() -> None:
    wall = WallClock(NOON)
    archive = group(FakeSink(), wall, max_buffered_bytes=25)
    archive.add([row(1)], NOON)

    dropped = archive.add([row(2), row(3)], NOON + dt.timedelta(seconds=1))

    assert [r.event_id for r in dropped] == ["e1"]
    assert archive.buffered == 2


def test_a_failed_object_s_lines_go_back_and_a_request_s_own_do_not() -> None:
    sink, wall = FakeSink(down=True), WallClock(NOON)
    archive = group(sink, wall)
    archive.add([row(1)], NOON)

    taken = archive.take([row(2)], NOON, own=True)
    written = archive.write(taken, Request("req1", NOON))

    assert written.result.stored == [] and written.kept == 1
    assert archive.buffered == 1
    assert [ln.row.event_id for ln in archive.take([], NOON, own=True).lines] == ["e1"]


def test_the_shutdown_write_logs_one_line_and_nothing_when_nothing_was_held(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from event_capture.ingest.function import flush_archive
    from event_capture.ingest.pipeline import CapturePipeline

    archive = FakeSink()
    pipeline = CapturePipeline(
        bigquery=FakeSink(),
        dead_letter=None,
        archive=archive,
        redis=None,
        clock=lambda: NOON,
        archive_flush_seconds=60.0,
    )
    flush_archive(pipeline)
    assert capsys.readouterr().out == ""

    pipeline.handle([factory.search(NOON)], batch=True)
    capsys.readouterr()
    flush_archive(pipeline)

    [line] = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert line["message"] == "archive_flush" and line["severity"] == "INFO"
    assert (line["archive_objects_written"], line["archive_lines_written"]) == (1, 1)
    assert len(archive.calls) == 1
