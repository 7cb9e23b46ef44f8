"""Voice interactions from the voice assistant."""

from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints

from event_capture.schemas.envelope import Confidence, DurationMs, EventEnvelope, Label, Scrubbed
from event_capture.schemas.scrub import SCRUBBED_DATA


class VoiceInteractionEvent(EventEnvelope):
    TABLE: ClassVar[str] = "voice_interactions"
    DESCRIPTION: ClassVar[str] = "Voice assistant utterances with their detected intent."

    event_type: Literal["voice_interaction"] = Field(description="Always 'voice_interaction'.")
    transcript: Annotated[str, StringConstraints(min_length=1, max_length=4_000), Scrubbed] = Field(
        description=f"What the user said, scrubbed of {SCRUBBED_DATA}.",
        examples=["add two litres of oat milk"],
    )
    detected_intent: Label = Field(description="Intent the assistant recognised.")
    intent_confidence: Confidence | None = Field(default=None, description="Recogniser confidence.")
    duration_ms: DurationMs = Field(description="Length of the utterance in milliseconds.")
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")] | None = Field(
        default=None, description="BCP 47 language tag, e.g. en-GB."
    )
