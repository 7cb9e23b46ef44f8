"""Tests for ingest.validation.validate_events: what becomes a row, and how rejections are named.

Every rejection is checked for the exact field path a client sees, the rule (pydantic's error
type or one of ours) and a human message, with the bad event sitting between two good ones so
the index in the path and the isolation of the good events are checked at the same time. The
event models' own rules are tested the same way beside them (tests/unit/schemas/); here are
validation's: the event type that picks the model, duplicates, the size of a stored row.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from event_capture.ingest import validation
from event_capture.ingest.validation import validate_events
from event_capture.schemas.envelope import EventEnvelope
from tests.unit import event_factory as factory

# The shared rejection tests, run on this module's REJECTIONS (tests/unit/conftest.py).
from tests.unit.schemas.rejections import (  # noqa: F401
    Case,
    only_rejection,
    test_rejection_in_a_batch_names_path_rule_and_message,
    test_rejection_of_a_single_event_has_no_events_prefix,
    without,
)

R = factory.RECEIVED_AT


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
    "identify": "identity_links",
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
    assert only_rejection(rejections).errors[0].rule == "extra_forbidden"


@pytest.mark.parametrize("sent", [None, "1-0-0", "1-7-3"])
def test_schema_version_is_set_by_the_server(sent: str | None) -> None:
    event = factory.order(R) if sent is None else factory.order(R, schema_version=sent)

    rows, rejections = validate_events([event], R)

    assert rejections == []
    # The version stored is the one the event was validated against, not the client's.
    assert rows[0].data["schema_version"] == EventEnvelope.SCHEMA_VERSION


def test_how_the_event_arrived_is_set_by_the_server_and_never_by_the_sender() -> None:
    [row], _ = validate_events([factory.search(R)], R, arrived_via="collector:web")
    assert row.data["arrived_via"] == "collector:web"
    # The capture function's rows, by default; a row rebuilt from before the column has none.
    assert validate_events([factory.search(R)], R)[0][0].data["arrived_via"] == "capture"
    assert "arrived_via" not in validate_events([factory.search(R)], R, arrived_via=None)[0][0].data

    rows, rejections = validate_events([factory.search(R, arrived_via="capture")], R)
    assert rows == []
    assert [(e.field, e.rule) for e in only_rejection(rejections).errors] == [
        ("events[0].arrived_via", "extra_forbidden")
    ]


def test_row_json_parses_back_to_row_data_and_is_compact() -> None:
    rows, _ = validate_events(factory.one_of_each(R), R)

    for row in rows:
        assert json.loads(row.json) == row.data
        assert ", " not in row.json and '": ' not in row.json


def test_absent_optional_fields_are_left_out_of_the_row() -> None:
    event = without(factory.product_interaction(R), "category", "position", "search_event_id")

    rows, rejections = validate_events([event], R)

    assert rejections == []
    for key in ("category", "position", "quantity", "search_event_id"):
        assert key not in rows[0].data


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


def test_empty_input_gives_nothing() -> None:
    assert validate_events([], R) == ([], [])


# --------------------------------------------------------------------------------------------
# Rejections: the event type, checked in batch mode at index 1 and in single-event mode
# --------------------------------------------------------------------------------------------

REJECTIONS: list[Case] = [
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
        lambda r: without(factory.search(r), "event_type"),
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


def test_unknown_event_type_message_lists_every_accepted_type() -> None:
    _, rejections = validate_events([factory.envelope("purchase", R)], R)

    message = only_rejection(rejections).errors[0].message
    for event_type in EXPECTED_TABLE:
        assert event_type in message


def test_every_problem_of_one_event_is_reported() -> None:
    event = factory.search(R, query="", intent_confidence=2, colour="red")
    del event["source"]

    _, rejections = validate_events([event], R)

    found = {(e.field, e.rule) for e in only_rejection(rejections).errors}
    assert found == {
        ("events[0].query", "string_too_short"),
        ("events[0].intent_confidence", "less_than_equal"),
        ("events[0].source", "missing"),
        ("events[0].colour", "extra_forbidden"),
    }


def test_rejection_carries_event_id_as_sent() -> None:
    event = factory.search(R, query="")

    _, rejections = validate_events([event], R)

    rejection = only_rejection(rejections)
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

    rejection = only_rejection(rejections)
    assert rejection.event_id is None


@pytest.mark.parametrize("raw", ["search", 5, None, ["search"], True], ids=repr)
def test_non_object_event_is_rejected(raw: Any) -> None:
    good = factory.voice(R)

    rows, rejections = validate_events([good, raw], R, batch=True)

    assert [row.index for row in rows] == [0]
    rejection = only_rejection(rejections)
    assert (rejection.index, rejection.event_id) == (1, None)
    assert [(e.field, e.rule, e.message) for e in rejection.errors] == [
        ("events[1]", "model_type", "must be an object")
    ]


def test_non_object_single_event_is_named_event() -> None:
    _, rejections = validate_events(["search"], R, batch=False)

    assert [(e.field, e.rule) for e in only_rejection(rejections).errors] == [
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
    assert only_rejection(rejections).errors[0].rule == "duplicate_in_request"


def test_a_rejected_event_does_not_reserve_its_event_id() -> None:
    invalid = factory.search(R, query="")
    valid = factory.search(R, event_id=invalid["event_id"])

    rows, rejections = validate_events([invalid, valid], R)

    assert [row.index for row in rows] == [1]
    assert only_rejection(rejections).errors[0].rule == "string_too_short"


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
    rejection = only_rejection(rejections)
    assert rejection.index == 1
    assert [(e.field, e.rule) for e in rejection.errors] == [("events[1]", "event_too_large")]
    assert "32768 bytes" in rejection.errors[0].message


def test_event_too_large_single_event_is_named_event() -> None:
    _, rejections = validate_events([_largest_order(R)], R, batch=False)

    assert [(e.field, e.rule) for e in only_rejection(rejections).errors] == [
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
    assert only_rejection(rejections).errors[0].message == f"must be at most {size - 1} bytes"


def test_one_bad_event_among_many_leaves_the_others_with_their_indexes() -> None:
    events: list[Any] = factory.one_of_each(R)
    events.insert(3, factory.search(R, user_id="has space", anonymous_id="a_1"))
    events.insert(7, 42)
    events.append(without(factory.voice(R), "transcript"))

    rows, rejections = validate_events(events, R)

    assert [r.index for r in rejections] == [3, 7, 12]
    assert [row.index for row in rows] == [0, 1, 2, 4, 5, 6, 8, 9, 10, 11]
    assert all(row.event_id == events[row.index]["event_id"] for row in rows)
    assert [r.errors[0].field for r in rejections] == [
        "events[3].user_id",
        "events[7]",
        "events[12].transcript",
    ]
