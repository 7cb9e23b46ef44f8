"""Reading a request's body within a size and a time limit, however the client sends it.

Every refusal is an ``HttpError`` (408 too slow, 413 too large, 400 incomplete or malformed);
nothing raises for any input.
"""

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO

import flask
from werkzeug.exceptions import ClientDisconnected

from event_capture.platform.http_error import HttpError, too_large

_READ_STEP = 64 * 1024


class Watchdog:
    """One thread for the body-read deadlines of the whole process.

    Started on first use, so in each gunicorn worker (threads do not survive the fork). A
    timer thread per request costs about 0.3 ms here; arming this one costs microseconds.
    ``clock`` is the deadlines' clock; a test gives its own and, with ``thread=False``, expires
    what is due itself (``expire_due``) instead of waiting for the thread.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, thread: bool = True) -> None:
        self.clock = clock
        self._use_thread = thread
        self._wake = threading.Condition()
        self._pending: list[tuple[float, int, ReadDeadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        # Reads that ended before their deadline stay in the heap until it passes; once they
        # are most of it, they are dropped (the timeout can be an hour).
        self._ended = 0

    def arm(self, seconds: float, deadline: "ReadDeadline") -> None:
        with self._wake:
            if self._use_thread and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(
                    target=self._run, name="body-read-deadlines", daemon=True
                )
                self._thread.start()
            heapq.heappush(self._pending, (self.clock() + seconds, next(self._order), deadline))
            self._wake.notify()

    def ended(self) -> None:
        with self._wake:
            self._ended += 1
            if self._ended > 1024 and 2 * self._ended > len(self._pending):
                self._pending = [entry for entry in self._pending if not entry[2].ended]
                heapq.heapify(self._pending)
                self._ended = 0

    def expire_due(self) -> int:
        """Expire every deadline whose time has come; how many there were."""
        due: list[ReadDeadline] = []
        with self._wake:
            while self._pending and self._pending[0][0] <= self.clock():
                due.append(heapq.heappop(self._pending)[2])
        for deadline in due:
            # A read that ended in time is still in the heap until its deadline: _expire
            # then does nothing.
            deadline._expire()
        return len(due)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending or self._pending[0][0] > self.clock():
                    wait = self._pending[0][0] - self.clock() if self._pending else None
                    self._wake.wait(wait)
            self.expire_due()


WATCHDOG = Watchdog()


class ReadDeadline:
    """Ends a body read that outlasts its deadline, however the client sends (or does not).

    A socket timeout bounds each recv(), not the read: a client that trickles a byte just
    before every timeout would hold the thread indefinitely. At the deadline the connection's
    read side is shut instead, which wakes a blocked recv() with end-of-file. Without a socket
    (an in-process test client) the body is in memory and there is nothing to bound.
    """

    def __init__(
        self, sock: socket.socket | None, seconds: float, watchdog: Watchdog = WATCHDOG
    ) -> None:
        self._watchdog = watchdog
        self._sock = sock
        self._seconds = seconds
        self._lock = threading.Lock()
        self._done = False
        self._armed = False
        self.expired = False

    def __enter__(self) -> "ReadDeadline":
        if self._sock is not None:
            self._armed = True
            self._watchdog.arm(self._seconds, self)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Under the lock: once the read is over, the deadline can no longer touch the socket
        # (which the server may by then use for the connection's next request).
        with self._lock:
            self._done = True
            self._sock = None
        if self._armed:
            self._watchdog.ended()

    @property
    def ended(self) -> bool:
        return self._done

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            _shut_read_side(self._sock)


def _shut_read_side(sock: socket.socket | None) -> None:
    if sock is None:
        return
    with contextlib.suppress(OSError):  # the peer is gone already
        sock.shutdown(socket.SHUT_RD)


def _timed_out(seconds: float) -> HttpError:
    return HttpError(
        status=408,
        rule="body_read_timeout",
        message=f"the request body did not arrive within {seconds:g} s",
        position="body",
        headers=(("Connection", "close"),),
    )


def read_body(
    stream: IO[bytes],
    *,
    declared_length: int | None,
    timeout: float,
    sock: socket.socket | None = None,
    limit: int,
    watchdog: Watchdog = WATCHDOG,
) -> bytes | HttpError:
    """At most ``limit`` + 1 bytes of the body, within ``timeout`` seconds.

    ``stream`` is the server's body stream (it removes the chunked framing); ``sock`` the
    connection, when the server exposes it (gunicorn's ``environ["gunicorn.socket"]``). When
    the body is not read to its end (too large, too slow, framing broken) the connection is
    not reused: the rest of the body would be read as the next request.
    """
    chunks: list[bytes] = []
    size = 0
    failure: HttpError | None = None
    deadline = ReadDeadline(sock, timeout, watchdog)
    with deadline:
        try:
            while size <= limit:
                want = min(_READ_STEP, limit + 1 - size)
                if declared_length is not None:
                    # Never ask for more than was announced: a stream that blocks until it has
                    # what it was asked for would wait for bytes that never come.
                    want = min(want, declared_length - size)
                chunk = stream.read(want) if want > 0 else b""
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except ClientDisconnected:
            # werkzeug's guard on Content-Length: the client closed before sending it all.
            failure = _incomplete(size, declared_length)
        except Exception:  # noqa: BLE001 - the server's body reader raises its own types
            # Malformed chunked framing (a chunk size that is not hex, a missing CRLF, a
            # truncated last chunk) or a connection reset: what the reader raises is the
            # server's, gunicorn's InvalidChunkSize, ChunkMissingTerminator, NoMoreData...
            failure = HttpError(
                status=400,
                rule="body_framing",
                message=(
                    "the request body could not be read: malformed Transfer-Encoding: chunked "
                    "framing, or the connection failed"
                ),
                position=f"body[byte {size}]",
                headers=(("Connection", "close"),),
            )
    if deadline.expired:
        failure = _timed_out(timeout)
    elif failure is None and size > limit:
        failure = too_large(limit)
    elif failure is None and declared_length is not None and size < declared_length:
        # gunicorn hands over what arrived when the client closes early.
        failure = _incomplete(size, declared_length)
    if failure is not None:
        if sock is not None:
            _abandon(stream, sock)
        return failure
    return b"".join(chunks)


def _incomplete(size: int, declared_length: int | None) -> HttpError:
    return HttpError(
        status=400,
        rule="body_incomplete",
        message=(
            f"the request body ended after {size} of the {declared_length} bytes its "
            "Content-Length announced"
        ),
        position=f"body[byte {size}]",
        headers=(("Connection", "close"),),
    )


def _abandon(stream: IO[bytes], sock: socket.socket) -> None:
    """Close the connection after the answer, without waiting for the rest of the body.

    gunicorn reuses a connection only when its body reader did not fail, and drains what is
    left of the body before closing it: shutting the read side makes that drain end at once
    (otherwise a stalled client holds the worker's main loop for the drain's two seconds).
    """
    if hasattr(stream, "failed"):
        setattr(stream, "failed", True)  # noqa: B010 - gunicorn's Body, not a typed attribute
    _shut_read_side(sock)


def read_request_body(request: flask.Request, timeout: float, limit: int) -> bytes | HttpError:
    """At most ``limit`` + 1 bytes within ``timeout`` seconds, on gunicorn's socket when the
    server exposes it (so a slow body can be cut off)."""
    sock = request.environ.get("gunicorn.socket")
    return read_body(
        request.stream,
        declared_length=request.content_length,
        timeout=timeout,
        sock=sock if isinstance(sock, socket.socket) else None,
        limit=limit,
    )
