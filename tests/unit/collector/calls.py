"""Segment calls as the SDKs send them, for the collector's tests."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta
from typing import Any

from event_capture.schemas.user_proof import user_proof
from tests.unit.event_factory import RECEIVED_AT, iso

WRITE_KEY = "wk_live_0123456789abcdef"
NEXT_WRITE_KEY = "wk_next_fedcba9876543210"
# What the app's backend proves user ids with; the served collector has it, so a call made here
# keeps its userId under a client key, as a page's does with the proof its backend gave it.
USER_ID_SECRET = "uid_test_0123456789abcdef0123456789"


def proven(call: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """The call with ``fields``, and the proof of its userId unless ``fields`` give the
    integrations (a test of proofs gives its own)."""
    call.update(fields)
    user_id = call.get("userId")
    if isinstance(user_id, str) and "integrations" not in fields:
        proof = {"Intercom": {"user_hash": user_proof(USER_ID_SECRET, user_id)}}
        call["integrations"] = {**(call.get("integrations") or {}), **proof}
    return call


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def track(event: str, properties: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    call: dict[str, Any] = {
        "type": "track",
        "event": event,
        "messageId": str(uuid.uuid4()),
        "userId": "u_8f14e45f",
        "anonymousId": None,
        "timestamp": iso(RECEIVED_AT - timedelta(seconds=2)),
        "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
        "integrations": {},
        "properties": {"session_id": "s_1", **(properties or {})},
    }
    return proven(call, fields)


SEARCH = {
    "query": "oat milk",
    "intent": "product_lookup",
    "intent_confidence": 0.9,
    "result_count": 12,
}
PRODUCT = {"product_id": "sku_1", "category": "dairy", "position": 3, "quantity": 2, "name": "Oat"}
ORDER = {
    "order_id": "ord_1",
    "total": 27.5,
    "currency": "eur",
    "products": [
        {"product_id": "sku_1", "quantity": 2, "price": 10, "name": "Oat", "brand": "B"},
        {"product_id": "sku_2", "quantity": 1, "price": "7.50", "sku": "X-1"},
    ],
}


def identify(**fields: Any) -> dict[str, Any]:
    call: dict[str, Any] = {
        "type": "identify",
        "messageId": str(uuid.uuid4()),
        "userId": "u_8f14e45f",
        "traits": {
            "email": "jane.doe@example.com",
            "name": "Jane Doe",
            "phone": "+44 20 7946 0958",
        },
        "context": {"ip": "203.0.113.7", "userAgent": "Mozilla/5.0 Jane"},
    }
    return proven(call, fields)


def batch(*calls: Any, sent_at: datetime = RECEIVED_AT, **fields: Any) -> dict[str, Any]:
    return {"batch": list(calls), "sentAt": iso(sent_at), **fields}
