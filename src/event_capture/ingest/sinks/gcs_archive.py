"""Archive of every accepted event as NDJSON in Cloud Storage, one object per request and table."""

from collections.abc import Sequence

from event_capture.ingest.retry import describe
from event_capture.ingest.row import Request, Row, group_by_table
from event_capture.ingest.sinks.gcs_objects import NdjsonWriter, object_name
from event_capture.ingest.sinks.result import FailureKind, SinkResult, all_failed

ARCHIVE_AREA = "archive"


class GcsArchiveSink:
    def __init__(self, writer: NdjsonWriter) -> None:
        self._writer = writer

    def write(self, rows: Sequence[Row], request: Request) -> SinkResult:
        """Archive rows, one object per table; stops at the first object that fails."""
        archived: list[Row] = []
        retries = 0
        for table, table_rows in group_by_table(rows).items():
            name = object_name(ARCHIVE_AREA, table, request.received_at, request.id)
            try:
                retries += self._writer.create(name, (row.json for row in table_rows))
            except Exception as error:  # noqa: BLE001 - a failed archive must not fail the request
                detail = describe(error)
                done = {row.event_id for row in archived}
                rest = [row for row in rows if row.event_id not in done]
                failed = all_failed(rest, FailureKind.UNDELIVERED, detail)
                return SinkResult.of(archived, failed, retries=retries, error=detail)
            archived.extend(table_rows)
        return SinkResult.of(archived, [], retries=retries)
