"""The capture function's answer, defined once.

The function renders it (``ingest.answer``), the OpenAPI document describes it
(``ingest.openapi``), the client reads the rejections out of it (``client.delivery``), and the
collector re-maps its field errors onto the Segment calls they came from. Extra keys are
allowed throughout: the answers may be extended, and a reader must ignore what it does not
know.
"""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema


class SinkStatus(StrEnum):
    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"
    DISABLED = "disabled"
    SKIPPED = "skipped"


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class FieldError(_Answer):
    """One broken rule: where, which rule, and what it asks for."""

    field: str = Field(description="Path of the field, e.g. events[3].items[0].price.")
    rule: str = Field(description="The rule it broke, e.g. greater_than_equal.")
    message: str = Field(description="What the rule asks for, in words.")

    def describe(self) -> str:
        return f"{self.field}: {self.message} ({self.rule})"


class Rejection(_Answer):
    """An event that was not accepted, and why; resending it would be refused again."""

    index: int = Field(ge=0, description="Position of the event in the request.")
    event_id: str | None = Field(description="Its event_id, when it had a string one.")
    errors: list[FieldError] = Field(min_length=1)

    def describe(self) -> str:
        return "; ".join(error.describe() for error in self.errors) or "no reason given"


class SinkOutcome(_Answer):
    """What one sink did with the request's rows."""

    status: SinkStatus
    rows: int = Field(ge=0, description="Rows the sink now holds.")
    latency_ms: float
    retries: int = 0
    requests: int = Field(default=0, description="Calls made to the backend (BigQuery's).")
    # Absent rather than null: an answer leaves out what did not happen.
    error: str | SkipJsonSchema[None] = None


class CaptureResponse(_Answer):
    """The answer to a request whose events were validated (200, 207, 400 or 503)."""

    request_id: str
    received: int = Field(ge=0)
    accepted: int = Field(ge=0, description="0 unless every valid event is durable.")
    suppressed: int = Field(
        0,
        ge=0,
        description="Of the accepted events, those dropped because their user asked not to be "
        "tracked: accepted (never resend them) and stored nowhere.",
    )
    rejected: int = Field(ge=0)
    rejections: list[Rejection]
    sinks: dict[str, SinkOutcome]
    error: str | SkipJsonSchema[None] = None


class ErrorResponse(_Answer):
    """The answer to a request that could not be captured as sent."""

    error: str
