"""Counters of what happened to tracked events, readable at any time from any thread."""

import threading
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ClientStats:
    """A snapshot. Each call to track() is in exactly one of ``delivered``,
    ``rejected_by_function``, the ``dropped_`` counts, or ``queued`` while it waits."""

    tracked: int = 0  # accepted by track() into the queue
    delivered: int = 0  # the function answered that it stored them
    rejected_by_function: int = 0  # the function refused them as invalid (207 or 400)
    dropped_queue_full: int = 0  # the queue was full (drop_newest, or block timed out)
    dropped_invalid: int = 0  # failed validation in the client; never sent
    dropped_client_error: int = 0  # the function answered another 4xx; never retried
    dropped_at_shutdown: int = 0  # still undelivered when close() ran out of time
    queued: int = 0  # waiting, or in the batch being sent
    requests: int = 0
    retries: int = 0


class Counters:
    """Mutable counters behind one lock; ``snapshot()`` reads them consistently."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = {f.name: 0 for f in fields(ClientStats) if f.name != "queued"}

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._values[name] += amount

    def snapshot(self, queued: int) -> ClientStats:
        with self._lock:
            return ClientStats(**self._values, queued=queued)
