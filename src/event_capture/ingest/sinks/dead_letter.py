"""The dead-letter area: rows BigQuery did not take, kept in Cloud Storage for ``replay``.

Each line holds the row exactly as it was sent, its insertId and why it failed, so a replay
re-inserts it with the same insertId and the de-duplicated views keep reads exact.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from event_capture.ingest.sinks.gcs_objects import NdjsonWriter, object_name
from event_capture.ingest.validation import Row, group_by_table

DEAD_LETTER_AREA = "dead-letter"
REPLAYED_AREA = "dead-letter-replayed"


def dead_letter_line(row: Row, reason: str) -> str:
    return (
        f'{{"insert_id":{json.dumps(row.event_id)},"table":{json.dumps(row.table)},'
        f'"event_type":{json.dumps(row.event_type)},"reason":{json.dumps(reason)},"row":{row.json}}}'
    )


@dataclass(slots=True)
class DeadLetterResult:
    written: list[Row] = field(default_factory=list)
    retries: int = 0
    error: str | None = None


class DeadLetterWriter:
    def __init__(self, writer: NdjsonWriter) -> None:
        self._writer = writer

    def write(
        self, failed: Sequence[tuple[Row, str]], received_at: datetime, request_id: str
    ) -> DeadLetterResult:
        """Write failed rows, one object per table; reports which rows are now durable."""
        reasons = {row.event_id: reason for row, reason in failed}
        result = DeadLetterResult()
        for table, rows in group_by_table(row for row, _ in failed).items():
            name = object_name(DEAD_LETTER_AREA, table, received_at, request_id)
            try:
                result.retries += self._writer.create(
                    name, (dead_letter_line(row, reasons[row.event_id]) for row in rows)
                )
            except Exception as error:  # noqa: BLE001 - reported; the caller answers 503
                result.error = f"{type(error).__name__}: {error}"[:300]
                continue
            result.written.extend(rows)
        return result
