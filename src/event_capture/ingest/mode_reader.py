"""How a capture instance reads the cost guard's switch (``contracts.capture_mode``): the
control object, read again every ``ttl_seconds``."""

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


class ModeReader:
    """The capture mode of one instance: the control object, read again every ``ttl_seconds``.

    The read happens on the first request after the mode went stale, so an idle instance reads
    nothing. A missing object means ``stream`` (the guard never switched).

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
        self._read = read
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._mode = CaptureMode.STREAM
        self._fresh_until = float("-inf")
        self._reading = False
        self.last_error: str | None = None

    def __call__(self) -> CaptureMode:
        now = self._clock()
        with self._lock:
            if now < self._fresh_until:
                return self._mode
            if self._reading:
                return CaptureMode.STREAM
            self._reading = True
        mode, error, fresh_for = CaptureMode.STREAM, None, min(self._ttl, RETRY_SECONDS)
        try:
            text = self._read()
            mode = CaptureMode.STREAM if text is None else read_mode(text)
            fresh_for = self._ttl
        except Exception as caught:  # noqa: BLE001 - streams until a read succeeds; logged by the caller
            error = f"{type(caught).__name__}: capture mode unreadable, streaming"
        finally:
            # Whatever escaped, the next request after the retry time reads again.
            with self._lock:
                self._mode, self.last_error = mode, error
                self._fresh_until = self._clock() + fresh_for
                self._reading = False
        return mode


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
