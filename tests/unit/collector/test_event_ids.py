"""collector.event_ids: a Segment messageId as the event's id, a UUID kept and anything else
turned into one deterministically."""

from __future__ import annotations

import uuid

from event_capture.collector.event_ids import event_id


def test_message_id_to_event_id_keeps_a_uuid_and_is_deterministic_otherwise() -> None:
    value = str(uuid.uuid4())
    assert event_id(value) == value
    assert event_id(value.upper()) == value
    assert event_id("m-1") == event_id("m-1") != event_id("m-2")
    assert uuid.UUID(event_id("m-1")).version == 5


def test_a_message_id_with_a_lone_surrogate_still_maps_to_an_id() -> None:
    # JSON may carry "\ud800"; UTF-8 cannot encode it, and the id must not become a 500.
    assert event_id("m-\ud800") == event_id("m-\ud800") != event_id("m-\ud801")
