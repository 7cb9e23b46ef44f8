"""Which users' events an instance drops (``contracts.forget``): the suppression list in the
control bucket, read again every ``ttl_seconds`` on the first request after it went stale.

Unlike the capture mode, a failed read keeps the list last read in force: forgetting that a
user objected would store their events, while a stale list only delays a suppression or its
lifting by a read. An instance that never read the list suppresses nobody until it can (and the
forget run's erasure, which waits out this TTL, removes what such an instance stored).
"""

import time
from collections.abc import Callable, Sequence

from event_capture.contracts.forget import read_suppressed, subject_digest
from event_capture.contracts.timing import MODE_TTL_SECONDS
from event_capture.ingest.mode_reader import ControlReader
from event_capture.ingest.row import Row


class SuppressionReader(ControlReader[frozenset[str]]):
    def __init__(
        self,
        read: Callable[[], bytes | None],
        *,
        ttl_seconds: float = MODE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            read,
            read_suppressed,
            initial=frozenset(),
            fallback=lambda last: last,
            unreadable="suppression list unreadable, the last one read holds",
            ttl_seconds=ttl_seconds,
            clock=clock,
        )


def split_suppressed(rows: Sequence[Row], digests: frozenset[str]) -> tuple[list[Row], int]:
    """The rows to store, and how many were dropped for naming a suppressed user."""
    if not digests:
        return list(rows), 0
    kept = [
        row for row in rows if row.user_id is None or subject_digest(row.user_id) not in digests
    ]
    return kept, len(rows) - len(kept)
