"""Whether capture streams into BigQuery or only archives: the control document.

The cost guard (``event_capture.cost_guard``) writes one small JSON object, ``capture-mode.json``,
in a bucket of its own; every capture instance reads it at most once per
``CAPTURE_MODE_TTL_SECONDS`` (``ingest.mode_reader``) and switches without a redeploy. In
``archive_only`` mode an event is accepted once it is in the archive (Cloud Storage), and no
streaming insert is made; the guard later loads those archived events into the tables with
batch load jobs, which are free.

Why an object in Cloud Storage: capture already talks to Cloud Storage, the emulator is the
real API, one read per instance per 30 s costs about 0.04 USD a month per busy instance, and a
bucket grant lets capture read this one bucket and the guard write it, nothing else. An
environment variable would need a new revision (a redeploy, and a role on the service); a
secret would be billed per access and is not a secret.
"""

import datetime as dt
import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

# The document's name in the control bucket (CAPTURE_MODE_BUCKET).
MODE_OBJECT = "capture-mode.json"


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
