"""The event families, one BigQuery table each, and the lookup from event_type to model."""

from typing import get_args

from event_capture.schemas.envelope import EventEnvelope
from event_capture.schemas.identity_link import IdentityLink
from event_capture.schemas.order import OrderEvent
from event_capture.schemas.product_interaction import ProductInteractionEvent
from event_capture.schemas.search import SearchEvent
from event_capture.schemas.session import SessionEvent
from event_capture.schemas.voice import VoiceInteractionEvent

FAMILIES: tuple[type[EventEnvelope], ...] = (
    SearchEvent,
    ProductInteractionEvent,
    OrderEvent,
    SessionEvent,
    VoiceInteractionEvent,
    IdentityLink,
)


def event_types(model: type[EventEnvelope]) -> tuple[str, ...]:
    """The event_type values a family accepts, read from its Literal annotation."""
    return get_args(model.model_fields["event_type"].annotation)


MODEL_BY_EVENT_TYPE: dict[str, type[EventEnvelope]] = {
    event_type: model for model in FAMILIES for event_type in event_types(model)
}
EVENT_TYPES: tuple[str, ...] = tuple(MODEL_BY_EVENT_TYPE)
