"""Tests for ingest.validation.validate_events: what becomes a row, and how rejections are named.

Every rejection is checked for the exact field path a client sees, the rule (pydantic's error
type or one of ours) and a human message, with the bad event sitting between two good ones so
the index in the path and the isolation of the good events are checked at the same time.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from event_capture.ingest import validation
from event_capture.ingest.validation import validate_events
from event_capture.schemas.responses import Rejection
from tests.unit import event_factory as factory

R = factory.RECEIVED_AT

Builder = Callable[[datetime], dict[str, Any]]


def _without(event: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key not in keys}


def _filters(count: int) -> list[dict[str, str]]:
    return [{"name": f"facet_{i}", "value": f"v{i}"} for i in range(count)]


def _items(count: int, **overrides: Any) -> list[dict[str, Any]]:
    return [factory.line_item(product_id=f"sku_{i}", **overrides) for i in range(count)]


def _only_rejection(rejections: list[Rejection]) -> Rejection:
    assert len(rejections) == 1, rejections
    return rejections[0]


# --------------------------------------------------------------------------------------------
# Valid events
# --------------------------------------------------------------------------------------------

EXPECTED_TABLE = {
    "search": "searches",
    "product_view": "product_interactions",
    "product_click": "product_interactions",
    "add_to_cart": "product_interactions",
    "remove_from_cart": "product_interactions",
    "order_placed": "orders",
    "session_start": "sessions",
    "session_end": "sessions",
    "voice_interaction": "voice_interactions",
}


def test_one_valid_event_of_every_type_becomes_a_row_in_its_family_table() -> None:
    events = factory.one_of_each(R)

    rows, rejections = validate_events(events, R)

    assert rejections == []
    assert [row.index for row in rows] == list(range(len(events)))
    assert {row.event_type: row.table for row in rows} == EXPECTED_TABLE
    for row, event in zip(rows, events, strict=True):
        assert row.event_id == event["event_id"]
        assert row.event_type == event["event_type"]
        assert row.user_id == event["user_id"]
        assert row.data["event_id"] == event["event_id"]


def test_row_gets_server_received_at_in_utc_with_z_suffix() -> None:
    received_at = datetime(2026, 3, 1, 8, 5, 9, 250000, tzinfo=UTC)

    rows, _ = validate_events([factory.search(received_at)], received_at)

    text = rows[0].data["received_at"]
    assert text == "2026-03-01T08:05:09.250000Z"
    assert datetime.fromisoformat(text) == received_at


def test_client_cannot_set_received_at() -> None:
    event = factory.search(R, received_at=factory.iso(R - timedelta(days=3)))

    rows, rejections = validate_events([event], R)

    assert rows == []
    assert _only_rejection(rejections).errors[0].rule == "extra_forbidden"


@pytest.mark.parametrize("sent", [None, "1-0-0", "1-7-3"])
def test_schema_version_is_set_by_the_server(sent: str | None) -> None:
    event = factory.order(R) if sent is None else factory.order(R, schema_version=sent)

    rows, rejections = validate_events([event], R)

    assert rejections == []
    # The version stored is the one the event was validated against, not the client's.
    assert rows[0].data["schema_version"] == "1-0-0"


def test_free_text_is_scrubbed_in_the_row() -> None:
    events = [
        factory.search(R, query="receipt for jane.doe@example.com please"),
        factory.voice(R, transcript="call me on +44 7700 900123 about my order"),
    ]

    rows, rejections = validate_events(events, R)

    assert rejections == []
    assert rows[0].data["query"] == "receipt for [EMAIL] please"
    assert rows[1].data["transcript"] == "call me on [PHONE] about my order"
    for row in rows:
        assert "jane.doe@example.com" not in row.json
        assert "7700 900123" not in row.json


def test_url_fields_lose_query_string_and_fragment() -> None:
    event = factory.session(
        R,
        referrer="https://www.example.com/recipes/oat?utm_source=news&email=jane@example.com#top",
        landing_page="/search?q=oat+milk&token=abc123#results",
    )

    rows, rejections = validate_events([event], R)

    assert rejections == []
    assert rows[0].data["referrer"] == "https://www.example.com/recipes/oat"
    assert rows[0].data["landing_page"] == "/search"
    assert "token" not in rows[0].json
    assert "utm_source" not in rows[0].json


def test_url_fields_lose_userinfo_credentials() -> None:
    event = factory.session(
        R,
        referrer="https://jane:s3cret@shop.example.com/basket",
        landing_page="https://admin:hunter2@10.0.0.7:8080/start",
    )

    rows, rejections = validate_events([event], R)

    assert rejections == []
    assert rows[0].data["referrer"] == "https://shop.example.com/basket"
    assert rows[0].data["landing_page"] == "https://10.0.0.7:8080/start"


def test_row_json_parses_back_to_row_data_and_is_compact() -> None:
    rows, _ = validate_events(factory.one_of_each(R), R)

    for row in rows:
        assert json.loads(row.json) == row.data
        assert ", " not in row.json and '": ' not in row.json


def test_absent_optional_fields_are_left_out_of_the_row() -> None:
    event = _without(factory.product_interaction(R), "category", "position", "search_event_id")

    rows, rejections = validate_events([event], R)

    assert rejections == []
    for key in ("category", "position", "quantity", "search_event_id"):
        assert key not in rows[0].data


def test_money_is_kept_exact_whether_sent_as_number_or_string() -> None:
    event = factory.order(
        R,
        items=[factory.line_item(unit_price=0.1), factory.line_item(unit_price="19.999")],
        total=40.1,
    )

    rows, rejections = validate_events([event], R)

    assert rejections == []
    items = rows[0].data["items"]
    assert Decimal(items[0]["unit_price"]) == Decimal("0.1")
    assert Decimal(items[1]["unit_price"]) == Decimal("19.999")
    assert Decimal(rows[0].data["total"]) == Decimal("40.1")


def test_event_id_is_normalised_to_lowercase_uuid() -> None:
    event = factory.search(R)
    event["event_id"] = event["event_id"].upper()

    rows, _ = validate_events([event], R)

    assert rows[0].event_id == event["event_id"].lower()
    assert rows[0].data["event_id"] == event["event_id"].lower()


@given(
    st.uuids(),
    st.sampled_from(
        [str, lambda u: str(u).upper(), lambda u: u.hex, lambda u: f"{{{u}}}", lambda u: u.urn]
    ),
)
def test_every_familys_row_id_is_the_canonical_uuid_its_json_holds(
    id_: uuid.UUID, spelling: Callable[[uuid.UUID], str]
) -> None:
    events = [{**event, "event_id": spelling(id_)} for event in factory.one_of_each(R)]

    # One request per event: the same id twice in a request is refused as a duplicate.
    outcomes = [validate_events([event], R, batch=False) for event in events]

    assert all(not rejected for _, rejected in outcomes)
    rows = [row for stored, _ in outcomes for row in stored]
    assert len(rows) == len(events)
    assert {row.event_id for row in rows} == {str(id_)}
    assert all(json.loads(row.json)["event_id"] == str(id_) for row in rows)


def test_timestamps_on_the_window_edges_are_accepted() -> None:
    events = [
        factory.search(R, occurred_at=factory.iso(R + timedelta(hours=24))),
        factory.search(R, occurred_at=factory.iso(R - timedelta(days=90))),
        factory.search(R, occurred_at="2026-11-28T17:30:00+01:00"),
    ]

    rows, rejections = validate_events(events, R)

    assert rejections == []
    assert len(rows) == 3


def test_empty_input_gives_nothing() -> None:
    assert validate_events([], R) == ([], [])


# --------------------------------------------------------------------------------------------
# Rejections: one case per rule, checked in batch mode at index 1 and in single-event mode
# --------------------------------------------------------------------------------------------

LONG_QUERY = "q" * 513


REJECTIONS: list[tuple[str, Builder, str, str, str]] = [
    # (id, event builder, field path without the events[i] prefix, rule, message fragment)
    (
        "missing-field",
        lambda r: _without(factory.search(r), "query"),
        "query",
        "missing",
        "is required",
    ),
    (
        "missing-envelope-field",
        lambda r: _without(factory.voice(r), "user_id"),
        "user_id",
        "missing",
        "is required",
    ),
    (
        "missing-nested-field",
        lambda r: factory.order(
            r, items=[factory.line_item(), _without(factory.line_item(), "quantity")]
        ),
        "items[1].quantity",
        "missing",
        "is required",
    ),
    (
        "unknown-field",
        lambda r: factory.search(r, email="jane@example.com"),
        "email",
        "extra_forbidden",
        "is not a known field",
    ),
    (
        "unknown-nested-field",
        lambda r: factory.search(r, filters=[{"name": "brand", "value": "oatly", "op": "eq"}]),
        "filters[0].op",
        "extra_forbidden",
        "is not a known field",
    ),
    (
        "string-for-int",
        lambda r: factory.search(r, result_count="5"),
        "result_count",
        "int_type",
        "must be an integer",
    ),
    (
        "string-for-nested-int",
        lambda r: factory.order(r, items=[factory.line_item(quantity="5")]),
        "items[0].quantity",
        "int_type",
        "must be an integer",
    ),
    (
        "float-for-int",
        lambda r: factory.search(r, result_count=5.0),
        "result_count",
        "int_type",
        "must be an integer",
    ),
    (
        "bool-for-int",
        lambda r: factory.product_interaction(r, position=True),
        "position",
        "int_type",
        "must be an integer",
    ),
    (
        "string-for-float",
        lambda r: factory.search(r, intent_confidence="0.9"),
        "intent_confidence",
        "float_type",
        "must be a number",
    ),
    (
        "number-for-string",
        lambda r: factory.search(r, query=42),
        "query",
        "string_type",
        "must be a string",
    ),
    (
        "number-for-identifier",
        lambda r: factory.search(r, user_id=12345),
        "user_id",
        "string_type",
        "must be a string",
    ),
    (
        "epoch-seconds-for-occurred-at",
        lambda r: factory.search(r, occurred_at=int(r.timestamp())),
        "occurred_at",
        "timestamp_type",
        "ISO 8601",
    ),
    (
        "epoch-millis-for-occurred-at",
        lambda r: factory.search(r, occurred_at=r.timestamp() * 1000),
        "occurred_at",
        "timestamp_type",
        "ISO 8601",
    ),
    (
        "epoch-for-ended-at",
        lambda r: factory.session(r, "session_end", ended_at=int(r.timestamp())),
        "ended_at",
        "timestamp_type",
        "ISO 8601",
    ),
    (
        "unparseable-timestamp",
        lambda r: factory.search(r, occurred_at="yesterday"),
        "occurred_at",
        "datetime_from_date_parsing",
        "ISO 8601",
    ),
    (
        "naive-timestamp",
        lambda r: factory.search(r, occurred_at="2026-11-28T16:00:00"),
        "occurred_at",
        "timezone_aware",
        "UTC offset",
    ),
    (
        "naive-started-at",
        lambda r: factory.session(r, started_at="2026-11-28T16:00:00.000"),
        "started_at",
        "timezone_aware",
        "UTC offset",
    ),
    (
        "query-too-long",
        lambda r: factory.search(r, query=LONG_QUERY),
        "query",
        "string_too_long",
        "must be at most 512 characters",
    ),
    (
        "transcript-too-long",
        lambda r: factory.voice(r, transcript="a" * 4001),
        "transcript",
        "string_too_long",
        "must be at most 4000 characters",
    ),
    (
        "empty-query",
        lambda r: factory.search(r, query=""),
        "query",
        "string_too_short",
        "must be at least 1 characters",
    ),
    (
        "url-too-long",
        lambda r: factory.session(r, referrer="https://example.com/" + "p" * 2048),
        "referrer",
        "string_too_long",
        "must be at most 2048 characters",
    ),
    (
        "user-id-with-spaces",
        lambda r: factory.search(r, user_id="jane doe"),
        "user_id",
        "string_pattern_mismatch",
        "must match ^[A-Za-z0-9._:-]+$",
    ),
    (
        "source-not-a-label",
        lambda r: factory.search(r, source="Web App"),
        "source",
        "string_pattern_mismatch",
        "must match",
    ),
    (
        "filter-name-not-a-label",
        lambda r: factory.search(r, filters=[{"name": "Max Price", "value": "5"}]),
        "filters[0].name",
        "string_pattern_mismatch",
        "must match",
    ),
    (
        "language-not-bcp47",
        lambda r: factory.voice(r, language="english"),
        "language",
        "string_pattern_mismatch",
        "must match",
    ),
    (
        "confidence-above-1",
        lambda r: factory.search(r, intent_confidence=1.01),
        "intent_confidence",
        "less_than_equal",
        "must be ≤ 1",
    ),
    (
        "confidence-below-0",
        lambda r: factory.voice(r, intent_confidence=-0.01),
        "intent_confidence",
        "greater_than_equal",
        "must be ≥ 0",
    ),
    (
        "confidence-nan",
        lambda r: factory.search(r, intent_confidence=float("nan")),
        "intent_confidence",
        "less_than_equal",
        "must be ≤ 1",
    ),
    (
        "line-item-quantity-0",
        lambda r: factory.order(r, items=[factory.line_item(), factory.line_item(quantity=0)]),
        "items[1].quantity",
        "greater_than_equal",
        "must be ≥ 1",
    ),
    (
        "cart-quantity-0",
        lambda r: factory.product_interaction(r, "add_to_cart", quantity=0),
        "quantity",
        "greater_than_equal",
        "must be ≥ 1",
    ),
    (
        "cart-quantity-too-big",
        lambda r: factory.product_interaction(r, "remove_from_cart", quantity=1001),
        "quantity",
        "less_than_equal",
        "must be ≤ 1000",
    ),
    (
        "negative-result-count",
        lambda r: factory.search(r, result_count=-1),
        "result_count",
        "greater_than_equal",
        "must be ≥ 0",
    ),
    (
        "duration-too-long",
        lambda r: factory.voice(r, duration_ms=3_600_001),
        "duration_ms",
        "less_than_equal",
        "must be ≤ 3600000",
    ),
    (
        "negative-total",
        lambda r: factory.order(r, total=-1),
        "total",
        "greater_than_equal",
        "must be ≥ 0",
    ),
    (
        "too-many-filters",
        lambda r: factory.search(r, filters=_filters(21)),
        "filters",
        "too_long",
        "must have at most 20 items",
    ),
    (
        "too-many-items",
        lambda r: factory.order(r, items=_items(201)),
        "items",
        "too_long",
        "must have at most 200 items",
    ),
    (
        "empty-items",
        lambda r: factory.order(r, items=[]),
        "items",
        "too_short",
        "must have at least 1",
    ),
    (
        "filters-not-a-list",
        lambda r: factory.search(r, filters="dairy"),
        "filters",
        "list_type",
        "must be an array",
    ),
    (
        "filter-not-an-object",
        lambda r: factory.search(r, filters=["dairy"]),
        "filters[0]",
        "model_type",
        "must be an object",
    ),
    (
        "unknown-currency",
        lambda r: factory.order(r, currency="XYZ"),
        "currency",
        "currency_code",
        "ISO 4217",
    ),
    (
        "lowercase-currency",
        lambda r: factory.order(r, currency="eur"),
        "currency",
        "currency_code",
        "ISO 4217",
    ),
    (
        "price-4-decimals-string",
        lambda r: factory.order(r, items=[factory.line_item(unit_price="1.2345")]),
        "items[0].unit_price",
        "decimal_max_places",
        "must have at most 3 decimal places",
    ),
    (
        "price-4-decimals-number",
        lambda r: factory.order(r, items=[factory.line_item(unit_price=1.2345)]),
        "items[0].unit_price",
        "decimal_max_places",
        "must have at most 3 decimal places",
    ),
    # Money is a JSON number or a plain decimal in ASCII digits; Python's Decimal reads more.
    ("total-nan", lambda r: factory.order(r, total="NaN"), "total", "decimal_format", "12.50"),
    (
        "total-infinite-number",
        lambda r: factory.order(r, total=float("inf")),
        "total",
        "finite_number",
        "finite",
    ),
    ("total-underscores", lambda r: factory.order(r, total="5_000"), "total", "decimal_format", ""),
    ("total-spaces", lambda r: factory.order(r, total=" 5 "), "total", "decimal_format", ""),
    ("total-arabic-digits", lambda r: factory.order(r, total="٥"), "total", "decimal_format", ""),
    (
        "total-exponent-string",
        lambda r: factory.order(r, total="1e3"),
        "total",
        "decimal_format",
        "",
    ),
    ("total-plus-sign", lambda r: factory.order(r, total="+5"), "total", "decimal_format", ""),
    ("total-bare-point", lambda r: factory.order(r, total="5."), "total", "decimal_format", ""),
    ("total-bool", lambda r: factory.order(r, total=True), "total", "decimal_format", ""),
    (
        "total-negative-string",
        lambda r: factory.order(r, total="-1"),
        "total",
        "greater_than_equal",
        "≥ 0",
    ),
    # A timestamp is stored as its UTC instant, which BigQuery keeps from year 1 to 9999.
    (
        "started-at-before-year-1-in-utc",
        lambda r: factory.session(r, started_at="0001-01-01T00:30:00+01:00"),
        "started_at",
        "timestamp_out_of_range",
        "0001-01-01T00:00:00Z",
    ),
    (
        "ended-at-after-9999-in-utc",
        lambda r: factory.session(r, "session_end", ended_at="9999-12-31T23:30:00-01:00"),
        "ended_at",
        "timestamp_out_of_range",
        "9999-12-31T23:59:59.999999Z",
    ),
    (
        "occurred-at-before-year-1-in-utc",
        lambda r: factory.search(r, occurred_at="0001-01-01T00:00:00+00:01"),
        "occurred_at",
        "timestamp_out_of_range",
        "in UTC",
    ),
    (
        "referrer-port-not-a-number",
        lambda r: factory.session(r, referrer="https://www.example.com:secret/"),
        "referrer",
        "url_invalid",
        "must be a URL",
    ),
    (
        "referrer-unclosed-ipv6",
        lambda r: factory.session(r, referrer="http://[::1/x"),
        "referrer",
        "url_invalid",
        "must be a URL",
    ),
    (
        "query-unpaired-surrogate",
        lambda r: factory.search(r, query="oat \ud800 milk"),
        "query",
        "string_unicode",
        "valid Unicode",
    ),
    (
        "occurred-more-than-24h-ahead",
        lambda r: factory.search(r, occurred_at=factory.iso(r + timedelta(hours=24, seconds=1))),
        "occurred_at",
        "occurred_in_future",
        "24 hours in the future",
    ),
    (
        "occurred-before-retention",
        lambda r: factory.search(r, occurred_at=factory.iso(r - timedelta(days=90, seconds=1))),
        "occurred_at",
        "occurred_before_retention",
        "90-day retention",
    ),
    (
        "session-end-without-ended-at",
        lambda r: _without(factory.session(r, "session_end"), "ended_at"),
        "ended_at",
        "missing",
        "is required",
    ),
    (
        "session-end-with-null-ended-at",
        lambda r: factory.session(r, "session_end", ended_at=None),
        "ended_at",
        "missing",
        "is required",
    ),
    (
        "ended-before-started",
        lambda r: factory.session(
            r,
            "session_end",
            started_at=factory.iso(r - timedelta(minutes=10)),
            ended_at=factory.iso(r - timedelta(minutes=11)),
        ),
        "ended_at",
        "ended_before_start",
        "must not precede started_at",
    ),
    (
        "schema-major-mismatch",
        lambda r: factory.search(r, schema_version="2-0-0"),
        "schema_version",
        "schema_version_unsupported",
        "major version must be 1",
    ),
    (
        "schema-version-malformed",
        lambda r: factory.search(r, schema_version="1.0"),
        "schema_version",
        "string_pattern_mismatch",
        "must match",
    ),
    (
        "device-not-in-literal",
        lambda r: factory.session(r, device="phone"),
        "device",
        "literal_error",
        "must be one of",
    ),
    (
        "event-id-not-a-uuid",
        lambda r: factory.search(r, event_id="evt-1"),
        "event_id",
        "uuid_parsing",
        "must be a UUID string",
    ),
    (
        "search-event-id-not-a-uuid",
        lambda r: factory.product_interaction(r, search_event_id="s-1"),
        "search_event_id",
        "uuid_parsing",
        "must be a UUID string",
    ),
    (
        "unknown-event-type",
        lambda r: factory.envelope("purchase", r),
        "event_type",
        "literal_error",
        "must be one of",
    ),
    (
        "event-type-not-a-string",
        lambda r: factory.search(r, event_type=7),
        "event_type",
        "literal_error",
        "must be one of",
    ),
    (
        "missing-event-type",
        lambda r: _without(factory.search(r), "event_type"),
        "event_type",
        "missing",
        "is required",
    ),
    (
        "null-event-type",
        lambda r: factory.search(r, event_type=None),
        "event_type",
        "missing",
        "is required",
    ),
]


@pytest.mark.parametrize(
    ("build", "field", "rule", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in REJECTIONS],
)
def test_rejection_in_a_batch_names_path_rule_and_message(
    build: Builder, field: str, rule: str, message: str
) -> None:
    bad = build(R)
    good_before, good_after = factory.search(R), factory.order(R)

    rows, rejections = validate_events([good_before, bad, good_after], R, batch=True)

    # The neighbours are unaffected and keep their own indexes.
    assert [(row.index, row.event_id) for row in rows] == [
        (0, good_before["event_id"]),
        (2, good_after["event_id"]),
    ]
    rejection = _only_rejection(rejections)
    assert rejection.index == 1
    assert [(e.field, e.rule) for e in rejection.errors] == [(f"events[1].{field}", rule)]
    assert message in rejection.errors[0].message
    # Messages are rewritten for humans; pydantic's "Input should be" wording never leaks.
    assert not rejection.errors[0].message.startswith("Input")


@pytest.mark.parametrize(
    ("build", "field", "rule"),
    [pytest.param(case[1], case[2], case[3], id=case[0]) for case in REJECTIONS],
)
def test_rejection_of_a_single_event_has_no_events_prefix(
    build: Builder, field: str, rule: str
) -> None:
    rows, rejections = validate_events([build(R)], R, batch=False)

    assert rows == []
    rejection = _only_rejection(rejections)
    assert rejection.index == 0
    assert [(e.field, e.rule) for e in rejection.errors] == [(field, rule)]


def test_unknown_event_type_message_lists_every_accepted_type() -> None:
    _, rejections = validate_events([factory.envelope("purchase", R)], R)

    message = _only_rejection(rejections).errors[0].message
    for event_type in EXPECTED_TABLE:
        assert event_type in message


def test_every_problem_of_one_event_is_reported() -> None:
    event = factory.search(R, query="", intent_confidence=2, colour="red")
    del event["result_count"]

    _, rejections = validate_events([event], R)

    found = {(e.field, e.rule) for e in _only_rejection(rejections).errors}
    assert found == {
        ("events[0].query", "string_too_short"),
        ("events[0].intent_confidence", "less_than_equal"),
        ("events[0].result_count", "missing"),
        ("events[0].colour", "extra_forbidden"),
    }


def test_rejection_carries_event_id_as_sent() -> None:
    event = factory.search(R, query="")

    _, rejections = validate_events([event], R)

    rejection = _only_rejection(rejections)
    assert rejection.event_id == event["event_id"]
    assert rejection.model_dump(mode="json") == {
        "index": 0,
        "event_id": event["event_id"],
        "errors": [
            {
                "field": "events[0].query",
                "rule": "string_too_short",
                "message": rejection.errors[0].message,
            }
        ],
    }


def test_rejection_ignores_a_non_string_event_id() -> None:
    event = factory.search(R, event_id=123, event_type=["search"])

    _, rejections = validate_events([event], R)

    rejection = _only_rejection(rejections)
    assert rejection.event_id is None


@pytest.mark.parametrize("raw", ["search", 5, None, ["search"], True], ids=repr)
def test_non_object_event_is_rejected(raw: Any) -> None:
    good = factory.voice(R)

    rows, rejections = validate_events([good, raw], R, batch=True)

    assert [row.index for row in rows] == [0]
    rejection = _only_rejection(rejections)
    assert (rejection.index, rejection.event_id) == (1, None)
    assert [(e.field, e.rule, e.message) for e in rejection.errors] == [
        ("events[1]", "model_type", "must be an object")
    ]


def test_non_object_single_event_is_named_event() -> None:
    _, rejections = validate_events(["search"], R, batch=False)

    assert [(e.field, e.rule) for e in _only_rejection(rejections).errors] == [
        ("event", "model_type")
    ]


# --------------------------------------------------------------------------------------------
# Request-level rules: duplicates and size
# --------------------------------------------------------------------------------------------


def test_duplicate_event_id_keeps_the_first_and_rejects_the_later_ones() -> None:
    first = factory.search(R, query="first")
    other = factory.voice(R)
    second = factory.search(R, query="second", event_id=first["event_id"])
    third = factory.order(R, event_id=first["event_id"])

    rows, rejections = validate_events([first, other, second, third], R)

    assert [row.index for row in rows] == [0, 1]
    assert rows[0].data["query"] == "first"
    assert [r.index for r in rejections] == [2, 3]
    for rejection, index in zip(rejections, (2, 3), strict=True):
        assert [(e.field, e.rule) for e in rejection.errors] == [
            (f"events[{index}].event_id", "duplicate_in_request")
        ]
        assert "more than once" in rejection.errors[0].message


def test_duplicate_event_id_is_detected_whatever_the_case() -> None:
    first = factory.search(R)
    second = factory.search(R, event_id=first["event_id"].upper())

    rows, rejections = validate_events([first, second], R)

    assert [row.index for row in rows] == [0]
    assert _only_rejection(rejections).errors[0].rule == "duplicate_in_request"


def test_a_rejected_event_does_not_reserve_its_event_id() -> None:
    invalid = factory.search(R, query="")
    valid = factory.search(R, event_id=invalid["event_id"])

    rows, rejections = validate_events([invalid, valid], R)

    assert [row.index for row in rows] == [1]
    assert _only_rejection(rejections).errors[0].rule == "string_too_short"


def _largest_order(received_at: datetime) -> dict[str, Any]:
    # Every field within its own cap: 200 line items with 128-character product ids.
    items = [
        factory.line_item(product_id=f"{i:03d}" + "p" * 125, quantity=1000, unit_price="9999.999")
        for i in range(200)
    ]
    return factory.order(received_at, order_id="o" * 128, items=items, total="10000000")


def test_event_larger_than_32kb_after_enrichment_is_rejected() -> None:
    big = _largest_order(R)
    # Sanity: the event is over the limit only as a whole, not by any single field.
    assert len(json.dumps(big, separators=(",", ":"))) > 32 * 1024

    rows, rejections = validate_events([factory.search(R), big], R)

    assert [row.index for row in rows] == [0]
    rejection = _only_rejection(rejections)
    assert rejection.index == 1
    assert [(e.field, e.rule) for e in rejection.errors] == [("events[1]", "event_too_large")]
    assert "32768 bytes" in rejection.errors[0].message


def test_event_too_large_single_event_is_named_event() -> None:
    _, rejections = validate_events([_largest_order(R)], R, batch=False)

    assert [(e.field, e.rule) for e in _only_rejection(rejections).errors] == [
        ("event", "event_too_large")
    ]


def test_size_limit_counts_the_enriched_row_and_is_inclusive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = factory.search(R)
    rows, _ = validate_events([event], R)
    size = len(rows[0].json)
    # The limit applies to what is stored, received_at and schema_version included.
    assert size > len(json.dumps(event, separators=(",", ":")))

    monkeypatch.setattr(validation, "MAX_EVENT_BYTES", size)
    at_limit, _ = validate_events([event], R)
    monkeypatch.setattr(validation, "MAX_EVENT_BYTES", size - 1)
    over, rejections = validate_events([event], R)

    assert [row.event_id for row in at_limit] == [event["event_id"]]
    assert over == []
    assert _only_rejection(rejections).errors[0].message == f"must be at most {size - 1} bytes"


def test_one_bad_event_among_many_leaves_the_others_with_their_indexes() -> None:
    events: list[Any] = factory.one_of_each(R)
    events.insert(3, factory.search(R, user_id="has space"))
    events.insert(7, 42)
    events.append(_without(factory.voice(R), "transcript"))

    rows, rejections = validate_events(events, R)

    assert [r.index for r in rejections] == [3, 7, 11]
    assert [row.index for row in rows] == [0, 1, 2, 4, 5, 6, 8, 9, 10]
    assert all(row.event_id == events[row.index]["event_id"] for row in rows)
    assert [r.errors[0].field for r in rejections] == [
        "events[3].user_id",
        "events[7]",
        "events[11].transcript",
    ]


def test_epoch_number_sent_as_a_string_is_rejected() -> None:
    event = factory.search(R, occurred_at=str(int(R.timestamp()) - 60))

    rows, rejections = validate_events([event], R)

    assert rows == []
    assert [e.rule for e in _only_rejection(rejections).errors] == ["timestamp_type"]


# Found by make fuzz (fuzz/regressions/url-*): a stored URL must be a valid URL of its own model,
# or the client's validated, scrubbed event is refused by the function.
@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("http://4111111111111111/", "http://redacted.invalid/"),
        ("https://+44 7700 900123/x", "https://redacted.invalid/x"),
        (
            "https://shop.example.com:8443/a/jane@example.com",
            "https://shop.example.com:8443/a/[EMAIL]",
        ),
        ("?email=jane@example.com", "/"),
        ("#top", "/"),
    ],
)
def test_a_stored_url_is_a_valid_url_of_the_same_model(sent: str, stored: str) -> None:
    event = factory.session(R, landing_page=sent)

    rows, rejections = validate_events([event], R)

    assert rejections == []
    assert rows[0].data["landing_page"] == stored
    again, rejected = validate_events([{**event, "landing_page": stored}], R)
    assert rejected == [] and again[0].data["landing_page"] == stored
