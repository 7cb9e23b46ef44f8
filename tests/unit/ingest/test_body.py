"""ingest.body: the capture function's body shape, one event object or {"events": [...]}
with 1 to 500 events, and the rule and position each refusal names for the log."""

from __future__ import annotations

import json
from typing import Any

import pytest

from event_capture.ingest.body import parse_body
from tests.unit import event_factory as factory
from tests.unit.ingest import bodies

R = factory.RECEIVED_AT


def test_single_event_object_is_not_a_batch() -> None:
    event = factory.search(R)

    parsed = bodies.parsed(parse_body(bodies.encoded(event)))

    assert parsed.batch is False
    assert parsed.events == [event]


def test_events_envelope_is_a_batch() -> None:
    events = factory.one_of_each(R)

    parsed = bodies.parsed(parse_body(bodies.encoded({"events": events})))

    assert parsed.batch is True
    assert parsed.events == events


def test_batch_items_are_passed_on_unvalidated() -> None:
    # Item shape is validation's job, which names each bad event by index.
    parsed = bodies.parsed(parse_body(bodies.encoded({"events": [1, "two", None, {}]})))

    assert parsed.events == [1, "two", None, {}]
    assert parsed.batch is True


def test_500_events_are_accepted_and_501_are_413() -> None:
    event = {"event_type": "search"}

    assert len(bodies.parsed(parse_body(bodies.encoded({"events": [event] * 500}))).events) == 500
    error = bodies.refused(parse_body(bodies.encoded({"events": [event] * 501})))
    assert error.status == 413
    assert "500" in error.message


@pytest.mark.parametrize(
    "document",
    [[factory.search(R)], [], "event", 42, None, True],
    ids=["array-of-events", "empty-array", "string", "number", "null", "bool"],
)
def test_body_that_is_not_an_object_gets_400(document: Any) -> None:
    error = bodies.refused(parse_body(bodies.encoded(document)))

    assert error.status == 400
    assert '{"events": [...]}' in error.message


@pytest.mark.parametrize("events", [{"0": {}}, "[]", None, 3], ids=repr)
def test_events_that_is_not_a_list_gets_400(events: Any) -> None:
    error = bodies.refused(parse_body(bodies.encoded({"events": events})))

    assert error.status == 400
    assert error.message == "events: must be an array"


def test_empty_events_gets_400() -> None:
    error = bodies.refused(parse_body(bodies.encoded({"events": []})))

    assert error.status == 400
    assert error.message.startswith("events:")
    assert "at least 1" in error.message


def test_extra_top_level_key_next_to_events_gets_400_naming_it() -> None:
    error = bodies.refused(
        parse_body(bodies.encoded({"events": [factory.search(R)], "api_key": "secret"}))
    )

    assert error.status == 400
    assert error.message.startswith("api_key:")
    assert "events" in error.message


def test_extra_key_is_reported_before_the_events_shape() -> None:
    error = bodies.refused(parse_body(bodies.encoded({"events": "not a list", "batch_id": 1})))

    assert error.message.startswith("batch_id:")


def test_every_refusal_names_a_rule_and_a_position_for_the_log() -> None:
    error = bodies.refused(parse_body(bodies.encoded({"events": [], "jane@example.com": 1})))

    # The client is told which key; the log line is not.
    assert error.message.startswith("jane@example.com:")
    assert error.log_fields() == {"rule": "batch_field_unknown", "position": "batch"}
    assert "jane" not in json.dumps(error.log_fields())


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (b"{not json", "json_invalid"),
        (b"[1]", "body_shape"),
        (b'{"events": 1}', "events_type"),
        (b'{"events": []}', "events_empty"),
        (b"[" * 40 + b"]" * 40, "nesting_too_deep"),
    ],
)
def test_parse_refusals_have_their_rule(body: bytes, rule: str) -> None:
    assert bodies.refused(parse_body(body)).rule == rule
