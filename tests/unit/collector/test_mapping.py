"""The mapping table, row by row, and what the collector does with everything it does not map."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from event_capture.collector.event_ids import MESSAGE_ID_NAMESPACE
from event_capture.collector.mapping import (
    BY_EVENT,
    MAPPINGS,
    Ignored,
    Mapped,
    Refused,
    map_call,
    segment_field,
)
from event_capture.collector.spec_names import SPEC_EVENT_NAMES
from event_capture.ingest.validation import validate_events
from tests.unit.collector import calls
from tests.unit.event_factory import RECEIVED_AT, iso

R = RECEIVED_AT


def mapped(call: dict[str, Any], sent_at: Any = None) -> Mapped:
    outcome = map_call(call, sent_at=sent_at or iso(R), received_at=R)
    assert isinstance(outcome, Mapped), outcome
    return outcome


def stored(call: dict[str, Any]) -> dict[str, Any]:
    rows, rejections = validate_events([mapped(call).event], R, batch=False)
    assert rejections == [], rejections
    return rows[0].data


@pytest.mark.parametrize(
    ("event", "event_type"),
    [
        ("Product Viewed", "product_view"),
        ("Product Clicked", "product_click"),
        ("Product Added", "add_to_cart"),
        ("Product Removed", "remove_from_cart"),
        ("Viewed Product", "product_view"),
    ],
)
def test_product_events_become_product_interactions(event: str, event_type: str) -> None:
    search = str(uuid.uuid4())
    row = stored(calls.track(event, {**calls.PRODUCT, "search_event_id": search}))

    assert row["event_type"] == event_type
    assert (row["product_id"], row["category"], row["position"], row["quantity"]) == (
        "sku_1",
        "dairy",
        3,
        2,
    )
    assert row["search_event_id"] == search
    assert "name" not in row  # spec properties outside the table are dropped unread


def test_products_searched_becomes_a_search_with_filters_renamed_and_the_query_scrubbed() -> None:
    call = calls.track(
        "Products Searched",
        {
            **calls.SEARCH,
            "query": "oat milk for jane@example.com",
            "filters": [{"type": "brand", "value": "oatly"}],
            "latency_ms": 40,
        },
    )
    row = stored(call)

    assert row["event_type"] == "search"
    assert row["query"] == "oat milk for [EMAIL]"
    assert (row["intent"], row["intent_confidence"], row["result_count"]) == (
        "product_lookup",
        0.9,
        12,
    )
    assert row["filters"] == [{"name": "brand", "value": "oatly"}]
    assert row["latency_ms"] == 40


def test_order_completed_becomes_an_order_with_products_as_line_items() -> None:
    row = stored(calls.track("Order Completed", calls.ORDER))

    assert row["event_type"] == "order_placed"
    assert row["order_id"] == "ord_1"
    assert row["currency"] == "EUR"
    assert row["total"] == "27.5"
    assert row["items"] == [
        {"product_id": "sku_1", "quantity": 2, "unit_price": "10"},
        {"product_id": "sku_2", "quantity": 1, "unit_price": "7.50"},
    ]


def test_every_row_of_the_table_is_tested_and_maps_to_a_known_native_type() -> None:
    tested = {"Products Searched", "Product Viewed", "Product Clicked", "Product Added"}
    tested |= {"Product Removed", "Order Completed"}
    assert {m.events[0] for m in MAPPINGS} == tested
    assert {m.events[0] for m in MAPPINGS} <= SPEC_EVENT_NAMES


def test_the_envelope_user_session_source_and_id() -> None:
    call = calls.track("Product Viewed", calls.PRODUCT, messageId="node-next-1733-abc")
    event = mapped(call).event

    assert event["user_id"] == "u_8f14e45f"
    assert event["session_id"] == "s_1"
    assert event["source"] == "server"  # from context.library.name
    assert event["event_id"] == str(uuid.uuid5(MESSAGE_ID_NAMESPACE, "node-next-1733-abc"))

    anonymous = calls.track("Product Viewed", calls.PRODUCT, userId=None, anonymousId="a_1")
    anonymous["properties"].pop("session_id")
    anonymous["context"] = {"sessionId": 1733000000000}
    event = mapped(anonymous).event
    assert "user_id" not in event
    assert (event["anonymous_id"], event["session_id"], event["source"]) == (
        "a_1",
        "1733000000000",
        "segment",
    )
    # Segment's SDKs send no session: the warehouse derives one.
    sessionless = calls.track("Product Viewed", calls.PRODUCT, anonymousId="a_1")
    sessionless["properties"].pop("session_id")
    assert "session_id" not in mapped(sessionless).event


def test_a_skew_out_of_range_is_refused_by_rule() -> None:
    call = calls.track("Product Viewed", calls.PRODUCT, timestamp="0001-01-01T00:00:00Z")
    outcome = map_call(call, sent_at="9999-12-31T00:00:00Z", received_at=R)
    assert isinstance(outcome, Refused)
    assert [(e.field, e.rule) for e in outcome.errors] == [("sentAt", "timestamp_out_of_range")]


@pytest.mark.parametrize("kind", ["identify", "page", "screen", "group", "alias"])
def test_calls_other_than_track_are_ignored_by_type(kind: str) -> None:
    assert map_call(calls.identify(type=kind), sent_at=None, received_at=R) == Ignored(kind)


def test_unmapped_events_are_ignored_and_named_only_from_the_spec_list() -> None:
    assert map_call(calls.track("Cart Viewed"), sent_at=None, received_at=R) == Ignored(
        "track", "Cart Viewed"
    )
    secret = calls.track("Signed up jane@example.com")
    assert map_call(secret, sent_at=None, received_at=R) == Ignored("track", "other")


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"type": "nope"}, "type", "literal_error"),
        ({"type": None}, "type", "missing"),
        ({"event": 5}, "event", "string_type"),
        ({"messageId": None}, "messageId", "missing"),
        ({"messageId": "x" * 257}, "messageId", "string_too_long"),
        ({"properties": []}, "properties", "model_type"),
    ],
)
def test_calls_that_cannot_be_mapped_are_refused_by_field_and_rule(
    change: dict[str, Any], field: str, rule: str
) -> None:
    outcome = map_call(
        {**calls.track("Product Viewed", calls.PRODUCT), **change}, sent_at=None, received_at=R
    )
    assert isinstance(outcome, Refused)
    assert [(e.field, e.rule) for e in outcome.errors] == [(field, rule)]


def test_validation_errors_name_the_segment_field() -> None:
    order = calls.track(
        "Order Completed",
        {**calls.ORDER, "currency": "euros"},
        userId="jane@x.com",
        anonymousId="a_1",
    )
    order["properties"]["products"][1]["price"] = "7,50"
    result = mapped(order)
    _, [rejection] = validate_events([result.event], R, batch=False)
    fields = {segment_field(result, e.field): e.rule for e in rejection.errors}

    assert fields == {
        "userId": "string_pattern_mismatch",
        "properties.products[1].price": "decimal_format",
        "properties.currency": "currency_code",
    }
    assert segment_field(result, "event") == ""


def test_the_v1_aliases_map_like_their_v2_names() -> None:
    for mapping in MAPPINGS:
        for name in mapping.events:
            assert BY_EVENT[name] is mapping


def test_the_sample_batch_make_run_prints_is_stored_whole() -> None:
    from datetime import UTC, datetime

    from localcloud.sample_events import sample_segment_batch

    now = datetime.now(UTC)
    body = sample_segment_batch()
    events = []
    for call in body["batch"]:
        outcome = map_call(call, sent_at=body["sentAt"], received_at=now)
        assert isinstance(outcome, Mapped), outcome
        events.append(outcome.event)
    rows, rejections = validate_events(events, now)

    assert rejections == []
    assert [row.event_type for row in rows] == ["search", "product_view", "order_placed"]
