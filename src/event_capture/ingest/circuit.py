"""A circuit breaker per backend: while it is down, requests stop waiting for it.

After ``failure_threshold`` requests in a row found the backend failing, the circuit opens:
for ``cooldown_seconds`` every request skips the backend at once (BigQuery's rows go straight
to the dead-letter area; the archive is skipped and counted). Then one request is let through
as a probe; its success closes the circuit, its failure opens it for another cool-down.

Hand-written rather than pybreaker or purgatory: both count exceptions raised by a wrapped
call, while a sink reports a result, and both read the wall clock, where the tests inject one.
"""

import threading
import time
from collections.abc import Callable
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    # Cool-down over: the next request is the probe.
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = failure_threshold
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> CircuitState:
        with self._lock:
            return self._state()

    def _state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at < self._cooldown:
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    def allow(self) -> bool:
        """Whether this request may use the backend; at most one probe at a time."""
        with self._lock:
            state = self._state()
            if state is CircuitState.CLOSED:
                return True
            if state is CircuitState.HALF_OPEN and not self._probing:
                self._probing = True
                return True
            return False

    def release(self) -> None:
        """A request that was allowed through but did not use the backend."""
        with self._lock:
            self._probing = False

    def record(self, ok: bool) -> None:
        """What the backend did for a request that was allowed through."""
        with self._lock:
            self._probing = False
            if ok:
                self._failures = 0
                self._opened_at = None
                return
            self._failures += 1
            if self._opened_at is not None or self._failures >= self._threshold:
                self._opened_at = self._clock()
