"""The capture client: ``track()`` puts an event on a bounded queue and returns at once.

A daemon thread takes events off the queue in batches (up to 500 events or the byte cap, after
lingering briefly for more), POSTs them and retries what the function could not store. The
app's thread does no I/O, no serialization and no full validation: that all happens on the
worker.
"""

import atexit
import logging
import os
import queue
import random
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from event_capture.client.auth import GoogleIdTokens, TokenProvider, no_token
from event_capture.client.delivery import Answer, Backoff, HttpTransport, Verdict, judge
from event_capture.client.stats import ClientStats, Counters
from event_capture.schemas.envelope import EventEnvelope
from event_capture.schemas.families import MODEL_BY_EVENT_TYPE
from event_capture.schemas.http_limits import (
    MAX_EVENT_BYTES,
    MAX_EVENTS_PER_REQUEST,
    MAX_REQUEST_BYTES,
)

log = logging.getLogger("event_capture.client")


def refusal_reasons(error: Exception) -> str:
    """Field, rule and position of what made an event invalid, never the value: pydantic's own
    text quotes the input (``input_value='jane.doe@example.com'``), and the app's logs are no
    place for what the user typed."""
    if not isinstance(error, ValidationError):
        # A KeyError's text is the unknown event type the app sent; the class says enough.
        return type(error).__name__
    reasons = []
    for detail in error.errors(include_input=False, include_url=False, include_context=False):
        field = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in detail["loc"]
        )
        reasons.append(f"{field.lstrip('.') or 'event'}: {detail['type']}")
    return "; ".join(reasons)


Event = EventEnvelope | Mapping[str, Any]
# Room for {"events":[...]} and the commas around the events.
_BODY_OVERHEAD = 16


class QueueFullPolicy(StrEnum):
    DROP_NEWEST = "drop_newest"  # track() returns False at once; counted
    BLOCK = "block"  # track() waits up to block_timeout_seconds, then drops; counted


@dataclass(frozen=True)
class ClientSettings:
    max_queue: int = 10_000
    queue_full: QueueFullPolicy = QueueFullPolicy.DROP_NEWEST
    block_timeout_seconds: float = 0.01
    max_batch_events: int = MAX_EVENTS_PER_REQUEST
    max_batch_bytes: int = MAX_REQUEST_BYTES - 1024
    linger_seconds: float = 0.2
    # Above the deployed function's 60 s timeout: an answer can take that long when BigQuery
    # is slow, and giving up sooner only resends a batch the function is still storing.
    request_timeout_seconds: float = 70.0
    shutdown_timeout_seconds: float = 5.0
    backoff: Backoff = field(default_factory=Backoff)
    # Raise on an event that fails the cheap checks in track(), instead of counting it.
    strict: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch_events <= MAX_EVENTS_PER_REQUEST:
            raise ValueError(f"max_batch_events: must be 1 to {MAX_EVENTS_PER_REQUEST}")
        if not MAX_EVENT_BYTES + _BODY_OVERHEAD <= self.max_batch_bytes <= MAX_REQUEST_BYTES:
            raise ValueError(f"max_batch_bytes: must be up to {MAX_REQUEST_BYTES}")
        if self.max_queue < 1:
            raise ValueError("max_queue: must be at least 1")


@dataclass
class _Batch:
    lines: list[bytes] = field(default_factory=list)
    size: int = _BODY_OVERHEAD
    taken: int = 0  # queue items consumed, valid or not

    def body(self) -> bytes:
        return b'{"events":[' + b",".join(self.lines) + b"]}"


