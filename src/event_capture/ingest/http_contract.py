"""The HTTP request contract: method, content type and coding, size, how the body is read, and
the body's shape.

Everything here answers a client error with a status, a rule and a message; nothing raises for
any input. The message is for the client and may quote what it sent (the key it got wrong, the
byte that is not UTF-8); the rule and the position are for the log, which never carries
anything the client sent.
"""

import contextlib
import heapq
import itertools
import json
import socket
import threading
import time
import zlib
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any

from werkzeug.exceptions import ClientDisconnected

from event_capture.ingest import log_fields as log
from event_capture.ingest.limits import MAX_EVENTS_PER_REQUEST, MAX_REQUEST_BYTES

# The deepest legitimate body is five containers ({"events": [{"items": [{...}]}]}); the cap
# leaves room for additions and stops bodies that would exhaust the parser's recursion.
MAX_NESTING = 32

# Content-Encoding values taken (RFC 9110 section 8.4.1: x-gzip is gzip); anything else is 415.
_IDENTITY = frozenset({"", "identity"})
_GZIP = frozenset({"gzip", "x-gzip"})
ACCEPTED_ENCODINGS = "gzip or identity"

_READ_STEP = 64 * 1024


@dataclass(frozen=True, slots=True)
class ParsedBody:
    events: list[Any]
    # True for {"events": [...]}: field paths in errors are then prefixed with events[i].
    batch: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpError:
    status: int
    # Names the broken rule, e.g. nesting_too_deep: what the log and the metrics carry.
    rule: str
    # For the client: may name what it sent.
    message: str
    # Where in the request, without any of its content: "body", "body[char 17]", "events".
    position: str = "request"
    headers: tuple[tuple[str, str], ...] = ()

    def body(self) -> dict[str, Any]:
        return {"error": self.message}

    def log_fields(self) -> dict[str, Any]:
        """What the structured log line may say about this refusal: rule and position only."""
        return {log.RULE: self.rule, log.POSITION: self.position}


def _too_large(position: str = "body", limit: int = MAX_REQUEST_BYTES) -> HttpError:
    return HttpError(
        status=413,
        rule="body_too_large",
        message=f"request body must be at most {limit} bytes",
        position=position,
    )


def check_request(
    method: str,
    mimetype: str,
    content_length: int | None,
    content_encoding: str | None = None,
    *,
    limit: int = MAX_REQUEST_BYTES,
) -> HttpError | None:
    """Refuse what can be refused before reading the body (``limit``: the body's bytes)."""
    if method != "POST":
        return HttpError(
            status=405,
            rule="method_not_allowed",
            message=f"method {method} not allowed; use POST",
            position="method",
            headers=(("Allow", "POST"),),
        )
    if mimetype != "application/json":
        return HttpError(
            status=415,
            rule="content_type_unsupported",
            message=f"content type must be application/json, got {mimetype or 'none'!r}",
            position="Content-Type",
        )
    coding = _coding(content_encoding)
    if isinstance(coding, HttpError):
        return coding
    if content_length is not None and content_length > limit:
        return _too_large("Content-Length", limit)
    return None


def _coding(content_encoding: str | None) -> str | HttpError:
    """``identity`` or ``gzip``; one coding only (a stack of codings is not taken)."""
    value = (content_encoding or "").strip().lower()
    if value in _IDENTITY:
        return "identity"
    if value in _GZIP:
        return "gzip"
    return HttpError(
        status=415,
        rule="content_encoding_unsupported",
        message=f"Content-Encoding must be {ACCEPTED_ENCODINGS}, got {content_encoding!r}",
        position="Content-Encoding",
    )


# --------------------------------------------------------------------------------------------
# Reading the body
# --------------------------------------------------------------------------------------------


