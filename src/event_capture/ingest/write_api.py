"""BigQuery's Storage Write API: rows appended to each table's default stream over gRPC.

The sink (``sinks/bigquery.py``) calls this exactly as it calls insertAll (the ``InsertAll``
Protocol): rows in, insertAll-shaped per-row errors out, call failures raised. So retries,
deadlines, dead letters and metrics are the sink's, for both paths.

- One gRPC channel per instance (the client's), and per table one open append stream on the
  table's ``_default`` stream (at-least-once; the ``_dedup`` views make reads exact), opened on
  first use with the table's writer schema (``proto_rows``) in its first request.
- Appends from several requests to one table share the stream: sends are ordered under a lock,
  answers awaited outside it.
- A stream that sat idle is closed and opened again before the next append: on Cloud Run an
  append after about 600 idle seconds fails ("inactive for 600 seconds",
  googleapis/google-cloud-python#15693). A stream found closed under an append is opened again
  and the append sent once more.
- An append with invalid rows fails whole: its ``row_errors`` name the invalid rows (reason
  ``invalid``), the others come back ``stopped``, as insertAll marks them, and the sink sends
  them again.
"""

import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from event_capture.ingest.proto_rows import TableEncoder, table_encoders
from event_capture.ingest.row import Row
from event_capture.platform.api_calls import EVENT_TABLES, ApiCall

# Rows appended to the event tables' default streams (the capture functions, replay).
API_CALLS = (ApiCall("bigquerystorage.BigQueryWrite.AppendRows", EVENT_TABLES),)
# Cloud Run closes a stream idle for about 600 s; one idle this long is reopened before use.
IDLE_LIMIT_SECONDS = 540.0


class AppendStream(Protocol):
    """One open append stream of one table (``open_stream``'s answer)."""

    @property
    def active(self) -> bool: ...

    def send(self, rows: Sequence[bytes]) -> "PendingAppend": ...

    def close(self) -> None: ...


class PendingAppend(Protocol):
    def result(self, timeout: float) -> Any: ...


class StreamClosedError(Exception):
    """The stream was closed under an append: no answer will come on it."""


@dataclass(frozen=True, slots=True)
class RowError:
    index: int
    message: str


class RowsRejectedError(Exception):
    """An append refused for invalid rows (the API's ``row_errors``); no row of it landed."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__(f"{len(errors)} invalid rows")
        self.errors = errors


# (table as project.dataset.table, the table's encoder) -> an open stream.
StreamOpener = Callable[[str, TableEncoder], AppendStream]


def default_stream(table: str) -> str:
    # Project ids may hold a dot ("example.com:app"); dataset and table ids never do.
    project, dataset, table_id = table.rsplit(".", 2)
    return f"projects/{project}/datasets/{dataset}/tables/{table_id}/streams/_default"


def insert_errors(rows: int, invalid: Sequence[RowError]) -> list[dict[str, Any]]:
    """insertAll's ``insertErrors`` for an append refused for ``invalid`` rows: those
    ``invalid``, every other row ``stopped``."""
    by_index = {error.index: error.message for error in invalid}
    return [
        {
            "index": index,
            "errors": [{"reason": "invalid", "location": "", "message": by_index[index]}]
            if index in by_index
            else [{"reason": "stopped", "location": "", "message": ""}],
        }
        for index in range(rows)
    ]


class _TableStream:
    """A table's stream and when it was last used; replaced, never reopened in place."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stream: AppendStream | None = None
        self.last_used = 0.0


