"""schemas.envelope: the fields every event carries (its id, user, session, time, source and
schema version) refused by rule, each with the field path, rule and message a client sees; and
the free text every family scrubs.

A field of one family is tested with its family (``test_search.py``, ``test_session.py`` ...),
whichever shared type it has.
"""

from __future__ import annotations

from datetime import timedelta

from event_capture.ingest.validation import validate_events
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

REJECTIONS: list[Case] = [
    (
        "missing-envelope-field",
        lambda r: without(factory.voice(r), "source"),
        "source",
        "missing",
        "is required",
    ),
    (
        "neither-user-nor-device",
        lambda r: without(factory.voice(r), "user_id"),
        "anonymous_id",
        "user_or_device_missing",
        "is required when there is no valid user_id",
    ),
    (
        "unknown-field",
        lambda r: factory.search(r, email="jane@example.com"),
        "email",
        "extra_forbidden",
        "is not a known field",
    ),
    (
        "number-for-identifier",
        # With a device id, so that the bad user id is the only problem.
        lambda r: factory.search(r, user_id=12345, anonymous_id="a_1"),
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
        "user-id-with-spaces",
        lambda r: factory.search(r, user_id="jane doe", anonymous_id="a_1"),
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
    # A timestamp is stored as its UTC instant, which BigQuery keeps from year 1 to 9999.
    (
        "occurred-at-before-year-1-in-utc",
        lambda r: factory.search(r, occurred_at="0001-01-01T00:00:00+00:01"),
        "occurred_at",
        "timestamp_out_of_range",
        "in UTC",
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
        "event-id-not-a-uuid",
        lambda r: factory.search(r, event_id="evt-1"),
        "event_id",
        "uuid_parsing",
        "must be a UUID string",
    ),
]


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


def test_event_id_is_normalised_to_lowercase_uuid() -> None:
    event = factory.search(R)
    event["event_id"] = event["event_id"].upper()

    rows, _ = validate_events([event], R)

    assert rows[0].event_id == event["event_id"].lower()
    assert rows[0].data["event_id"] == event["event_id"].lower()


def test_timestamps_on_the_window_edges_are_accepted() -> None:
    events = [
        factory.search(R, occurred_at=factory.iso(R + timedelta(hours=24))),
        factory.search(R, occurred_at=factory.iso(R - timedelta(days=90))),
        factory.search(R, occurred_at="2026-11-28T17:30:00+01:00"),
    ]

    rows, rejections = validate_events(events, R)

    assert rejections == []
    assert len(rows) == 3


def test_epoch_number_sent_as_a_string_is_rejected() -> None:
    event = factory.search(R, occurred_at=str(int(R.timestamp()) - 60))

    rows, rejections = validate_events([event], R)

    assert rows == []
    assert [e.rule for e in only_rejection(rejections).errors] == ["timestamp_type"]