class _Watchdog:
    """One thread for the body-read deadlines of the whole process.

    Started on first use, so in each gunicorn worker (threads do not survive the fork). A
    timer thread per request costs about 0.3 ms here; arming this one costs microseconds.
    """

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._pending: list[tuple[float, int, ReadDeadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        # Reads that ended before their deadline stay in the heap until it passes; once they
        # are most of it, they are dropped (the timeout can be an hour).
        self._ended = 0

    def arm(self, at: float, deadline: "ReadDeadline") -> None:
        with self._wake:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="body-read-deadlines", daemon=True
                )
                self._thread.start()
            heapq.heappush(self._pending, (at, next(self._order), deadline))
            self._wake.notify()

    def ended(self) -> None:
        with self._wake:
            self._ended += 1
            if self._ended > 1024 and 2 * self._ended > len(self._pending):
                self._pending = [entry for entry in self._pending if not entry[2].ended]
                heapq.heapify(self._pending)
                self._ended = 0

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending or self._pending[0][0] > time.monotonic():
                    wait = self._pending[0][0] - time.monotonic() if self._pending else None
                    self._wake.wait(wait)
                _, _, deadline = heapq.heappop(self._pending)
            # A read that ended in time is still in the heap until its deadline: _expire
            # then does nothing.
            deadline._expire()


_WATCHDOG = _Watchdog()


class ReadDeadline:
    """Ends a body read that outlasts its deadline, however the client sends (or does not).

    A socket timeout bounds each recv(), not the read: a client that trickles a byte just
    before every timeout would hold the thread indefinitely. At the deadline the connection's
    read side is shut instead, which wakes a blocked recv() with end-of-file. Without a socket
    (an in-process test client) the body is in memory and there is nothing to bound.
    """

    def __init__(self, sock: socket.socket | None, seconds: float) -> None:
        self._sock = sock
        self._seconds = seconds
        self._lock = threading.Lock()
        self._done = False
        self._armed = False
        self.expired = False

    def __enter__(self) -> "ReadDeadline":
        if self._sock is not None:
            self._armed = True
            _WATCHDOG.arm(time.monotonic() + self._seconds, self)
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
            _WATCHDOG.ended()

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
    limit: int = MAX_REQUEST_BYTES,
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
    deadline = ReadDeadline(sock, timeout)
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
        failure = _too_large(limit=limit)
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


# --------------------------------------------------------------------------------------------
# Decoding and parsing the body
# --------------------------------------------------------------------------------------------


def decode_body(
    body: bytes, content_encoding: str | None, *, limit: int = MAX_REQUEST_BYTES
) -> bytes | HttpError:
    """The body with its Content-Encoding removed, at most ``limit`` bytes once inflated."""
    coding = _coding(content_encoding)
    if isinstance(coding, HttpError):
        return coding
    if len(body) > limit:
        return _too_large(limit=limit)
    if coding == "identity":
        return body
    return _gunzip(body, limit)


def _gunzip(body: bytes, limit: int) -> bytes | HttpError:
    # Streaming, with max_length: a gzip bomb is refused after inflating limit + 1 bytes, not
    # after inflating all of it. Several members one after the other are one stream
    # (RFC 1952 section 2.2).
    out: list[bytes] = []
    size = 0
    rest = body
    try:
        while True:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            piece = inflater.decompress(rest, limit + 1 - size)
            out.append(piece)
            size += len(piece)
            if size > limit:
                return _too_large("body (inflated)", limit)
            if not inflater.eof:
                if inflater.unconsumed_tail:
                    # Output stopped at the cap with input left: over the limit.
                    return _too_large("body (inflated)", limit)
                return _bad_gzip("the gzip stream is truncated")
            rest = inflater.unused_data
            if not rest:
                return b"".join(out)
    except zlib.error:
        return _bad_gzip("the body is not a valid gzip stream")


def _bad_gzip(reason: str) -> HttpError:
    return HttpError(
        status=400,
        rule="gzip_invalid",
        message=f"Content-Encoding is gzip but {reason}",
        position="body",
    )


def _nesting_exceeds(document: Any, cap: int) -> bool:
    """Whether a parsed document nests containers deeper than ``cap``.

    Checked after parsing, level by level over containers only: a quarter of the CPU of a scan
    of the text that must first remove every string (brackets in strings do not count). The
    parser itself stops documents nested past its recursion limit (RecursionError, below).
    """
    level = [document] if type(document) is dict or type(document) is list else []
    for _ in range(cap):
        level = [
            value
            for container in level
            for value in (container.values() if type(container) is dict else container)
            if type(value) is dict or type(value) is list
        ]
        if not level:
            return False
    return True


class _NotJsonError(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    # Python's json takes NaN and Infinity; JSON (RFC 8259) has no such values, and BigQuery
    # refuses a row that holds one.
    raise _NotJsonError(f"{name} is not a JSON value")


def _not_json(detail: str, position: str = "body") -> HttpError:
    return HttpError(
        status=400,
        rule="json_invalid",
        message=f"body is not valid JSON: {detail}",
        position=position,
    )


def _too_deep() -> HttpError:
    return HttpError(
        status=400,
        rule="nesting_too_deep",
        message=f"body: JSON must nest at most {MAX_NESTING} levels of objects and arrays",
        position="body",
    )


def parse_json(
    body: bytes, content_encoding: str | None = None, *, limit: int = MAX_REQUEST_BYTES
) -> Any | HttpError:
    """The body's JSON document: inflated (at most ``limit`` bytes), UTF-8, strict JSON, nested
    at most MAX_NESTING levels. Any shape; ``parse_body`` and the collector check their own."""
    decoded = decode_body(body, content_encoding, limit=limit)
    if isinstance(decoded, HttpError):
        return decoded
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError as error:
        return _not_json(
            f"must be UTF-8 ({error.reason} at byte {error.start})", f"body[byte {error.start}]"
        )
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        return _not_json(f"{error.msg} at char {error.pos}", f"body[char {error.pos}]")
    except _NotJsonError as error:
        return _not_json(str(error))
    except RecursionError:
        # Nested past the parser's own limit (about 10,000 containers on Python 3.13).
        return _too_deep()
    except ValueError:
        # Python's own limits, e.g. an integer of more than 4300 digits.
        return _not_json("a number is too long")
    if _nesting_exceeds(document, MAX_NESTING):
        return _too_deep()
    return document


def parse_body(body: bytes, content_encoding: str | None = None) -> ParsedBody | HttpError:
    """One event object, or ``{"events": [...]}`` with 1 to 500 events.

    ``content_encoding`` is the request's Content-Encoding header: a gzip body is inflated
    first, at most MAX_REQUEST_BYTES.
    """
    document = parse_json(body, content_encoding)
    if isinstance(document, HttpError):
        return document
    if not isinstance(document, dict):
        return HttpError(
            status=400,
            rule="body_shape",
            message='body must be an event object or {"events": [...]}',
            position="body",
        )
    if "events" not in document:
        return ParsedBody([document], batch=False)
    extra = sorted(set(document) - {"events"})
    if extra:
        return HttpError(
            status=400,
            rule="batch_field_unknown",
            message=f"{extra[0]}: is not a known field of a batch (only 'events')",
            position="batch",
        )
    events = document["events"]
    if not isinstance(events, list):
        return HttpError(
            status=400, rule="events_type", message="events: must be an array", position="events"
        )
    if not events:
        return HttpError(
            status=400,
            rule="events_empty",
            message="events: must contain at least 1 event",
            position="events",
        )
    if len(events) > MAX_EVENTS_PER_REQUEST:
        return HttpError(
            status=413,
            rule="too_many_events",
            message=f"events: at most {MAX_EVENTS_PER_REQUEST} events per request",
            position="events",
        )
    return ParsedBody(events, batch=True)