class WriteApiAppends:
    """``InsertAll`` over the Write API's default streams, one stream per table."""

    def __init__(
        self,
        open_stream: StreamOpener,
        *,
        clock: Callable[[], float],
        idle_limit_seconds: float = IDLE_LIMIT_SECONDS,
        encoders: Callable[[], dict[str, TableEncoder]] = table_encoders,
    ) -> None:
        self._open_stream = open_stream
        self._clock = clock
        self._idle_limit = idle_limit_seconds
        self._encoders = encoders()
        self._tables: dict[str, _TableStream] = {}
        self._tables_lock = threading.Lock()
        # Streams opened, for tests and the benchmark (a reopen shows as one more).
        self.opened = 0

    def insert_all(
        self, table: str, rows: Sequence[Row], *, timeout: float
    ) -> Sequence[dict[str, Any]]:
        encoder = self._encoders[table.rsplit(".", 1)[1]]
        encoded: list[bytes] = []
        invalid: list[RowError] = []
        for index, row in enumerate(rows):
            try:
                encoded.append(encoder.encode(row))
            except ValueError as error:
                invalid.append(RowError(index, str(error)[:300]))
        if invalid:
            # Nothing is sent: the valid rows go again, without the invalid ones, as insertAll's
            # "stopped" rows do.
            return insert_errors(len(rows), invalid)
        try:
            self._append(table, encoder, encoded, timeout)
        except RowsRejectedError as rejected:
            return insert_errors(len(rows), rejected.errors)
        return []

    def _append(self, table: str, encoder: TableEncoder, rows: list[bytes], timeout: float) -> None:
        slot = self._slot(table)
        for attempt in (1, 2):
            stream: AppendStream | None = None
            try:
                with slot.lock:
                    stream = self._usable(slot, table, encoder)
                    pending = stream.send(rows)
                pending.result(timeout)
                return
            except RowsRejectedError:
                raise
            except StreamClosedError:
                if stream is not None:
                    self._discard(slot, stream)
                if attempt == 2:
                    raise
            except BaseException:
                # A failed or hung stream is never used again: the next append opens another.
                if stream is not None:
                    self._discard(slot, stream)
                raise

    def _slot(self, table: str) -> _TableStream:
        with self._tables_lock:
            slot = self._tables.get(table)
            if slot is None:
                slot = self._tables[table] = _TableStream()
            return slot

    def _usable(self, slot: _TableStream, table: str, encoder: TableEncoder) -> AppendStream:
        """The slot's stream, opened again when closed or idle too long (under slot.lock)."""
        now = self._clock()
        stream = slot.stream
        if stream is not None and (not stream.active or now - slot.last_used > self._idle_limit):
            slot.stream = None
            _close_quietly(stream)
            stream = None
        if stream is None:
            stream = slot.stream = self._open_stream(table, encoder)
            self.opened += 1
        slot.last_used = now
        return stream

    def _discard(self, slot: _TableStream, stream: AppendStream) -> None:
        with slot.lock:
            if slot.stream is stream:
                slot.stream = None
        _close_quietly(stream)

    def close(self) -> None:
        with self._tables_lock:
            slots = list(self._tables.values())
        for slot in slots:
            with slot.lock:
                stream, slot.stream = slot.stream, None
            if stream is not None:
                _close_quietly(stream)


def _close_quietly(stream: AppendStream) -> None:
    # A stream that will not close is dropped all the same.
    with contextlib.suppress(Exception):
        stream.close()


class LibraryStream:
    """An ``AppendStream`` on google-cloud-bigquery-storage's ``writer.AppendRowsStream``."""

    def __init__(self, client: Any, table: str, encoder: TableEncoder) -> None:
        from google.cloud.bigquery_storage_v1 import types, writer

        self._types = types
        template = types.AppendRowsRequest(
            write_stream=default_stream(table),
            proto_rows=types.AppendRowsRequest.ProtoData(
                writer_schema=types.ProtoSchema(proto_descriptor=encoder.descriptor)
            ),
        )
        self._stream = writer.AppendRowsStream(client, template)
        self._closed = False

    @property
    def active(self) -> bool:
        return not self._closed

    def send(self, rows: Sequence[bytes]) -> "LibraryAppend":
        from google.cloud.bigquery_storage_v1.exceptions import StreamClosedError as Closed

        types = self._types
        request = types.AppendRowsRequest()
        request._pb.proto_rows.rows.serialized_rows.extend(rows)
        try:
            return LibraryAppend(self._stream.send(request))
        except Closed as error:
            raise StreamClosedError(str(error)) from error

    def close(self) -> None:
        self._closed = True
        self._stream.close()


class LibraryAppend:
    def __init__(self, future: Any) -> None:
        self._future = future

    def result(self, timeout: float) -> Any:
        from google.api_core.exceptions import GoogleAPICallError
        from google.cloud.bigquery_storage_v1.exceptions import StreamClosedError as Closed

        try:
            return self._future.result(timeout=timeout)
        except Closed as error:
            raise StreamClosedError(str(error)) from error
        except GoogleAPICallError as error:
            response = getattr(error, "response", None)
            row_errors = getattr(response, "row_errors", None)
            if row_errors:
                raise RowsRejectedError(
                    [RowError(int(e.index), str(e.message)) for e in row_errors]
                ) from error
            raise


def library_streams(client: Any) -> StreamOpener:
    """Streams on one ``BigQueryWriteClient`` (one channel for every table)."""
    return lambda table, encoder: LibraryStream(client, table, encoder)
