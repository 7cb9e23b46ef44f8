"""FeatureReader and linked devices: what a device did before its user logged in counts as the
user's live activity once the device is linked, newest first with the user's own; a device
linked to nobody, or to someone else, never shows. The activity is written by the capture
function's own Redis sink, links included (as the pipeline writes them); every case runs on the
fake and on a real redis-server (the package's ``redis`` fixture)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from event_capture.features.serve import FeatureReader, Reading, RedisUnavailableError
from event_capture.ingest.links import LinkRecorder
from event_capture.ingest.row import Request
from event_capture.ingest.sinks.redis_activity import RedisActivitySink
from event_capture.ingest.validation import validate_events
from event_capture.schemas.features import PARTS, RecentItems
from event_capture.schemas.responses import SinkStatus
from tests.fakes.clock import Clock
from tests.fakes.redis import Recorder
from tests.unit import event_factory as factory

USER = "u_8f14e45f"  # event_factory's user
PHONE, LAPTOP, STRANGER = "a_phone", "a_laptop", "a_stranger"
TODAY = dt.date(2026, 11, 28)
R = factory.RECEIVED_AT


def reader(redis: Any, **options: Any) -> FeatureReader:
    return FeatureReader(lambda: redis, today=lambda: TODAY, monotonic=Clock(), **options)


def at(hour: int, minute: int = 0) -> str:
    return factory.iso(dt.datetime(2026, 11, 28, hour, minute, tzinfo=dt.UTC))


def capture(redis: Any, *events: dict[str, Any]) -> None:
    """As the pipeline stores a request: its events and the links they make, then Redis."""
    rows, rejections = validate_events(list(events), R)
    assert rejections == [], rejections
    rows += LinkRecorder().rows_for(rows, R, None)
    sink = RedisActivitySink(lambda: redis, max_length=100, ttl_seconds=3600)
    assert sink.write(rows, Request("req", R)).status is SinkStatus.OK


def anonymous_search(device: str, query: str, occurred_at: str) -> dict[str, Any]:
    return factory.search(
        R, user_id=None, anonymous_id=device, query=query, occurred_at=occurred_at
    )


def anonymous_view(device: str, product_id: str, occurred_at: str) -> dict[str, Any]:
    return factory.product_interaction(
        R, user_id=None, anonymous_id=device, product_id=product_id, occurred_at=occurred_at
    )


def browse_then_log_in(redis: Any) -> None:
    capture(
        redis,
        anonymous_search(PHONE, "oat milk", at(8)),
        anonymous_view(PHONE, "sku_oat", at(8, 5)),
        anonymous_search(STRANGER, "secret gift", at(8, 30)),
        anonymous_view(STRANGER, "sku_gift", at(8, 31)),
    )
    # The login: the first call with both ids links the phone.
    capture(redis, factory.search(R, anonymous_id=PHONE, query="bread", occurred_at=at(9)))


def test_a_linked_devices_activity_before_the_login_is_the_users(redis: Any) -> None:
    browse_then_log_in(redis)

    features = reader(redis).user(USER, PARTS, 10)

    assert features.known is True
    assert features.recent == RecentItems(
        viewed=["sku_oat"], carted=[], ordered=[], searched=["bread", "oat milk"]
    )


def test_an_unlinked_devices_activity_is_nobodys(redis: Any) -> None:
    browse_then_log_in(redis)
    capture(redis, factory.search(R, user_id="u_other", query="tea", occurred_at=at(10)))

    for user in (USER, "u_other", "u_nobody"):
        recent = reader(redis).user(user, PARTS, 10).recent
        assert "secret gift" not in recent.searched and "sku_gift" not in recent.viewed, user
    assert reader(redis).user("u_nobody", PARTS, 10).known is False


def test_a_device_linked_to_another_user_is_not_this_users(redis: Any) -> None:
    capture(redis, anonymous_search(LAPTOP, "razor", at(7)))
    capture(redis, factory.search(R, user_id="u_other", anonymous_id=LAPTOP, occurred_at=at(8)))
    capture(redis, factory.search(R, anonymous_id=PHONE, query="bread", occurred_at=at(9)))

    assert reader(redis).user(USER, PARTS, 10).recent.searched == ["bread"]
    assert "razor" in reader(redis).user("u_other", PARTS, 10).recent.searched


def test_an_identify_alone_links_the_device(redis: Any) -> None:
    capture(redis, anonymous_search(PHONE, "oat milk", at(8)))
    capture(redis, factory.envelope("identify", R, anonymous_id=PHONE, session_id=None))

    features = reader(redis).user(USER, PARTS, 10)

    assert (features.known, features.recent.searched) == (True, ["oat milk"])


def test_the_users_and_the_devices_entries_are_merged_newest_first(redis: Any) -> None:
    capture(
        redis,
        anonymous_search(PHONE, "phone early", at(6)),
        anonymous_search(LAPTOP, "laptop late", at(11)),
        anonymous_search(PHONE, "phone late", at(10)),
    )
    capture(
        redis,
        factory.search(R, anonymous_id=PHONE, query="user noon", occurred_at=at(12)),
        factory.search(R, anonymous_id=LAPTOP, query="user dawn", occurred_at=at(5)),
    )

    searched = reader(redis).user(USER, PARTS, 10).recent.searched

    assert searched == ["user noon", "laptop late", "phone late", "phone early", "user dawn"]


def test_the_merged_activity_is_capped_at_the_activity_length(redis: Any) -> None:
    capture(redis, *(anonymous_search(PHONE, f"q{hour}", at(hour)) for hour in range(1, 6)))
    capture(redis, factory.search(R, anonymous_id=PHONE, query="q6", occurred_at=at(6)))

    searched = reader(redis, activity_length=3).user(USER, PARTS, 10).recent.searched

    assert searched == ["q6", "q5", "q4"]


def test_linked_devices_cost_one_more_round_trip_and_none_without(redis: Any) -> None:
    capture(redis, factory.search(R, query="alone", occurred_at=at(9)))
    without = Reading()
    reader(redis).user(USER, PARTS, 10, without)

    capture(redis, factory.search(R, anonymous_id=PHONE, occurred_at=at(10)))
    capture(redis, anonymous_search(LAPTOP, "unlinked", at(8)))
    linked = Reading()
    reader(redis).user(USER, PARTS, 10, linked)

    # The pointer, then the user's keys; then one pipeline for every linked device.
    assert (without.round_trips, linked.round_trips) == (2, 3)


def test_redis_failing_on_the_devices_read_is_redis_unavailable(redis: Any) -> None:
    capture(redis, factory.search(R, anonymous_id=PHONE, occurred_at=at(10)))
    # The first LRANGE is the user's own list, the second the phone's.
    failing = Recorder(redis, fail=[("lrange", 2)])

    with pytest.raises(RedisUnavailableError):
        reader(failing).user(USER, PARTS, 10)


# --- a device's own answer ---------------------------------------------------------------------


def test_a_devices_answer_is_its_own_activity_before_the_login_and_nothing_of_its_user(
    redis: Any,
) -> None:
    browse_then_log_in(redis)

    phone = reader(redis).device(PHONE, 10)
    stranger = reader(redis).device(STRANGER, 10)

    # After the login the phone's calls carry the user id: they are the user's, not the
    # device's, so a device's answer never shows what its (or another) user did.
    assert (phone.anonymous_id, phone.known) == (PHONE, True)
    assert phone.recent == RecentItems(viewed=["sku_oat"], searched=["oat milk"])
    assert stranger.recent == RecentItems(viewed=["sku_gift"], searched=["secret gift"])
    assert phone.degraded == ["snapshot_missing"] and phone.similar_to_recent == []


def test_an_unknown_device_gets_the_defaults(redis: Any) -> None:
    answer = reader(redis).device("a_never_seen", 10)

    assert (answer.known, answer.recent, answer.degraded) == (
        False,
        RecentItems(),
        ["snapshot_missing"],
    )


def test_a_device_answer_without_redis_is_unavailable(redis: Any) -> None:
    capture(redis, anonymous_search(PHONE, "oat milk", at(8)))
    failing = Recorder(redis, fail=[("lrange", 1)])

    with pytest.raises(RedisUnavailableError):
        reader(failing).device(PHONE, 10, Reading())
