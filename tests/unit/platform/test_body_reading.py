"""platform.body_reading: a body read within its size limit and its time limit, whatever the
client does (stalls, trickles, drops the connection)."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.exceptions import ClientDisconnected

from event_capture.platform import body_reading
from event_capture.platform.http_error import HttpError

LIMIT = 1_000_000


def _error(result: bytes | HttpError) -> HttpError:
    assert isinstance(result, HttpError), result
    return result


def read_body(stream: Any, **options: Any) -> bytes | HttpError:
    return body_reading.read_body(stream, **{"limit": LIMIT, **options})


def test_a_complete_body_is_read() -> None:
    assert read_body(io.BytesIO(b"{}"), declared_length=2, timeout=1) == b"{}"


def test_a_body_past_the_limit_is_413_after_reading_one_byte_more() -> None:
    stream = io.BytesIO(b"x" * (LIMIT + 100))

    error = _error(read_body(stream, declared_length=None, timeout=1))

    assert (error.status, error.rule) == (413, "body_too_large")
    assert stream.tell() == LIMIT + 1


def test_a_body_shorter_than_its_content_length_is_400() -> None:
    error = _error(read_body(io.BytesIO(b"{}"), declared_length=100, timeout=1))

    assert (error.status, error.rule) == (400, "body_incomplete")
    assert "2 of the 100 bytes" in error.message


class _Broken(io.RawIOBase):
    def __init__(self, error: Exception) -> None:
        self.error = error

    def read(self, size: int = -1) -> bytes:
        raise self.error


@pytest.mark.parametrize(
    ("raised", "rule"),
    [
        (ValueError("Invalid chunk size"), "body_framing"),
        (OSError("connection reset"), "body_framing"),
        (ClientDisconnected(), "body_incomplete"),
    ],
    ids=["bad-chunk", "reset", "werkzeug-disconnect"],
)
def test_a_body_the_server_cannot_read_is_400(raised: Exception, rule: str) -> None:
    error = _error(read_body(_Broken(raised), declared_length=None, timeout=1))

    assert (error.status, error.rule) == (400, rule)


class ManualWatchdog(body_reading.Watchdog):
    """The process's watchdog on a clock the test moves, without its thread; says when a read
    has armed its deadline."""

    def __init__(self) -> None:
        self.now = 0.0
        self.armed = threading.Event()
        super().__init__(lambda: self.now, thread=False)

    def arm(self, seconds: float, deadline: body_reading.ReadDeadline) -> None:
        super().arm(seconds, deadline)
        self.armed.set()


def _read_in_background(
    read: Callable[[], bytes | HttpError], watchdog: ManualWatchdog
) -> tuple[threading.Thread, list[bytes | HttpError]]:
    results: list[bytes | HttpError] = []
    reader = threading.Thread(target=lambda: results.append(read()), daemon=True)
    reader.start()
    assert watchdog.armed.wait(10)
    return reader, results


def test_a_stalled_body_is_408_at_the_deadline_and_the_connection_is_not_reused() -> None:
    server, client = socket.socketpair()
    watchdog = ManualWatchdog()
    with server, client:
        client.sendall(b'{"events": [')
        stream = server.makefile("rb")
        reader, results = _read_in_background(
            lambda: read_body(
                stream, declared_length=1000, timeout=30, sock=server, watchdog=watchdog
            ),
            watchdog,
        )

        watchdog.now = 29.9
        assert watchdog.expire_due() == 0 and reader.is_alive()
        watchdog.now = 30.0
        assert watchdog.expire_due() == 1
        reader.join(10)

        error = _error(results[0])
        assert (error.status, error.rule) == (408, "body_read_timeout")
        assert dict(error.headers) == {"Connection": "close"}


def test_a_trickled_body_is_408_at_the_deadline_too() -> None:
    # A socket timeout bounds each recv(); a byte just before each would hold the thread.
    server, client = socket.socketpair()
    watchdog = ManualWatchdog()
    sent = threading.Semaphore(0)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            try:
                client.send(b" ")
            except OSError:
                return
            sent.release()
            stop.wait(0.01)

    sender = threading.Thread(target=trickle)
    with server, client:
        sender.start()
        try:
            reader, results = _read_in_background(
                lambda: read_body(
                    server.makefile("rb"),
                    declared_length=10**6,
                    timeout=30,
                    sock=server,
                    watchdog=watchdog,
                ),
                watchdog,
            )
            for _ in range(5):  # the body keeps arriving, a byte at a time
                assert sent.acquire(timeout=10)
            assert reader.is_alive()
            watchdog.now = 30.0
            watchdog.expire_due()
            reader.join(10)
        finally:
            stop.set()
            sender.join()

        assert _error(results[0]).rule == "body_read_timeout"


def test_the_deadline_never_fires_after_the_read_is_over() -> None:
    server, client = socket.socketpair()
    watchdog = ManualWatchdog()
    with server, client:
        client.sendall(b"{}")
        body = read_body(
            server.makefile("rb"), declared_length=2, timeout=0.1, sock=server, watchdog=watchdog
        )
        assert body == b"{}"
        watchdog.now = 60.0
        assert watchdog.expire_due() == 1
        # The read side is still open: the connection can carry its next request.
        client.sendall(b"next")
        assert server.recv(4) == b"next"


def test_a_body_that_was_not_read_to_its_end_marks_the_server_stream_as_failed() -> None:
    class ServerBody(io.BytesIO):
        failed = False

    server, client = socket.socketpair()
    with server, client:
        stream = ServerBody(b"{}")

        _error(read_body(stream, declared_length=100, timeout=1, sock=server))

        # gunicorn does not reuse a connection whose body reader failed.
        assert stream.failed is True
