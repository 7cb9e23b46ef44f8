"""Valid example events for every family, as raw JSON-like dicts the way a client sends them.

Each call returns a fresh dict with a fresh uuid4 ``event_id``; ``occurred_at`` (and the session
timestamps) are placed relative to the ``received_at`` the test passes, so the events stay inside
the accepted clock window whatever day the tests run. Keyword arguments override or add fields.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

# A fixed server clock reading for tests that do not care which one.
RECEIVED_AT = datetime(2026, 11, 28, 16, 37, 33, 120000, tzinfo=UTC)

PRODUCT_INTERACTION_TYPES = ("product_view", "product_click", "add_to_cart", "remove_from_cart")


def iso(moment: datetime) -> str:
    """ISO 8601 with a ``Z`` suffix, as browsers' ``Date.toISOString()`` sends it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def new_event_id() -> str:
    return str(uuid.uuid4())


def envelope(event_type: str, received_at: datetime, /, **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": new_event_id(),
        "event_type": event_type,
        "user_id": "u_8f14e45f",
        "session_id": "s_2026-11-28_a1",
        "occurred_at": iso(received_at - timedelta(seconds=2)),
        "source": "web",
    }
    event.update(overrides)
    return event


def search(received_at: datetime, /, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "query": "organic oat milk 1l",
        "intent": "product_lookup",
        "intent_confidence": 0.92,
        "filters": [{"name": "category", "value": "dairy"}],
        "result_count": 37,
        "latency_ms": 84,
    }
    fields.update(overrides)
    return envelope("search", received_at, **fields)


def product_interaction(
    received_at: datetime, event_type: str = "product_view", /, **overrides: Any
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "product_id": "sku_18842",
        "category": "dairy",
        "position": 3,
        "search_event_id": new_event_id(),
    }
    if event_type in ("add_to_cart", "remove_from_cart"):
        fields["quantity"] = 2
    fields.update(overrides)
    return envelope(event_type, received_at, **fields)


def line_item(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"product_id": "sku_18842", "quantity": 2, "unit_price": "1.49"}
    item.update(overrides)
    return item


def order(received_at: datetime, /, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "order_id": "ord_2026_000123",
        "items": [line_item(), line_item(product_id="sku_20001", quantity=1, unit_price=3.5)],
        "total": "6.48",
        "currency": "EUR",
    }
    fields.update(overrides)
    return envelope("order_placed", received_at, **fields)


def session(
    received_at: datetime, event_type: str = "session_start", /, **overrides: Any
) -> dict[str, Any]:
    started = received_at - timedelta(minutes=30)
    fields: dict[str, Any] = {
        "started_at": iso(started),
        "device": "mobile",
        "referrer": "https://www.example.com/recipes",
        "landing_page": "/search",
    }
    if event_type == "session_end":
        fields["ended_at"] = iso(received_at - timedelta(seconds=5))
    fields.update(overrides)
    return envelope(event_type, received_at, **fields)


def voice(received_at: datetime, /, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "transcript": "add two litres of oat milk",
        "detected_intent": "add_to_cart",
        "intent_confidence": 0.81,
        "duration_ms": 2300,
        "language": "en-GB",
    }
    fields.update(overrides)
    return envelope("voice_interaction", received_at, **fields)


def identify(received_at: datetime, /, **overrides: Any) -> dict[str, Any]:
    """The link of the envelope's user to a device."""
    return envelope("identify", received_at, anonymous_id="a_7f3e", **overrides)


def one_of_each(received_at: datetime) -> list[dict[str, Any]]:
    """One valid event of every event type (ten), in EVENT_TYPES order."""
    return [
        search(received_at),
        *(product_interaction(received_at, t) for t in PRODUCT_INTERACTION_TYPES),
        order(received_at),
        session(received_at, "session_start"),
        session(received_at, "session_end"),
        voice(received_at),
        identify(received_at),
    ]
