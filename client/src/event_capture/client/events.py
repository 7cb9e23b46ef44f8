"""Typed constructors for every event family, built on the ``schemas`` models.

Each returns a validated model, so an event the function would reject fails here, in the
developer's test run, with pydantic's message naming the field. The envelope (ids, clock,
user, device and session) comes from the context; ``event_id`` is a fresh UUID, which is also
the BigQuery insertId that makes resends harmless.
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from event_capture.schemas.identity_link import IdentityLink
from event_capture.schemas.order import LineItem, OrderEvent
from event_capture.schemas.product_interaction import (
    ProductInteractionEvent,
    ProductInteractionType,
)
from event_capture.schemas.search import SearchEvent, SearchFilter
from event_capture.schemas.session import Device, SessionEvent
from event_capture.schemas.voice import VoiceInteractionEvent

Money = Decimal | int | str


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class EventContext:
    """Who and where: one per user session (or per request, for a server-side app).

    ``user_id`` is the account's id, ``anonymous_id`` the device's (before or without a login):
    at least one. Without a ``session_id`` the warehouse derives sessions from the events'
    times."""

    user_id: str | None = None
    session_id: str | None = None
    source: str = "server"
    clock: Callable[[], datetime] = field(default=_now, repr=False)
    anonymous_id: str | None = None

    def _envelope(self) -> dict[str, Any]:
        return {
            "event_id": uuid.uuid4(),
            "occurred_at": self.clock(),
            "user_id": self.user_id,
            "anonymous_id": self.anonymous_id,
            "session_id": self.session_id,
            "source": self.source,
        }

    def identify(self) -> IdentityLink:
        """The link from this context's device to its user, when they log in: their activity
        on the device before it counts as theirs. Both ids are required."""
        return IdentityLink(**self._envelope(), event_type="identify")

    def search(
        self,
        query: str,
        *,
        intent: str | None = None,
        intent_confidence: float | None = None,
        result_count: int | None = None,
        filters: Sequence[tuple[str, str]] = (),
        latency_ms: int | None = None,
    ) -> SearchEvent:
        return SearchEvent(
            **self._envelope(),
            event_type="search",
            query=query,
            intent=intent,
            intent_confidence=intent_confidence,
            result_count=result_count,
            filters=[SearchFilter(name=name, value=value) for name, value in filters],
            latency_ms=latency_ms,
        )

    def product(
        self,
        event_type: ProductInteractionType,
        product_id: str,
        *,
        category: str | None = None,
        position: int | None = None,
        quantity: int | None = None,
        search_event_id: uuid.UUID | None = None,
    ) -> ProductInteractionEvent:
        """A view, click, add to cart or remove from cart; link it to its search if any."""
        return ProductInteractionEvent(
            **self._envelope(),
            event_type=event_type,
            product_id=product_id,
            category=category,
            position=position,
            quantity=quantity,
            search_event_id=search_event_id,
        )

    def order(
        self,
        order_id: str,
        *,
        items: Sequence[tuple[str, int, Money]],
        total: Money,
        currency: str,
    ) -> OrderEvent:
        """``items`` as (product_id, quantity, unit_price) in ``currency``."""
        return OrderEvent(
            **self._envelope(),
            event_type="order_placed",
            order_id=order_id,
            items=[
                LineItem(product_id=product, quantity=quantity, unit_price=Decimal(str(price)))
                for product, quantity, price in items
            ],
            total=Decimal(str(total)),
            currency=currency,
        )

    def session_start(
        self,
        *,
        device: Device,
        started_at: datetime | None = None,
        referrer: str | None = None,
        landing_page: str | None = None,
    ) -> SessionEvent:
        envelope = self._envelope()
        return SessionEvent(
            **envelope,
            event_type="session_start",
            started_at=started_at or envelope["occurred_at"],
            device=device,
            referrer=referrer,
            landing_page=landing_page,
        )

    def session_end(
        self,
        *,
        device: Device,
        started_at: datetime,
        ended_at: datetime | None = None,
        referrer: str | None = None,
        landing_page: str | None = None,
    ) -> SessionEvent:
        envelope = self._envelope()
        return SessionEvent(
            **envelope,
            event_type="session_end",
            started_at=started_at,
            ended_at=ended_at or envelope["occurred_at"],
            device=device,
            referrer=referrer,
            landing_page=landing_page,
        )

    def voice(
        self,
        transcript: str,
        *,
        detected_intent: str,
        duration_ms: int,
        intent_confidence: float | None = None,
        language: str | None = None,
    ) -> VoiceInteractionEvent:
        return VoiceInteractionEvent(
            **self._envelope(),
            event_type="voice_interaction",
            transcript=transcript,
            detected_intent=detected_intent,
            duration_ms=duration_ms,
            intent_confidence=intent_confidence,
            language=language,
        )
