"""Archive of every accepted event as NDJSON in Cloud Storage, one object per request and table."""

import time
from collections.abc import Sequence
from datetime import datetime

from event_capture.ingest.sinks.gcs_objects import NdjsonWriter, object_name
from event_capture.ingest.sinks.outcome import SinkOutcome, SinkStatus, status_of
from event_capture.ingest.validation import Row, group_by_table

ARCHIVE_AREA = "archive"


class GcsArchiveSink:
    def __init__(self, writer: NdjsonWriter) -> None:
        self._writer = writer

    def write(
        self, rows: Sequence[Row], received_at: datetime, request_id: str
    ) -> tuple[SinkOutcome, list[Row]]:
        """Archive rows, one object per table; returns the outcome and the rows written."""
        started = time.perf_counter()
        archived: list[Row] = []
        retries = 0
        try:
            for table, table_rows in group_by_table(rows).items():
                retries += self._writer.create(
                    object_name(ARCHIVE_AREA, table, received_at, request_id),
                    (row.json for row in table_rows),
                )
                archived.extend(table_rows)
        except Exception as error:  # noqa: BLE001 - a failed archive must not fail the request
            outcome = SinkOutcome(
                status_of(len(archived), len(rows) - len(archived)),
                rows=len(archived),
                latency_ms=(time.perf_counter() - started) * 1000,
                retries=retries,
                error=f"{type(error).__name__}: {error}"[:300],
            )
            return outcome, archived
        outcome = SinkOutcome(
            SinkStatus.OK,
            rows=len(archived),
            latency_ms=(time.perf_counter() - started) * 1000,
            retries=retries,
        )
        return outcome, archived
