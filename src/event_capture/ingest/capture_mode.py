"""Whether capture streams into BigQuery or only archives: the control document and its reader.

The cost guard (``event_capture.cost_guard``) writes one small JSON object, ``capture-mode.json``,
in a bucket of its own; every capture instance reads it at most once per ``ttl_seconds`` and
switches without a redeploy. In ``archive_only`` mode an event is accepted once it is in the
archive (Cloud Storage), and no streaming insert is made; the guard later loads those archived
events into the tables with batch load jobs, which are free.

Why an object in Cloud Storage: capture already talks to Cloud Storage, the emulator is the
real API, one read per instance per 30 s costs about 0.04 USD a month per busy instance, and a
bucket grant lets capture read this one bucket and the guard write it, nothing else. An
environment variable would need a new revision (a redeploy, and a role on the service); a
secret would be billed per access and is not a secret.
"""

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from event_capture.ingest.config import DEFAULT_TTL_SECONDS

MODE_OBJECT = "capture-mode.json"
# A failed read is tried again this soon, the mode last read staying in force meanwhile.
RETRY_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 2.0


class CaptureMode(StrEnum):
    STREAM = "stream"
    ARCHIVE_ONLY = "archive_only"


class Period(BaseModel):
    """One budget period of one budget: what a notification's spend is measured against."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    budget_id: str
    # costIntervalStart of the budget notifications: the start of the current period.
    interval_start: dt.datetime


class PendingLoad(BaseModel):
    """Archived events that were not streamed and are not yet loaded into the tables."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    received_from: dt.datetime
    received_until: dt.datetime
    # Not before then: every instance has read the switch back, and every request received
    # before it has finished.
    not_before: dt.datetime


class ControlState(BaseModel):
    """The control document; only the guard writes it, and capture reads only ``mode``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: CaptureMode = CaptureMode.STREAM
    # Why the mode is what it is, for the operator who reads the object.
    reason: str = "never switched"
    updated_at: dt.datetime | None = None
    # Archive-only since then, because of that period's spend.
    archive_only_since: dt.datetime | None = None
    tripped: Period | None = None
    # An operator switched back within this period: its notifications no longer switch.
    overridden: Period | None = None
    # The later period whose notification switched capture back: messages of earlier periods,
    # arriving late, change nothing.
    resumed_by: Period | None = None
    # Scheduled queries the guard pauses (their full resource names), to be resumed: recorded
    # before the calls; ``queries_paused`` once every call succeeded.
    paused_queries: tuple[str, ...] = ()
    queries_paused: bool = False
    pending_load: PendingLoad | None = None

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_none=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> "ControlState":
        return cls.model_validate_json(text)


def read_mode(text: bytes | str) -> CaptureMode:
    """The mode of a control document; an unreadable one is an error for the caller to log."""
    data: Any = json.loads(text)
    return CaptureMode(data["mode"])


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
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
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
    bucket: Callable[[], Any], name: str = MODE_OBJECT
) -> Callable[[], bytes | None]:
    """Reads the control object with google-cloud-storage; None when it does not exist."""

    def read() -> bytes | None:
        from google.api_core.exceptions import NotFound

        try:
            data: bytes = (
                bucket().blob(name).download_as_bytes(timeout=READ_TIMEOUT_SECONDS, retry=None)
            )
        except NotFound:
            return None
        return data

    return read
