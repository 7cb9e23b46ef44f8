"""Which users' events an instance drops (``contracts.forget``): the suppression list in the
control bucket, read again every ``ttl_seconds`` on the first request after it went stale.

Unlike the capture mode, a failed read keeps the list last read in force: forgetting that a
user objected would store their events, while a stale list only delays a suppression or its
lifting by a read. An instance that never read the list suppresses nobody until it can (and the
forget run's erasure, which waits out this TTL, removes what such an instance stored).
"""

import threading
import time
from collections.abc import Callable, Sequence

from event_capture.contracts.forget import read_suppressed, subject_digest
from event_capture.contracts.timing import MODE_TTL_SECONDS
from event_capture.ingest.mode_reader import RETRY_SECONDS
from event_capture.ingest.row import Row


class SuppressionReader:
    def __init__(
        self,
        read: Callable[[], bytes | None],
        *,
        ttl_seconds: float = MODE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._digests: frozenset[str] = frozenset()
        self._fresh_until = float("-inf")
        self._reading = False
        self.last_error: str | None = None

    def __call__(self) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            if now < self._fresh_until or self._reading:
                return self._digests
            self._reading = True
        digests, error, fresh_for = self._digests, None, min(self._ttl, RETRY_SECONDS)
        try:
            digests = read_suppressed(self._read())
            fresh_for = self._ttl
        except Exception as caught:  # noqa: BLE001 - the list last read holds; logged by the caller
            error = f"{type(caught).__name__}: suppression list unreadable, the last one read holds"
        finally:
            with self._lock:
                self._digests, self.last_error = digests, error
                self._fresh_until = self._clock() + fresh_for
                self._reading = False
        return digests


def split_suppressed(rows: Sequence[Row], digests: frozenset[str]) -> tuple[list[Row], int]:
    """The rows to store, and how many were dropped for naming a suppressed user."""
    if not digests:
        return list(rows), 0
    kept = [
        row for row in rows if row.user_id is None or subject_digest(row.user_id) not in digests
    ]
    return kept, len(rows) - len(kept)
