"""The envelope every event shares, and the constrained field types the families reuse.

Models are strict: unknown fields are rejected (nothing unexpected, personal data included,
is ever stored by accident) and values are not coerced ("5" is not 5), except where JSON has no
native type: timestamps and UUIDs arrive as strings and are parsed.
"""

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from event_capture.schemas.retention import MAX_CLOCK_SKEW_AHEAD, RETENTION, RETENTION_DAYS
from event_capture.schemas.scrub import scrub_path, scrub_text

ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
LABEL_PATTERN = r"^[a-z][a-z0-9_]*$"


# pydantic would read "1795876593" as seconds since the epoch.
_EPOCH_LIKE = re.compile(r"\s*-?\d+(\.\d+)?\s*")


def _require_string(value: Any) -> Any:
    # pydantic's lax datetime also takes epoch numbers; a number here is a client bug
    # (seconds or milliseconds?), so only ISO 8601 strings are accepted.
    if type(value) is str and ("T" in value or ":" in value):
        return value  # the usual ISO 8601 string; nothing epoch-like has either character
    if not isinstance(value, str | datetime) or (
        isinstance(value, str) and _EPOCH_LIKE.fullmatch(value)
    ):
        raise PydanticCustomError("timestamp_type", "must be an ISO 8601 timestamp string")
    return value


def _storable_instant(value: datetime) -> datetime:
    # BigQuery stores the UTC instant, from 0001-01-01 to 9999-12-31T23:59:59.999999Z: the
    # range of Python's datetime, so the conversion overflows exactly where BigQuery would
    # refuse the row (an offset pushing year 1 or year 9999 past the range).
    if 1 < value.year < 9999:
        return value  # no offset reaches a year boundary from here
    try:
        value.replace(tzinfo=None) - (value.utcoffset() or timedelta(0))
    except OverflowError:
        raise PydanticCustomError(
            "timestamp_out_of_range",
            "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in UTC",
        ) from None
    return value


# Stands in for a host that held personal data; ".invalid" can never resolve (RFC 2606).
REDACTED_HOST = "redacted.invalid"


# Where a stored URL may point: a web page, or a path inside the app. Other schemes run code
# (javascript:), carry the content itself (data:) or name a person (mailto:, tel:).
URL_SCHEMES = frozenset({"http", "https"})


def _strip_url(value: str) -> str:
    # Query strings and fragments carry e-mails, tokens and ids; keep scheme, host and path.
    # user:password@ is dropped too: netloc would keep credentials.
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        # urllib's own message quotes the input (an invalid port, an unclosed IPv6 bracket).
        raise PydanticCustomError("url_invalid", "must be a URL or a path") from None
    if (parts.scheme and parts.scheme not in URL_SCHEMES) or (parts.netloc and not parts.scheme):
        raise PydanticCustomError("url_scheme", "must be an http or https URL or an app path")
    host = parts.hostname or ""
    if scrub_text(host) != host:
        # A host that reads as a card or phone number loses it whole: the bracketed
        # placeholders would make the stored URL an IPv6 literal no parser accepts.
        host = REDACTED_HOST
    elif ":" in host:
        host = f"[{host}]"
    if port is not None:
        host = f"{host}:{port}"
    path = scrub_path(parts.path)
    # What is left of "?q=..." or "#top" alone is nothing; the stored value is the root.
    return urlunsplit((parts.scheme, host, path, "", "")) or "/"


Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=ID_PATTERN)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=LABEL_PATTERN)]
Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_require_string),
    AfterValidator(_storable_instant),
    Field(strict=False),
]
EventId = Annotated[UUID, Field(strict=False)]
Confidence = Annotated[float, Field(ge=0.0, le=1.0)]
DurationMs = Annotated[int, Field(ge=0, le=3_600_000)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048), AfterValidator(_strip_url)]


# Free text typed or spoken by an end user is scrubbed as part of validation, so no sink can
# ever receive the unscrubbed value.
Scrubbed = AfterValidator(scrub_text)


class EventEnvelope(BaseModel):
    """Fields every event carries. Subclasses narrow ``event_type`` to their own names."""

    # The OpenAPI document says what _someone checks: a user id, a device id, or both.
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        json_schema_extra={"anyOf": [{"required": ["user_id"]}, {"required": ["anonymous_id"]}]},
    )

    # model-revision-addition (Snowplow's SchemaVer): an addition bumps the last part, anything
    # that is not additive needs a new major version and a new table.
    SCHEMA_VERSION: ClassVar[str] = "1-2-0"
    TABLE: ClassVar[str]
    DESCRIPTION: ClassVar[str]

    event_id: EventId = Field(
        description="Client-generated UUID; also the BigQuery insertId, so retries de-duplicate.",
        examples=["6f1c2b8e-9a4e-4c9b-8a57-0e3c1b2a9d11"],
    )
    event_type: str = Field(description="What happened; selects the table the event lands in.")
    user_id: Identifier | None = Field(
        default=None,
        description="The account's pseudonymous id, chosen by the app; kept only from a trusted "
        "sender (the app's backend, a server key, or a call proven by the backend).",
        examples=["u_8f14e45f"],
    )
    session_id: Identifier | None = Field(
        default=None,
        description="App session the event belongs to; without one, the warehouse derives "
        "sessions (30 minutes without an event end one).",
        examples=["s_2026-11-28_a1"],
    )
    occurred_at: Timestamp = Field(
        description="When the event happened, by the client clock (ISO 8601 with offset).",
        examples=["2026-11-28T16:37:33.120Z"],
    )
    source: Label = Field(
        description="Emitting surface, e.g. web, ios, android, server.", examples=["web"]
    )
    schema_version: str | None = Field(
        default=None,
        pattern=r"^\d+-\d+-\d+$",
        description="Schema version the event was validated against (set by the server).",
        examples=["1-0-0"],
    )
    # Added in 1-2-0: last, where BigQuery adds a column to a live table
    # (tables.bigquery_schema.APPENDED_ENVELOPE_FIELDS).
    anonymous_id: Identifier | None = Field(
        default=None,
        # Validated even when absent: an event needs this or user_id.
        validate_default=True,
        description="The device's or browser's id (Segment's anonymousId), for activity before "
        "or without a login; required when there is no user_id.",
        examples=["a_3b1f9c2e"],
    )

    @field_validator("occurred_at")
    @classmethod
    def _occurred_within_window(cls, value: datetime, info: ValidationInfo) -> datetime:
        # The request's receive time comes in the validation context so that one request
        # uses one clock reading and tests can pin it.
        now = (info.context or {}).get("received_at")
        if now is None:
            return value
        if value > now + MAX_CLOCK_SKEW_AHEAD:
            raise PydanticCustomError(
                "occurred_in_future", "must not be more than 24 hours in the future"
            )
        if value < now - RETENTION:
            raise PydanticCustomError(
                "occurred_before_retention",
                "must not be older than the {days}-day retention window",
                {"days": RETENTION_DAYS},
            )
        return value

    @field_validator("anonymous_id")
    @classmethod
    def _someone(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("user_id") is None:
            raise PydanticCustomError(
                "user_or_device_missing", "is required when there is no valid user_id"
            )
        return value

    @field_validator("schema_version")
    @classmethod
    def _same_major_version(cls, value: str | None) -> str | None:
        if value is not None and value.split("-")[0] != cls.SCHEMA_VERSION.split("-")[0]:
            raise PydanticCustomError(
                "schema_version_unsupported",
                "major version must be {major}",
                {"major": cls.SCHEMA_VERSION.split("-")[0]},
            )
        return value
