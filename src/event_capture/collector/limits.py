"""What keeps a public collector's bill bounded: per instance, in memory.

- Token buckets per client address and per client key: a request over its rate is answered 429
  with ``Retry-After``, which Segment's Python, Node and browser SDKs wait out
  (docs/apis/collector.md, "Limits").
- At most a few requests in flight per client address, checked before the body is read, so
  slow bodies from one address cannot hold every thread.
- A daily cap of requests and events per client key: past it, 429 until midnight UTC. Each
  instance holds its share of the cap (the Pulumi program divides the key's cap by the
  instance limit), so the day's total is bounded by arithmetic alone, with no shared counter
  and no extra round trip; an instance's counts start at zero when it starts, so an instance
  replaced during the day admits its share once more.

Server keys (the app's backend, whose key is secret and whose requests share one address) pass
all of these: a flood on a client key never starves them.

Hand-written rather than a library: the libraries measured here cost 3 to 10 µs a check, or
admitted more than their limit under threads; a bucket here takes under one, and tells the
Retry-After from the same call (bench/edge_limits.py times a request's checks).
"""

import datetime as dt
import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from event_capture.contracts import log_fields as log

# Locks picked by key hash: threads checking different keys do not queue on one lock.
_STRIPES = 64
# SDKs wait at most this long on a Retry-After (Segment's cap it at 300 s).
MAX_RETRY_AFTER_SECONDS = 300


def retry_after(seconds: float) -> int:
    """Whole seconds, at least 1, at most what the SDKs honour."""
    return min(MAX_RETRY_AFTER_SECONDS, max(1, math.ceil(seconds)))


class TokenBuckets:
    """``rate`` requests a second per key, in bursts of up to ``burst``; idle keys are dropped
    in the course of later checks (no background thread: Cloud Run throttles the CPU between
    requests)."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self._rate, self._burst, self._clock = rate, float(burst), clock
        self._buckets: dict[Hashable, list[float]] = {}  # key: [tokens, last check]
        self._locks = [threading.Lock() for _ in range(_STRIPES)]
        self._sweep_lock = threading.Lock()
        # A bucket left alone this long is full again: it holds nothing worth keeping.
        self._idle = self._burst / self._rate
        self._next_sweep = clock() + self._idle

    def take(self, key: Hashable, cost: float = 1.0) -> float:
        """0 if the request may go, else the seconds until it could."""
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        with self._locks[hash(key) & (_STRIPES - 1)]:
            bucket = self._buckets.get(key)
            tokens = self._burst if bucket is None else bucket[0]
            if bucket is not None:
                tokens = min(self._burst, tokens + (now - bucket[1]) * self._rate)
            if tokens >= cost:
                self._buckets[key] = [tokens - cost, now]
                return 0.0
            self._buckets[key] = [tokens, now]
            return (cost - tokens) / self._rate

    def _sweep(self, now: float) -> None:
        if not self._sweep_lock.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + self._idle
            for key, bucket in list(self._buckets.items()):
                if now - bucket[1] >= self._idle:
                    with self._locks[hash(key) & (_STRIPES - 1)]:
                        again = self._buckets.get(key)
                        if again is not None and now - again[1] >= self._idle:
                            del self._buckets[key]
        finally:
            self._sweep_lock.release()

    def __len__(self) -> int:
        return len(self._buckets)


class InFlight:
    """At most ``limit`` requests at once per key (a client address)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._count: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def enter(self, key: Hashable) -> bool:
        with self._lock:
            count = self._count.get(key, 0)
            if count >= self._limit:
                return False
            self._count[key] = count + 1
            return True

    def leave(self, key: Hashable) -> None:
        with self._lock:
            count = self._count.get(key, 0) - 1
            if count > 0:
                self._count[key] = count
            else:
                self._count.pop(key, None)


@dataclass
class _Day:
    day: dt.date
    requests: int = 0
    events: int = 0


class DailyCaps:
    """Per key and UTC day, at most ``requests`` requests and ``events`` events (this instance's
    share of the key's caps); 0: no cap."""

    def __init__(
        self,
        *,
        requests: int,
        events: int,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._requests, self._events, self._clock = requests, events, clock
        self._days: dict[str, _Day] = {}
        self._lock = threading.Lock()

    def admit(self, key: str, events: int) -> float:
        """0 if a request of ``events`` events fits the key's day (and is counted), else the
        seconds until midnight UTC. A batch that does not fit whole is refused whole: the SDK
        resends all of it."""
        if not (self._requests or self._events):
            return 0.0
        now = self._clock()
        with self._lock:
            day = self._days.get(key)
            if day is None or day.day != now.date():
                day = self._days[key] = _Day(now.date())
            over_requests = self._requests and day.requests + 1 > self._requests
            over_events = self._events and day.events + events > self._events
            if over_requests or over_events:
                midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
                return (midnight - now).total_seconds()
            day.requests += 1
            day.events += events
            return 0.0


@dataclass(frozen=True, slots=True)
class EdgeRefusal:
    rule: str
    retry_after: int
    message: str


def client_address(forwarded_for: str | None, remote_address: str | None) -> str:
    """The caller's address: on Cloud Run, the last entry of ``X-Forwarded-For``, which Google's
    front end appends (the entries before it are whatever the caller sent); without one, the
    socket's peer."""
    if forwarded_for:
        entries = [entry.strip() for entry in forwarded_for.split(",") if entry.strip()]
        if entries:
            return entries[-1]
    return remote_address or "unknown"


class Edge:
    """The limits of one instance: ``enter``/``leave`` around a client request's body (its
    address), then ``admit_key`` once its key and its number of calls are known."""

    def __init__(
        self,
        *,
        address_rate: float,
        address_burst: int,
        in_flight: int,
        key_rate: float,
        key_burst: int,
        daily_requests: int,
        daily_events: int,
        clock: Callable[[], float] = time.monotonic,
        day_clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._addresses = TokenBuckets(address_rate, address_burst, clock)
        self._in_flight = InFlight(in_flight)
        self._keys = TokenBuckets(key_rate, key_burst, clock)
        self._days = DailyCaps(requests=daily_requests, events=daily_events, clock=day_clock)

    def enter(self, address: str) -> EdgeRefusal | None:
        """None: go on, and ``leave`` after; else why not (nothing to leave)."""
        if not self._in_flight.enter(address):
            return EdgeRefusal(
                log.TOO_MANY_IN_FLIGHT, 1, "too many requests at once from this address"
            )
        wait = self._addresses.take(address)
        if wait:
            self._in_flight.leave(address)
            return EdgeRefusal(
                log.ADDRESS_RATE_LIMITED,
                retry_after(wait),
                "too many requests from this address; resend after Retry-After seconds",
            )
        return None

    def leave(self, address: str) -> None:
        self._in_flight.leave(address)

    def admit_key(self, key_id: str, events: int) -> EdgeRefusal | None:
        """A client key's rate, then its day's caps (what is admitted counts toward them)."""
        wait = self._keys.take(key_id)
        if wait:
            return EdgeRefusal(
                log.KEY_RATE_LIMITED,
                retry_after(wait),
                "too many requests with this write key; resend after Retry-After seconds",
            )
        until_midnight = self._days.admit(key_id, events)
        if until_midnight:
            return EdgeRefusal(
                log.DAILY_CAP_REACHED,
                retry_after(until_midnight),
                "this write key's daily cap is reached; nothing more is taken until midnight UTC",
            )
        return None
