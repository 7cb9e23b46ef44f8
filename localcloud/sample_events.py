"""Valid sample events of every family, for `make run`'s curl example, tests and benchmarks."""

import itertools
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

FAMILY_EVENT_TYPES = (
    "search",
    "product_view",
    "add_to_cart",
    "order_placed",
    "session_start",
    "voice_interaction",
)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sample_event(
    event_type: str,
    user_id: str = "u_demo",
    session_id: str = "s_demo",
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> dict[str, Any]:
    """One valid event of ``event_type`` with a fresh event_id."""
    rng = rng or random.Random()
    now = now or datetime.now(UTC)
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "user_id": user_id,
        "session_id": session_id,
        "occurred_at": _stamp(now - timedelta(seconds=rng.randint(0, 30))),
        "source": "web",
    }
    product = f"sku_{rng.randint(1, 500)}"
    if event_type == "search":
        event |= {
            "query": rng.choice(["oat milk", "gluten free bread", "coffee beans 1kg", "apples"]),
            "intent": rng.choice(["product_lookup", "category_browse", "reorder"]),
            "intent_confidence": round(rng.random(), 3),
            "filters": [{"name": "category", "value": "grocery"}],
            "result_count": rng.randint(0, 120),
            "latency_ms": rng.randint(5, 300),
        }
    elif event_type in ("product_view", "product_click", "add_to_cart", "remove_from_cart"):
        event |= {"product_id": product, "category": "grocery", "position": rng.randint(0, 20)}
        if event_type in ("add_to_cart", "remove_from_cart"):
            event["quantity"] = rng.randint(1, 3)
    elif event_type == "order_placed":
        lines = [
            (rng.randint(1, 500), rng.randint(1, 4), rng.randint(50, 2000))
            for _ in range(rng.randint(1, 5))
        ]
        items = [
            {"product_id": f"sku_{sku}", "quantity": quantity, "unit_price": f"{cents / 100:.2f}"}
            for sku, quantity, cents in lines
        ]
        total_cents = sum(quantity * cents for _, quantity, cents in lines)
        event |= {
            "order_id": f"ord_{uuid.uuid4().hex[:12]}",
            "items": items,
            "total": f"{total_cents / 100:.2f}",
            "currency": "EUR",
        }
    elif event_type in ("session_start", "session_end"):
        event |= {
            "started_at": _stamp(now - timedelta(minutes=5)),
            "device": rng.choice(["mobile", "desktop", "tablet"]),
            "referrer": "https://www.example.com/recipes",
            "landing_page": "https://shop.example.com/search",
        }
        if event_type == "session_end":
            event["ended_at"] = _stamp(now)
    elif event_type == "voice_interaction":
        event |= {
            "transcript": "add two litres of oat milk to my basket",
            "detected_intent": "add_to_cart",
            "intent_confidence": 0.92,
            "duration_ms": rng.randint(800, 4000),
            "language": "en-GB",
        }
    elif event_type == "identify":
        event["anonymous_id"] = f"a_{user_id}"  # the device the user logged in on
    else:
        raise ValueError(f"no sample for event_type {event_type!r}")
    return event


def sample_batch(count: int, users: int = 20, seed: int | None = None) -> list[dict[str, Any]]:
    """``count`` events cycling through the families, spread over ``users`` users."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    types = itertools.cycle(FAMILY_EVENT_TYPES)
    return [
        sample_event(next(types), f"u_{index % users:04d}", f"s_{index % users:04d}", now, rng)
        for index in range(count)
    ]


def sample_segment_batch(user_id: str = "u_segment_demo") -> dict[str, Any]:
    """A Segment ``/v1/batch`` body as the SDKs send it: a search, a product view and an order,
    with fresh messageIds and timestamps, for ``make run``'s collector."""
    now = datetime.now(UTC)
    session = {"session_id": "s_segment_demo"}
    calls = [
        (
            "Products Searched",
            {"query": "oat milk", "intent": "product_lookup", "intent_confidence": 0.9}
            | {"result_count": 12},
        ),
        ("Product Viewed", {"product_id": "sku_42", "category": "dairy", "position": 1}),
        (
            "Order Completed",
            {"order_id": f"ord_{uuid.uuid4().hex[:8]}", "total": 3.98, "currency": "EUR"}
            | {"products": [{"product_id": "sku_42", "quantity": 2, "price": 1.99}]},
        ),
    ]
    return {
        "batch": [
            {
                "type": "track",
                "event": event,
                "messageId": str(uuid.uuid4()),
                "userId": user_id,
                "timestamp": _stamp(now),
                "properties": properties | session,
            }
            for event, properties in calls
        ],
        "sentAt": _stamp(now),
    }
