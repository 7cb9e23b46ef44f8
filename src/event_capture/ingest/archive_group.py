"""The archive's group commit: an instance writes the archive lines of many requests as one
object per hour folder, not an object per request.

Each object is a billed Class A operation and an upload call; at about one event per request,
an object per request was most of a small app's bill. The rules:

- Streaming (the normal mode): BigQuery, or the dead-letter area, is the store of record. A
  request's rows join the instance's buffer only once they are durable there (a request answered
  503 is resent, and its lines would be archived twice), and no answer waits for the archive. A
  request that finds the buffer due (its oldest line ``ARCHIVE_FLUSH_SECONDS`` old, or past
  ``MAX_OBJECT_BYTES``) takes it and writes it beside its own BigQuery write, within its budget.
- Archive-only mode (the cost guard's), or ``ARCHIVE_FLUSH_SECONDS=0``: the request writes its
  own rows with whatever is buffered, and in archive-only mode its answer waits for that object,
  the store of record.
- Never from a background thread: under request-based billing Cloud Run throttles an instance's
  CPU outside requests, so a timer would starve. At shutdown (SIGTERM, after which Cloud Run
  allows 10 s) ``flush`` writes what is left within ``EXIT_FLUSH_SECONDS``. An instance killed
  outright loses its buffer; those events are in BigQuery, and the scheduled backfill
  (``event_capture.archive_backfill``) writes them into the archive.
- Never a line received more than ``archive_layout.MAX_LINE_AGE_SECONDS`` ago (an idle
  instance's, or one a failing write kept): it is dropped and counted, and the backfill writes
  it. The backfill looks only at lines older than that by a request's budget and a clock slack,
  so no line is written by both (``contracts/archive_layout.py``).
- A failed write keeps the buffer's lines for the next one, up to ``MAX_BUFFERED_BYTES`` (then
  the oldest are dropped and counted); a request's own rows in archive-only mode are not kept,
  since its client resends them after the 503.

Objects are named as a request's were (``archive_layout.object_name``), by the hour of their
lines' ``received_at`` and the id of the request that wrote them (or a fresh one at shutdown):
unique per flush, so create-only writes never clash.
"""

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from event_capture.contracts.archive_layout import MAX_LINE_AGE_SECONDS
from event_capture.contracts.capture import ArchiveWrites
from event_capture.ingest.row import Request, Row
from event_capture.ingest.sinks.result import FailedRow, Sink, SinkResult

# One object's lines at most: a few MB upload well inside the write deadline. A buffer this
# big is due at once.
MAX_OBJECT_BYTES = 8 * 1024 * 1024
# What an instance holds at most while writes fail: a bounded share of its memory.
MAX_BUFFERED_BYTES = 64 * 1024 * 1024
# The shutdown's write. Cloud Run allows 10 s after SIGTERM, and the worker first answers the
# requests in flight; a write the SIGKILL cuts short leaves its lines to the backfill.
EXIT_FLUSH_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class _Line:
    received_at: datetime
    row: Row

    @property
    def size(self) -> int:
        return len(self.row.json) + 1


@dataclass(slots=True)
class Taken:
    """What a request took to write: the buffer's lines (and its own rows when it writes them
    now), and how many lines it found too old and dropped."""

    lines: list[_Line] = field(default_factory=list)
    own: frozenset[str] = frozenset()
    dropped: int = 0


@dataclass(slots=True)
class Written:
    """One write of taken lines: the sink's result over every object, the objects written,
    the buffer's lines kept for the next write and those dropped (past the cap)."""

    result: SinkResult
    objects: int = 0
    kept: int = 0
    dropped: int = 0


