"""App sessions: when they start and end, on which device, and where they came from."""

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from event_capture.schemas.envelope import EventEnvelope, Timestamp, Url

Device = Literal["desktop", "mobile", "tablet", "tv", "speaker", "other"]


class SessionEvent(EventEnvelope):
    TABLE: ClassVar[str] = "sessions"
    DESCRIPTION: ClassVar[str] = "Session starts and ends with device and entry point."

    event_type: Literal["session_start", "session_end"] = Field(
        description="session_start or session_end."
    )
    started_at: Timestamp = Field(description="When the session started, by the client clock.")
    ended_at: Timestamp | None = Field(
        default=None,
        # Validated even when absent, so a session_end without it is named as missing.
        validate_default=True,
        description="When the session ended (required on session_end).",
    )
    device: Device = Field(description="Device class.", examples=["mobile"])
    referrer: Url | None = Field(
        default=None,
        description="Referring http(s) URL, reduced to scheme, host and a path without "
        "identifiers.",
        examples=["https://www.example.com/recipes"],
    )
    landing_page: Url | None = Field(
        default=None,
        description="First page or screen of the session (an http(s) URL or an app path), "
        "reduced to scheme, host and a path without identifiers.",
        examples=["/search"],
    )

    @field_validator("ended_at")
    @classmethod
    def _end_matches_type(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None:
            if info.data.get("event_type") == "session_end":
                raise PydanticCustomError("missing", "is required on session_end")
            return value
        started_at = info.data.get("started_at")
        if started_at is not None and value < started_at:
            raise PydanticCustomError("ended_before_start", "must not precede started_at")
        return value
