"""The load: sender threads that post batches of events to the function as a well-behaved
client would, and what each attempt saw.

Well-behaved means the capture client's own rules (``event_capture.client.delivery``): the
answers ``judge`` sends again (429, 5xx) and a connection error or timeout are resent, the same
bytes every time, after ``Backoff``'s wait and never before the function's Retry-After; every
other answer is final. Only the waits are shorter (``ClientPolicy``).
"""

import contextlib
import json
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

from event_capture.client.delivery import Backoff, Verdict, judge
from event_capture.schemas.responses import SinkStatus
from localcloud.processes import Service
from localcloud.sample_events import sample_event

# The statuses the capture client counts as delivered: 200, and 207 with the rejected events
# named in its body.
ACKNOWLEDGED = frozenset(
    status for status in range(100, 600) if judge(status, {}, b"", 0).verdict is Verdict.DELIVERED
)


@dataclass(frozen=True, kw_only=True)
class Load:
    events: int = 100
    batch_size: int = 5
    senders: int = 4
    # Batches released before the fault starts and after it is expected to end.
    lead_seconds: float = 1.0
    tail_seconds: float = 1.0


@dataclass(frozen=True, kw_only=True)
class ClientPolicy:
    connect_timeout: float = 5.0
    # Past the deployed function's 60 s timeout: the function, not the client, ends a request.
    read_timeout: float = 70.0
    # After a connection error or timeout: full jitter from 0.1 s, doubling up to the cap. The
    # cap also caps the function's Retry-After (10 s), and is the wait after a resent answer
    # that names none, only to keep runs short: waiting longer would exercise nothing more.
    backoff: Backoff = field(default_factory=lambda: Backoff(base_seconds=0.1, cap_seconds=1.0))
    # A batch not acknowledged within this many seconds of its first attempt is given up.
    give_up_seconds: float = 300.0

    def retry_after(self, asked: float | None) -> float:
        """The Retry-After the harness honours: the function's, up to the backoff's cap."""
        cap = self.backoff.cap_seconds
        return cap if asked is None else min(cap, asked)


@dataclass(frozen=True, kw_only=True)
class Attempt:
    started: float  # seconds since the run began
    waited: float  # seconds from sending to the answer or the error
    status: int | None  # None: no answer (connection error or timeout)
    error: str | None = None
    # Per sink, its status in the answer's body ("ok", "failed", ...).
    sinks: Mapping[str, str] = field(default_factory=dict)
    dead_lettered: int = 0


@dataclass(kw_only=True)
class Batch:
    index: int
    events: list[dict[str, Any]]
    release_at: float
    attempts: list[Attempt] = field(default_factory=list)
    status: int | None = None
    rejected: frozenset[int] = frozenset()
    finished: float = 0.0

    @property
    def acknowledged(self) -> bool:
        return self.status in ACKNOWLEDGED

    @property
    def accepted(self) -> list[dict[str, Any]]:
        if not self.acknowledged:
            return []
        return [event for n, event in enumerate(self.events) if n not in self.rejected]

    @property
    def time_to_answer(self) -> float:
        """From the first attempt to the final answer, resends and their waits included."""
        return self.finished - self.attempts[0].started if self.attempts else 0.0


class Pace(Protocol):
    """The run the senders are part of (``scenarios.FaultRun``)."""

    def now(self) -> float:
        """Seconds since the run began."""
        ...

    def in_flight(self) -> AbstractContextManager[None]:
        """Counts the block as one request in flight."""
        ...


def warm_up(function: Service, client: ClientPolicy) -> None:
    """One event until accepted: the worker's first request builds its clients."""
    deadline = time.monotonic() + 120
    with requests.Session() as session:
        while True:
            try:
                response = session.post(
                    function.url,
                    json=sample_event("search", user_id="u_warm_up"),
                    timeout=(client.connect_timeout, client.read_timeout),
                )
                if response.status_code in ACKNOWLEDGED:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{function.name} accepted no event within 120 s")
            time.sleep(0.2)


@contextlib.contextmanager
def sending(
    run: Pace, url: str, batches: Sequence[Batch], load: Load, client: ClientPolicy
) -> Iterator[None]:
    """``load.senders`` threads deliver ``batches``, each at its ``release_at``, while the
    block runs; leaving it waits for them, and re-raises what one of them raised."""
    pending: queue.Queue[Batch] = queue.Queue()
    for batch in batches:
        pending.put(batch)
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            with requests.Session() as session:
                while True:
                    try:
                        batch = pending.get_nowait()
                    except queue.Empty:
                        return
                    delay = batch.release_at - run.now()
                    if delay > 0:
                        time.sleep(delay)
                    _deliver(run, session, url, batch, client)
        except BaseException as error:  # noqa: BLE001 - re-raised by the main thread
            errors.append(error)

    threads = [
        threading.Thread(target=sender, name=f"fault-sender-{n}", daemon=True)
        for n in range(load.senders)
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]


def _deliver(
    run: Pace, session: requests.Session, url: str, batch: Batch, client: ClientPolicy
) -> None:
    """Post the batch until it is answered for good; the same bytes every time."""
    body = json.dumps({"events": batch.events}).encode()
    headers = {"Content-Type": "application/json"}
    failures = 0
    while True:
        started = run.now()
        try:
            with run.in_flight():
                response = session.post(
                    url,
                    data=body,
                    headers=headers,
                    timeout=(client.connect_timeout, client.read_timeout),
                )
        except requests.RequestException as error:
            attempt = Attempt(
                started=started, waited=run.now() - started, status=None, error=type(error).__name__
            )
            failures += 1
            final = False
            pause = client.backoff.delay(failures, None)
        else:
            parsed = _parse(response)
            attempt = Attempt(
                started=started,
                waited=run.now() - started,
                status=response.status_code,
                sinks={
                    name: str(sink.get("status"))
                    for name, sink in parsed.get("sinks", {}).items()
                    if isinstance(sink, dict)
                },
                dead_lettered=_dead_lettered(parsed),
            )
            headers = {name.lower(): value for name, value in response.headers.items()}
            answer = judge(response.status_code, headers, response.content, len(batch.events))
            # Answered for good unless the client would resend: delivered (200, 207), or refused
            # as sent (any other 4xx; a 401 too, with no token here to renew).
            final = answer.verdict is not Verdict.RETRY
            if final:
                batch.rejected = frozenset(
                    r.index for r in answer.rejections if isinstance(r.index, int)
                )
            pause = client.backoff.delay(failures, client.retry_after(answer.retry_after))
        batch.attempts.append(attempt)
        batch.status = attempt.status
        if final or run.now() + pause - batch.attempts[0].started > client.give_up_seconds:
            batch.finished = run.now()
            return
        time.sleep(pause)


def _parse(response: requests.Response) -> dict[str, Any]:
    try:
        parsed = response.json()
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _dead_lettered(answer: Mapping[str, Any]) -> int:
    sink = answer.get("sinks", {}).get("dead_letter")
    if isinstance(sink, dict) and sink.get("status") in (SinkStatus.OK, SinkStatus.PARTIAL):
        return int(sink.get("rows", 0))
    return 0
