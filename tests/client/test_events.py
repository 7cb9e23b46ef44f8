"""The typed helpers: what they build, the function accepts; and they cover every field."""

import inspect
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from event_capture.client import EventContext
from event_capture.ingest.validation import validate_events
from event_capture.schemas.envelope import EventEnvelope
from event_capture.schemas.families import FAMILIES

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CONTEXT = EventContext(
    user_id="u_42", session_id="s_1", source="ios", clock=lambda: NOW, anonymous_id="a_7"
)
ENVELOPE_FROM_CONTEXT = {
    "event_id",
    "occurred_at",
    "user_id",
    "anonymous_id",
    "session_id",
    "source",
}
SERVER_SET = {"schema_version"}

HELPERS: dict[str, Callable[[], EventEnvelope]] = {
    "search": lambda: CONTEXT.search(
        "gluten free bread",
        intent="product_lookup",
        intent_confidence=0.8,
        result_count=4,
        filters=[("category", "bakery")],
        latency_ms=35,
    ),
    "product": lambda: CONTEXT.product(
        "add_to_cart", "sku_1", category="bakery", position=2, quantity=1
    ),
    "order": lambda: CONTEXT.order(
        "ord_1", items=[("sku_1", 2, "2.50"), ("sku_2", 1, 3)], total="8.00", currency="EUR"
    ),
    "session_start": lambda: CONTEXT.session_start(device="mobile", landing_page="/search"),
    "session_end": lambda: CONTEXT.session_end(
        device="mobile", started_at=NOW - timedelta(minutes=5)
    ),
    "voice": lambda: CONTEXT.voice(
        "add two litres of oat milk",
        detected_intent="add_to_cart",
        duration_ms=1800,
        language="en-GB",
    ),
    "identify": lambda: CONTEXT.identify(),
}


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_what_a_helper_builds_the_function_accepts(name: str) -> None:
    event = HELPERS[name]()
    wire = json.loads(event.model_dump_json(exclude_none=True))

    rows, rejections = validate_events([wire], NOW + timedelta(seconds=1))

    assert rejections == [] and len(rows) == 1
    assert rows[0].event_id == str(event.event_id)
    assert (wire["user_id"], wire["session_id"], wire["source"]) == ("u_42", "s_1", "ios")


def test_a_bad_value_fails_in_the_app_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="intent_confidence"):
        CONTEXT.search("milk", intent="product_lookup", intent_confidence=1.5, result_count=1)
    with pytest.raises(ValidationError, match="currency"):
        CONTEXT.order("o", items=[("sku_1", 1, 1)], total=1, currency="EURO")


def test_every_event_gets_its_own_id() -> None:
    ids = {HELPERS["search"]().event_id for _ in range(100)}

    assert len(ids) == 100


def helper_parameters(function: Callable[..., Any]) -> set[str]:
    return set(inspect.signature(function).parameters) - {"self"}


HELPERS_BY_FAMILY: dict[str, list[Callable[..., EventEnvelope]]] = {
    "SearchEvent": [EventContext.search],
    "ProductInteractionEvent": [EventContext.product],
    "OrderEvent": [EventContext.order],
    "SessionEvent": [EventContext.session_start, EventContext.session_end],
    "VoiceInteractionEvent": [EventContext.voice],
    "IdentityLink": [EventContext.identify],
}


@pytest.mark.parametrize("model", FAMILIES, ids=lambda m: m.__name__)
def test_helpers_cover_every_field_of_their_family(model: type[EventEnvelope]) -> None:
    covered = set().union(*(helper_parameters(h) for h in HELPERS_BY_FAMILY[model.__name__]))
    # Only product interactions have several types under one helper; the others fix theirs.
    fixed = set() if model.__name__ == "ProductInteractionEvent" else {"event_type"}

    assert covered == set(model.model_fields) - ENVELOPE_FROM_CONTEXT - SERVER_SET - fixed


def test_a_device_without_a_login_sends_its_anonymous_id_alone() -> None:
    device = EventContext(anonymous_id="a_7", clock=lambda: NOW)
    wire = json.loads(device.search("oat milk").model_dump_json(exclude_none=True))

    rows, rejections = validate_events([wire], NOW + timedelta(seconds=1))

    assert rejections == []
    assert (rows[0].user_id, rows[0].anonymous_id) == (None, "a_7")
    assert "session_id" not in rows[0].data and "intent" not in rows[0].data


def test_an_event_of_no_one_fails_in_the_app_naming_the_anonymous_id() -> None:
    with pytest.raises(ValidationError, match="anonymous_id"):
        EventContext(clock=lambda: NOW).search("oat milk")
    with pytest.raises(ValidationError, match="anonymous_id"):
        EventContext(user_id="u_42", clock=lambda: NOW).identify()
