"""Split rows into insertAll requests under BigQuery's row and byte limits."""

from collections.abc import Iterator, Sequence

from event_capture.ingest.limits import BIGQUERY_MAX_BYTES_PER_INSERT, BIGQUERY_MAX_ROWS_PER_INSERT
from event_capture.ingest.row import Row

# Each row travels as {"insertId": "<36 chars>", "json": <row>} plus a separator.
ROW_OVERHEAD_BYTES = 64


def chunk_rows(
    rows: Sequence[Row],
    max_rows: int = BIGQUERY_MAX_ROWS_PER_INSERT,
    max_bytes: int = BIGQUERY_MAX_BYTES_PER_INSERT,
) -> Iterator[list[Row]]:
    """Yield consecutive chunks of at most ``max_rows`` rows and ``max_bytes`` of row JSON.

    A single row larger than ``max_bytes`` still gets a chunk of its own: BigQuery then
    rejects it as invalid and it is dead-lettered, rather than blocking the rest.
    """
    chunk: list[Row] = []
    size = 0
    for row in rows:
        row_size = len(row.json) + ROW_OVERHEAD_BYTES
        if chunk and (len(chunk) == max_rows or size + row_size > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += row_size
    if chunk:
        yield chunk
