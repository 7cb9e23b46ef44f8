"""Archive of every accepted event as NDJSON in Cloud Storage: one object per request.

One object holds the request's events of every family, each line an event as validation wrote
it (its ``event_type`` names its table). One object rather than one per table: each object is
an upload call (about 0.6 ms of the function's CPU) and a billed Class A operation, and a batch
of every family would otherwise pay five of each. A load of the archive splits lines by
``event_type``.
"""

from collections.abc import Sequence

from event_capture.contracts.archive_layout import ARCHIVE_AREA, object_name
from event_capture.ingest.retry import describe
from event_capture.ingest.row import Request, Row
from event_capture.ingest.sinks.gcs_objects import NdjsonWriter
from event_capture.ingest.sinks.result import FailureKind, SinkResult, all_failed
from event_capture.platform.api_calls import ARCHIVE_BUCKET, ApiCall

# One object per request, never overwritten; after a 412 the object is read back to tell a retry
# of our own write from another (gcs_objects.NdjsonWriter).
API_CALLS = (
    ApiCall("storage.objects.insert", ARCHIVE_BUCKET),
    ApiCall("storage.objects.get", ARCHIVE_BUCKET),
)


def archive_object_name(request: Request) -> str:
    """``archive/dt=YYYY-MM-DD/hour=HH/<time>-<request>.ndjson``."""
    return object_name(ARCHIVE_AREA, request.received_at, request.id)


class GcsArchiveSink:
    def __init__(self, writer: NdjsonWriter) -> None:
        self._writer = writer

    def write(self, rows: Sequence[Row], request: Request) -> SinkResult:
        """Archive the request's rows in one object."""
        if not rows:
            return SinkResult.of([], [])
        try:
            retries = self._writer.create(
                archive_object_name(request), (row.json for row in rows), request=request
            )
        except Exception as error:  # noqa: BLE001 - a failed archive must not fail the request
            failed = all_failed(rows, FailureKind.UNDELIVERED, describe(error))
            return SinkResult.of([], failed, error=failed[0].failure.detail)
        return SinkResult.of(list(rows), [], retries=retries)