class ArchiveGroup:
    def __init__(
        self,
        sink: Sink,
        *,
        flush_seconds: float,
        clock: Callable[[], datetime],
        max_object_bytes: int = MAX_OBJECT_BYTES,
        max_buffered_bytes: int = MAX_BUFFERED_BYTES,
    ) -> None:
        # ``sink`` writes one object of the rows it is given, named after the request it is
        # given (gcs_archive.GcsArchiveSink).
        self._sink = sink
        self._flush_after = timedelta(seconds=flush_seconds)
        self._max_age = timedelta(seconds=MAX_LINE_AGE_SECONDS)
        self._clock = clock
        self._max_object_bytes = max_object_bytes
        self._max_buffered_bytes = max_buffered_bytes
        self._lock = threading.Lock()
        self._lines: list[_Line] = []
        self._bytes = 0
        # The oldest line's received_at, kept so a request's check reads one value, not every
        # line.
        self._oldest: datetime | None = None

    @property
    def immediate(self) -> bool:
        """Whether each request writes its own rows (``ARCHIVE_FLUSH_SECONDS=0``)."""
        return not self._flush_after

    @property
    def buffered(self) -> int:
        with self._lock:
            return len(self._lines)

    def take(self, rows: Sequence[Row], received_at: datetime, *, own: bool) -> Taken:
        """The lines a request is to write now: with ``own``, its rows and the whole buffer;
        otherwise the whole buffer if it is due, else nothing. Lines too old are dropped."""
        with self._lock:
            dropped = self._drop_older_than(self._clock() - self._max_age)
            if own or self._due():
                lines, self._lines, self._bytes, self._oldest = self._lines, [], 0, None
            else:
                lines = []
        if own:
            lines += [_Line(received_at, row) for row in rows]
        return Taken(
            lines, frozenset(row.event_id for row in rows) if own else frozenset(), dropped
        )

    def add(self, rows: Sequence[Row], received_at: datetime) -> list[Row]:
        """Buffer a request's durable rows; returns those of the lines dropped to stay under
        the cap (the oldest)."""
        with self._lock:
            for row in rows:
                line = _Line(received_at, row)
                self._lines.append(line)
                self._bytes += line.size
            if rows and (self._oldest is None or received_at < self._oldest):
                self._oldest = received_at
            return [line.row for line in self._cap()]

    def write(self, taken: Taken, request: Request) -> Written:
        """Write the taken lines, an object per hour folder (more past ``MAX_OBJECT_BYTES``);
        the buffer's lines of a failed object go back for the next write."""
        stored: list[Row] = []
        failed: list[FailedRow] = []
        retries, objects, errors = 0, 0, []
        kept: list[_Line] = []
        for number, part in enumerate(self._parts(taken.lines)):
            name = request.id if number == 0 else f"{request.id}-{number}"
            result = self._sink.write(
                [line.row for line in part],
                Request(name, part[0].received_at, request.expires_at),
            )
            retries += result.retries
            stored += result.stored
            failed += result.failed
            if result.stored:
                objects += 1
            if result.error:
                errors.append(result.error)
            lost = {f.row.event_id for f in result.failed}
            kept += [
                ln for ln in part if ln.row.event_id in lost and ln.row.event_id not in taken.own
            ]
        dropped = 0
        if kept:
            with self._lock:
                self._lines = kept + self._lines
                self._bytes += sum(line.size for line in kept)
                self._oldest = min(line.received_at for line in self._lines)
                dropped = len(self._cap())
        result = SinkResult.of(stored, failed, retries=retries, error=errors[0] if errors else None)
        return Written(result, objects=objects, kept=len(kept) - dropped, dropped=dropped)

    def flush(
        self, seconds: float = EXIT_FLUSH_SECONDS, monotonic: Callable[[], float] = time.monotonic
    ) -> ArchiveWrites:
        """Write everything buffered within ``seconds`` (at shutdown)."""
        taken = self.take([], self._clock(), own=True)
        if not taken.lines:
            return ArchiveWrites(lines_dropped=taken.dropped)
        request = Request(f"exit-{uuid.uuid4().hex[:16]}", self._clock(), monotonic() + seconds)
        written = self.write(taken, request)
        return ArchiveWrites(
            buffered=self.buffered,
            objects_written=written.objects,
            lines_written=len(written.result.stored),
            lines_kept=written.kept,
            lines_dropped=taken.dropped + written.dropped,
        )

    def _due(self) -> bool:
        if self._oldest is None:
            return False
        return (
            self._bytes >= self._max_object_bytes
            or self._clock() - self._oldest >= self._flush_after
        )

    def _drop_older_than(self, limit: datetime) -> int:
        if self._oldest is None or self._oldest >= limit:
            return 0
        kept = [line for line in self._lines if line.received_at >= limit]
        dropped = len(self._lines) - len(kept)
        self._lines = kept
        self._bytes = sum(line.size for line in kept)
        self._oldest = min((line.received_at for line in kept), default=None)
        return dropped

    def _cap(self) -> list[_Line]:
        """Drop the oldest lines past ``MAX_BUFFERED_BYTES``; returns them."""
        dropped: list[_Line] = []
        if self._bytes > self._max_buffered_bytes:
            self._lines.sort(key=lambda line: line.received_at)
            while self._lines and self._bytes > self._max_buffered_bytes:
                line = self._lines.pop(0)
                self._bytes -= line.size
                dropped.append(line)
            self._oldest = self._lines[0].received_at if self._lines else None
        return dropped

    def _parts(self, lines: list[_Line]) -> list[list[_Line]]:
        hours: dict[datetime, list[_Line]] = {}
        for line in lines:
            hour = line.received_at.replace(minute=0, second=0, microsecond=0)
            hours.setdefault(hour, []).append(line)
        parts: list[list[_Line]] = []
        for _, members in sorted(hours.items()):
            part: list[_Line] = []
            size = 0
            for line in members:
                if part and size + line.size > self._max_object_bytes:
                    parts.append(part)
                    part, size = [], 0
                part.append(line)
                size += line.size
            parts.append(part)
        return parts
