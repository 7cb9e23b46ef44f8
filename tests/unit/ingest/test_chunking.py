"""Tests for ingest.chunking.chunk_rows: insertAll requests stay under row and byte limits."""

from __future__ import annotations

import json
import uuid
from itertools import pairwise

import pytest

from event_capture.ingest.chunking import ROW_OVERHEAD_BYTES, chunk_rows
from event_capture.ingest.row import Row
from event_capture.ingest.validation import validate_events
from tests.unit import event_factory as factory


def make_row(index: int, json_size: int = 20) -> Row:
    """A row whose serialized JSON is exactly ``json_size`` characters long."""
    assert json_size >= 10
    payload = '{"p":"' + "x" * (json_size - 8) + '"}'
    assert len(payload) == json_size
    return Row(
        index=index,
        event_id=str(uuid.uuid4()),
        event_type="search",
        table="searches",
        user_id="u_1",
        json=payload,
    )


def wire_size(chunk: list[Row]) -> int:
    return sum(len(row.json) + ROW_OVERHEAD_BYTES for row in chunk)


def test_1001_rows_make_chunks_of_500_500_and_1() -> None:
    rows = [make_row(i) for i in range(1001)]

    chunks = list(chunk_rows(rows))

    assert [len(chunk) for chunk in chunks] == [500, 500, 1]
    assert [row for chunk in chunks for row in chunk] == rows


def test_exactly_500_rows_make_one_chunk() -> None:
    rows = [make_row(i) for i in range(500)]

    assert [len(chunk) for chunk in chunk_rows(rows)] == [500]


def test_byte_cap_is_respected_and_chunks_are_filled_greedily() -> None:
    # 100-character rows weigh 100 + overhead; four of them fit in the cap, five do not.
    per_row = 100 + ROW_OVERHEAD_BYTES
    max_bytes = 4 * per_row + per_row // 2
    rows = [make_row(i, 100) for i in range(10)]

    chunks = list(chunk_rows(rows, max_rows=500, max_bytes=max_bytes))

    assert [len(chunk) for chunk in chunks] == [4, 4, 2]
    assert all(wire_size(chunk) <= max_bytes for chunk in chunks)


def test_rows_of_mixed_sizes_never_exceed_the_cap_and_fill_each_chunk() -> None:
    sizes = [50, 700, 120, 333, 90, 610, 10, 480, 256, 999, 64, 71, 500, 20]
    rows = [make_row(i, size) for i, size in enumerate(sizes)]
    max_bytes = 1200

    chunks = list(chunk_rows(rows, max_rows=500, max_bytes=max_bytes))

    assert [row for chunk in chunks for row in chunk] == rows
    assert len(chunks) >= 4
    for chunk, following in pairwise(chunks):
        assert wire_size(chunk) <= max_bytes
        # A chunk is closed only when the next row would not have fitted.
        assert wire_size([*chunk, following[0]]) > max_bytes
    assert wire_size(chunks[-1]) <= max_bytes


def test_a_chunk_may_be_filled_exactly_to_the_cap() -> None:
    rows = [make_row(0, 100), make_row(1, 200)]
    max_bytes = wire_size(rows)

    assert [len(c) for c in chunk_rows(rows, max_rows=500, max_bytes=max_bytes)] == [2]
    assert [len(c) for c in chunk_rows(rows, max_rows=500, max_bytes=max_bytes - 1)] == [1, 1]


def test_an_oversize_row_gets_a_chunk_of_its_own() -> None:
    small_before = [make_row(0, 40), make_row(1, 40)]
    huge = make_row(2, 5000)
    small_after = [make_row(3, 40), make_row(4, 40)]

    chunks = list(chunk_rows([*small_before, huge, *small_after], max_rows=500, max_bytes=1000))

    assert chunks == [small_before, [huge], small_after]


def test_consecutive_oversize_rows_each_get_their_own_chunk() -> None:
    rows = [make_row(i, 2000) for i in range(3)]

    chunks = list(chunk_rows(rows, max_rows=500, max_bytes=1000))

    assert chunks == [[rows[0]], [rows[1]], [rows[2]]]


def test_row_limit_applies_even_when_bytes_would_allow_more() -> None:
    rows = [make_row(i) for i in range(7)]

    chunks = list(chunk_rows(rows, max_rows=3, max_bytes=10_000_000))

    assert [[row.index for row in chunk] for chunk in chunks] == [[0, 1, 2], [3, 4, 5], [6]]


def test_default_byte_cap_keeps_large_rows_under_the_10mb_request_limit() -> None:
    rows = [make_row(i, 30_000) for i in range(400)]  # about 12 MB in all

    chunks = list(chunk_rows(rows))

    assert len(chunks) == 2
    assert all(wire_size(chunk) < 10_000_000 for chunk in chunks)
    assert [row for chunk in chunks for row in chunk] == rows


@pytest.mark.parametrize("count", [0, 1, 499, 501, 1000, 1499])
def test_no_empty_chunks_and_order_preserved(count: int) -> None:
    rows = [make_row(i, 10 + i % 50) for i in range(count)]

    chunks = list(chunk_rows(rows, max_rows=500, max_bytes=20_000))

    assert all(chunks)
    assert [row.index for chunk in chunks for row in chunk] == list(range(count))
    assert all(len(chunk) <= 500 and wire_size(chunk) <= 20_000 for chunk in chunks)


def test_empty_input_gives_no_chunks() -> None:
    assert list(chunk_rows([])) == []


def test_overhead_covers_the_insert_all_wrapper_of_a_real_row() -> None:
    rows, _ = validate_events(factory.one_of_each(factory.RECEIVED_AT), factory.RECEIVED_AT)

    for row in rows:
        # How the client wraps each row in the request body, separator included.
        wrapped = json.dumps({"insertId": row.event_id, "json": row.data}) + ", "
        row_in_body = json.dumps(row.data)
        assert len(wrapped) - len(row_in_body) <= ROW_OVERHEAD_BYTES
