"""How a capture instance reads the control bucket's documents, each again every ``ttl_seconds``:
the cost guard's switch (``contracts.capture_mode``) here, the suppression list in
``ingest.suppression``."""

import threading
import time
from collections.abc import Callable

from event_capture.contracts.capture_mode import MODE_OBJECT, CaptureMode, read_mode
from event_capture.contracts.timing import MODE_TTL_SECONDS
from event_capture.platform.api_calls import CONTROL_BUCKET, ApiCall
from event_capture.platform.storage_surface import StorageBucket

# A failed read is tried again this soon, the mode last read staying in force meanwhile.
RETRY_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 2.0

API_CALLS = (ApiCall("storage.objects.get", CONTROL_BUCKET),)


class ControlReader[T]:
    """A document of the control bucket as one instance sees it: read again on the first call
    after it went stale (every ``ttl_seconds``), so an idle instance reads nothing.

    ``fallback(last)`` is what holds while another call is reading, and after a failed read
    until the next try (``RETRY_SECONDS`` later); ``last_error`` says why, for the log line.
    """

    def __init__(
        self,
        read: Callable[[], bytes | None],
        parse: Callable[[bytes | None], T],
        *,
        initial: T,
        fallback: Callable[[T], T],
        unreadable: str,
        ttl_seconds: float = MODE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._parse = parse
        self._fallback = fallback
        self._unreadable = unreadable
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._value = initial
        self._fresh_until = float("-inf")
        self._reading = False
        self.last_error: str | None = None

    def __call__(self) -> T:
        now = self._clock()
        with self._lock:
            if now < self._fresh_until:
                return self._value
            if self._reading:
                return self._fallback(self._value)
            self._reading = True
            value = self._fallback(self._value)
        error, fresh_for = None, min(self._ttl, RETRY_SECONDS)
        try:
            value = self._parse(self._read())
            fresh_for = self._ttl
        except Exception as caught:  # noqa: BLE001 - the fallback holds until a read succeeds; logged by the caller
            error = f"{type(caught).__name__}: {self._unreadable}"
        finally:
            # Whatever escaped, the next request after the retry time reads again.
            with self._lock:
                self._value, self.last_error = value, error
                self._fresh_until = self._clock() + fresh_for
                self._reading = False
        return value


def _mode(text: bytes | None) -> CaptureMode:
    # A missing object: the guard never switched.
    return CaptureMode.STREAM if text is None else read_mode(text)


class ModeReader(ControlReader[CaptureMode]):
    """The capture mode of one instance (``contracts.capture_mode``).

    ``archive_only`` holds only while a read confirmed it within the TTL. A read that fails, or
    is still under way, means ``stream``: an instance that cannot read the switch back must not
    go on accepting events into the archive alone past the window the guard loads (it ends one
    TTL and one request after the switch back), and streamed events are durable either way;
    the cost is a few streamed rows while the control object is out of reach.
    """

    def __init__(
        self,
        read: Callable[[], bytes | None],
        *,
        ttl_seconds: float = MODE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            read,
            _mode,
            initial=CaptureMode.STREAM,
            fallback=lambda _last: CaptureMode.STREAM,
            unreadable="capture mode unreadable, streaming",
            ttl_seconds=ttl_seconds,
            clock=clock,
        )


def gcs_mode_source(
    bucket: Callable[[], StorageBucket], name: str = MODE_OBJECT
) -> Callable[[], bytes | None]:
    """Reads the control object with google-cloud-storage; None when it does not exist."""

    def read() -> bytes | None:
        from google.api_core.exceptions import NotFound

        try:
            return bucket().blob(name).download_as_bytes(timeout=READ_TIMEOUT_SECONDS, retry=None)
        except NotFound:
            return None

    return read
