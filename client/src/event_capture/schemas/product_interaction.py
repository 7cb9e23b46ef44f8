"""Product interactions: views, clicks and cart changes, linked to the search that led there."""

from typing import ClassVar, Literal

from pydantic import Field

from event_capture.schemas.envelope import EventEnvelope, EventId, Identifier

ProductInteractionType = Literal["product_view", "product_click", "add_to_cart", "remove_from_cart"]


class ProductInteractionEvent(EventEnvelope):
    TABLE: ClassVar[str] = "product_interactions"
    DESCRIPTION: ClassVar[str] = "Product views, clicks and cart additions and removals."

    event_type: ProductInteractionType = Field(
        description="product_view, product_click, add_to_cart or remove_from_cart."
    )
    product_id: Identifier = Field(description="Catalogue product id.", examples=["sku_18842"])
    category: Identifier | None = Field(
        default=None, description="Catalogue category of the product.", examples=["dairy"]
    )
    position: int | None = Field(
        default=None, ge=0, le=10_000, description="Zero-based rank in the result list, if any."
    )
    quantity: int | None = Field(
        default=None, ge=1, le=1_000, description="Units added or removed (cart events)."
    )
    search_event_id: EventId | None = Field(
        default=None, description="event_id of the search that led to this interaction."
    )