class CaptureClient:
    def __init__(
        self,
        url: str,
        settings: ClientSettings | None = None,
        token_provider: TokenProvider = no_token,
        *,
        transport_factory: Callable[[str, float], HttpTransport] = HttpTransport,
        sleep: Callable[[float], None] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings or ClientSettings()
        self._url = url
        transport_factory(url, 1.0)  # fail now, in the app's setup, on a malformed URL
        self._transport_factory = transport_factory
        self._token_provider = token_provider
        self._rand = rand
        self._counters = Counters()
        self._init_queue()
        self._sleep = sleep if sleep is not None else self._interruptible_sleep
        weak_self = weakref.ref(self)
        atexit.register(_close_at_exit, weak_self)
        os.register_at_fork(after_in_child=lambda: _reset_in_child(weak_self))

    @classmethod
    def for_google_cloud(cls, url: str, settings: ClientSettings | None = None) -> "CaptureClient":
        """A client that sends a Google ID token for ``url``, as the deployed function needs."""
        return cls(url, settings, GoogleIdTokens(url))

    # -- the app's side ---------------------------------------------------------------------

    def track(self, event: Event) -> bool:
        """Queue ``event`` for delivery; True if queued. Never does I/O and never raises,
        unless ``strict`` is set and the event is malformed."""
        if not isinstance(event, EventEnvelope):
            problem = _cheap_check(event)
            if problem is not None:
                return self._refuse(problem)
        if not self._worker_running:
            self._start_worker()
        try:
            if self.settings.queue_full is QueueFullPolicy.DROP_NEWEST:
                self._queue.put_nowait(event)
            else:
                self._queue.put(event, timeout=self.settings.block_timeout_seconds)
        except queue.Full:
            self._counters.add("dropped_queue_full")
            return False
        self._counters.add("tracked")
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued now; True once all of it is delivered or settled."""
        timeout = self.settings.shutdown_timeout_seconds if timeout is None else timeout
        deadline = time.monotonic() + timeout
        self._flush_now.set()
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True

    def close(self, timeout: float | None = None) -> ClientStats:
        """Deliver what is queued within ``timeout``; what is left is counted as dropped."""
        timeout = self.settings.shutdown_timeout_seconds if timeout is None else timeout
        self._deadline = time.monotonic() + timeout
        self._closing.set()
        self._wake.set()
        self.flush(timeout)
        thread = self._thread
        if thread is not None:
            thread.join(max(0.0, self._deadline - time.monotonic()) + 1.0)
        left = self._drain()
        if left:
            self._counters.add("dropped_at_shutdown", left)
            log.error("capture client closed with %d events undelivered", left)
        return self.stats()

    def stats(self) -> ClientStats:
        return self._counters.snapshot(queued=self._queue.unfinished_tasks)

    # -- the worker's side ------------------------------------------------------------------

    def _init_queue(self) -> None:
        self._queue: queue.Queue[Event] = queue.Queue(self.settings.max_queue)
        self._carry: bytes | None = None
        self._flush_now = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._worker_running = False
        self._start_lock = threading.Lock()
        self._closing = threading.Event()
        self._deadline = float("inf")

    def _start_worker(self) -> None:
        with self._start_lock:
            if self._worker_running or self._closing.is_set():
                return
            self._worker_running = True
            self._thread = threading.Thread(target=self._run, name="capture-client", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        transport = self._transport_factory(self._url, self.settings.request_timeout_seconds)
        try:
            while True:
                batch = self._collect()
                if batch.lines:
                    self._deliver(transport, batch)
                for _ in range(batch.taken):
                    self._queue.task_done()
                if not batch.taken and self._closing.is_set():
                    return
        except Exception:
            log.exception("capture client worker stopped")
        finally:
            transport.close()
            self._worker_running = False

    def _collect(self) -> _Batch:
        """Wait for a first event, then linger for more until the batch is full."""
        batch = _Batch()
        if self._carry is not None:
            batch.lines.append(self._carry)
            batch.size += len(self._carry) + 1
            batch.taken += 1
            self._carry = None
        linger_until: float | None = None
        while len(batch.lines) < self.settings.max_batch_events:
            now = time.monotonic()
            if batch.lines and linger_until is None:
                linger_until = now + self.settings.linger_seconds
            if linger_until is not None and now >= linger_until:
                break
            # Flushing or closing: take what is already queued, do not wait for more.
            hurry = self._flush_now.is_set() or self._closing.is_set()
            try:
                if hurry:
                    event = self._queue.get_nowait()
                else:
                    event = self._queue.get(
                        timeout=0.5 if linger_until is None else linger_until - now
                    )
            except queue.Empty:
                if hurry:
                    if not batch.lines:
                        self._flush_now.clear()
                    break
                continue
            batch.taken += 1
            line = self._encode(event)
            if line is None:
                continue
            if batch.size + len(line) + 1 > self.settings.max_batch_bytes:
                # First of the next batch. Its queue item stays unfinished until that batch is
                # settled, so flush() and close() wait for it too.
                self._carry = line
                batch.taken -= 1
                break
            batch.lines.append(line)
            batch.size += len(line) + 1
        return batch

    def _encode(self, event: Event) -> bytes | None:
        """Validate fully and serialize, off the app's thread; None if the event is refused."""
        try:
            if not isinstance(event, EventEnvelope):
                model = MODEL_BY_EVENT_TYPE[str(event["event_type"])]
                event = model.model_validate(event)
            line = event.model_dump_json(exclude_none=True).encode()
        except (ValidationError, KeyError, TypeError, ValueError) as error:
            log.warning("capture client dropped an invalid event: %s", refusal_reasons(error))
            self._counters.add("dropped_invalid")
            return None
        if len(line) > MAX_EVENT_BYTES:
            log.warning(
                "capture client dropped an event of %d bytes (limit %d)", len(line), MAX_EVENT_BYTES
            )
            self._counters.add("dropped_invalid")
            return None
        return line

    def _deliver(self, transport: HttpTransport, batch: _Batch) -> None:
        body, sent = batch.body(), len(batch.lines)
        attempt, refreshed = 0, False
        while True:
            answer = self._post(transport, body, sent)
            self._counters.add("requests")
            if answer.verdict is Verdict.DELIVERED:
                self._counters.add("delivered", answer.accepted)
                self._settle_rejections(answer)
                return
            if answer.verdict is Verdict.REAUTHENTICATE and not refreshed:
                refreshed = True
                getattr(self._token_provider, "invalidate", lambda: None)()
                continue
            if answer.verdict in (Verdict.DROP, Verdict.REAUTHENTICATE):
                rejected = self._settle_rejections(answer)
                # Logged before counted: whoever sees the count can find its reason.
                log.error("capture client dropped %d events: %s", sent - rejected, answer.error)
                self._counters.add("dropped_client_error", sent - rejected)
                return
            delay = self.settings.backoff.delay(attempt, answer.retry_after, self._rand)
            if time.monotonic() + delay > self._deadline:
                log.error("capture client gave up on %d events at shutdown: %s", sent, answer.error)
                self._counters.add("dropped_at_shutdown", sent)
                return
            attempt += 1
            self._counters.add("retries")
            log.warning(
                "capture client retrying %d events in %.2f s: %s", sent, delay, answer.error
            )
            self._sleep(delay)

    def _post(self, transport: HttpTransport, body: bytes, sent: int) -> Answer:
        try:
            token = self._token_provider()
            status, headers, data = transport.post(body, token)
        # No connection, a timeout, or no token (google-auth raises its own types): all are
        # transient for the batch, which must not be lost to an exception type we missed.
        except Exception as error:  # noqa: BLE001
            return Answer(Verdict.RETRY, error=f"{type(error).__name__}: {error}")
        return judge(status, headers, data, sent)

    def _settle_rejections(self, answer: Answer) -> int:
        for rejection in answer.rejections:
            # The text for people; the record's ``rejection`` (the function's shape) for a
            # structured log handler.
            log.warning(
                "capture function rejected event %s: %s",
                rejection.event_id,
                rejection.describe(),
                extra={"rejection": rejection.model_dump(mode="json")},
            )
        self._counters.add("rejected_by_function", len(answer.rejections))
        return len(answer.rejections)

    def _interruptible_sleep(self, seconds: float) -> None:
        # close() wakes a waiting retry so that shutdown retries at once within its deadline;
        # cleared again, so later waits are full backoffs and not a hot loop.
        if self._wake.wait(seconds):
            self._wake.clear()

    def _refuse(self, problem: str) -> bool:
        if self.settings.strict:
            raise ValueError(problem)
        log.warning("capture client dropped an event: %s", problem)
        self._counters.add("dropped_invalid")
        return False

    def _drain(self) -> int:
        left = 0
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return left
            self._queue.task_done()
            left += 1

    def _reset_after_fork(self) -> None:
        # The parent's queue, lock and thread do not exist in the child: start empty.
        self._counters = Counters()
        self._init_queue()


def _cheap_check(event: Any) -> str | None:
    if not isinstance(event, Mapping):
        return f"event must be a schemas model or a mapping, got {type(event).__name__}"
    event_type = event.get("event_type")
    if event_type not in MODEL_BY_EVENT_TYPE:
        return f"event_type: unknown event type {event_type!r}"
    if not isinstance(event.get("event_id"), str):
        return "event_id: required (a UUID string; it is the insertId that de-duplicates)"
    return None


def _close_at_exit(client: "weakref.ref[CaptureClient]") -> None:
    instance = client()
    if instance is not None and not instance._closing.is_set():
        instance.close()


def _reset_in_child(client: "weakref.ref[CaptureClient]") -> None:
    instance = client()
    if instance is not None:
        instance._reset_after_fork()
