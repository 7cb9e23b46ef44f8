"""Archive of every accepted event as NDJSON in Cloud Storage, one object per request and table."""

from collections.abc import Sequence
from concurrent.futures import Executor

from event_capture.ingest.retry import describe
from event_capture.ingest.row import Request, Row, per_table
from event_capture.ingest.sinks.gcs_objects import NdjsonWriter, object_name
from event_capture.ingest.sinks.result import FailureKind, SinkResult, TablePart, all_failed

ARCHIVE_AREA = "archive"


class GcsArchiveSink:
    def __init__(self, writer: NdjsonWriter, *, executor: Executor | None = None) -> None:
        self._writer = writer
        self._executor = executor

    def write(self, rows: Sequence[Row], request: Request) -> SinkResult:
        """Archive rows, one object per table, the tables in parallel."""

        def archive_table(table: str, table_rows: list[Row]) -> TablePart:
            name = object_name(ARCHIVE_AREA, table, request.received_at, request.id)
            try:
                retries = self._writer.create(
                    name, (row.json for row in table_rows), request=request
                )
            except Exception as error:  # noqa: BLE001 - a failed archive must not fail the request
                return [], all_failed(table_rows, FailureKind.UNDELIVERED, describe(error)), 0
            return table_rows, [], retries

        parts = per_table(rows, archive_table, self._executor)
        failed = [f for _, part_failed, _ in parts for f in part_failed]
        return SinkResult.of(
            [row for stored, _, _ in parts for row in stored],
            failed,
            retries=sum(retries for _, _, retries in parts),
            error=failed[0].failure.detail if failed else None,
        )
