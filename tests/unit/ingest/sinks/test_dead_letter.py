"""ingest.sinks.dead_letter: a dead letter's line, written and read back, including the lines
written before the failure kind had a field of its own."""

from __future__ import annotations

from event_capture.ingest.row import Row
from event_capture.ingest.sinks import dead_letter
from event_capture.ingest.sinks.result import FailedRow, Failure, FailureKind
from event_capture.ingest.validation import validate_events
from tests.unit import event_factory as factory

R = factory.RECEIVED_AT


def searches(count: int) -> list[Row]:
    rows, rejections = validate_events([factory.search(R) for _ in range(count)], R)
    assert rejections == []
    return rows


def test_lines_written_before_the_failure_kind_had_its_own_field_are_read() -> None:
    [row] = searches(1)
    line = (
        f'{{"insert_id":"{row.event_id}","table":"searches","event_type":"search",'
        f'"reason":"invalid: row: no such field","row":{row.json}}}'
    )

    [entry] = dead_letter.decode(line)

    assert entry.row == Row(0, row.event_id, "search", "searches", row.user_id, row.json)
    assert entry.failure.kind is FailureKind.INVALID


def test_encode_and_decode_are_inverse() -> None:
    rows = searches(3)
    entries = [FailedRow(r, Failure(FailureKind.UNDELIVERED, f'quote " {r.index}')) for r in rows]

    decoded = dead_letter.decode("\n".join(dead_letter.encode(e) for e in entries))

    assert decoded == entries
