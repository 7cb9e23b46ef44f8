"""The Redis activity sink and the ids: an event without a user id goes to its device's list, an
event with both ids to its user's list and links the device to the user (SADD), an identify row
links and is not activity. Each case runs on the in-memory fake and on a real redis-server
(skipped where none is installed), and is read back.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from event_capture.contracts.redis_keys import (
    activity_key,
    daily_counts_key,
    device_activity_key,
    devices_key,
)
from event_capture.ingest.links import LinkRecorder
from event_capture.ingest.row import Request, Row
from event_capture.ingest.sinks.redis_activity import RedisActivitySink
from event_capture.ingest.validation import validate_events
from event_capture.schemas.responses import SinkStatus
from tests.fakes.redis import BACKENDS, FakeRedis, RedisServer, backend
from tests.unit import event_factory as factory

R = factory.RECEIVED_AT
TTL = 3600
USER = "u_8f14e45f"  # event_factory's user
PHONE, LAPTOP = "a_phone", "a_laptop"


@pytest.fixture(params=BACKENDS)
def redis(request: pytest.FixtureRequest, redis_server: RedisServer | None) -> Any:
    """An empty Redis: the fake, or the session's redis-server."""
    return backend(request.param, redis_server)


def rows(*events: dict[str, Any]) -> list[Row]:
    valid, rejections = validate_events(list(events), R)
    assert rejections == [], rejections
    return valid


def write(redis: Any, batch: list[Row]) -> None:
    sink = RedisActivitySink(lambda: redis, max_length=10, ttl_seconds=TTL)
    assert sink.write(batch, Request("req", R)).status is SinkStatus.OK


def listed(redis: Any, key: str) -> list[str]:
    return [json.loads(item)["event_id"] for item in redis.lrange(key, 0, -1)]


def members(redis: Any, key: str) -> set[str]:
    return {m.decode() if isinstance(m, bytes) else m for m in redis.smembers(key)}


def test_an_event_without_a_user_id_goes_to_its_devices_list(redis: Any) -> None:
    event = factory.search(R, user_id=None, anonymous_id=PHONE)

    write(redis, rows(event))

    assert listed(redis, device_activity_key(PHONE)) == [event["event_id"]]
    assert listed(redis, activity_key(USER)) == []
    assert members(redis, devices_key(USER)) == set()
    assert redis.ttl(device_activity_key(PHONE)) == TTL


def test_an_event_with_both_ids_goes_to_its_users_list_and_links_the_device(redis: Any) -> None:
    event = factory.search(R, anonymous_id=PHONE)

    write(redis, rows(event))

    assert listed(redis, activity_key(USER)) == [event["event_id"]]
    assert listed(redis, device_activity_key(PHONE)) == []
    assert members(redis, devices_key(USER)) == {PHONE}
    assert redis.ttl(devices_key(USER)) == TTL


def test_an_event_with_only_a_user_id_links_nothing(redis: Any) -> None:
    write(redis, rows(factory.search(R)))

    assert members(redis, devices_key(USER)) == set()
    assert redis.exists(devices_key(USER)) == 0


def test_an_identify_row_links_and_is_not_activity(redis: Any) -> None:
    identify = factory.envelope("identify", R, anonymous_id=PHONE, session_id=None)

    write(redis, rows(identify))

    assert members(redis, devices_key(USER)) == {PHONE}
    assert listed(redis, activity_key(USER)) == []
    assert listed(redis, device_activity_key(PHONE)) == []
    assert redis.hgetall(daily_counts_key(f"{R:%Y-%m-%d}")) == {}


def test_an_events_link_row_adds_no_second_entry(redis: Any) -> None:
    # As the pipeline writes them: the events, then the links they made.
    batch = rows(factory.search(R, anonymous_id=PHONE))
    batch += LinkRecorder().rows_for(batch, R, None)

    write(redis, batch)

    assert len(listed(redis, activity_key(USER))) == 1
    assert members(redis, devices_key(USER)) == {PHONE}
    assert {k: int(v) for k, v in redis.hgetall(daily_counts_key(f"{R:%Y-%m-%d}")).items()} == {
        b"search": 1
    }


def test_several_devices_and_users_in_one_batch(redis: Any) -> None:
    before = factory.search(R, user_id=None, anonymous_id=LAPTOP)
    batch = rows(
        before,
        factory.search(R, anonymous_id=PHONE),
        factory.search(R, anonymous_id=LAPTOP),
        factory.search(R, user_id="u_other", anonymous_id=PHONE),
    )

    write(redis, batch)

    assert members(redis, devices_key(USER)) == {PHONE, LAPTOP}
    assert members(redis, devices_key("u_other")) == {PHONE}
    assert listed(redis, device_activity_key(LAPTOP)) == [before["event_id"]]
    assert listed(redis, device_activity_key(PHONE)) == []


def test_the_fake_sends_sadd_once_per_row_and_expires_each_set_once() -> None:
    redis = FakeRedis()
    batch = rows(factory.search(R, anonymous_id=PHONE), factory.order(R, anonymous_id=PHONE))

    write(redis, batch)

    commands = redis.pipelines[0].commands
    assert [c for c in commands if c[0] == "sadd"] == [("sadd", devices_key(USER), PHONE)] * 2
    expires = [c[1] for c in commands if c[0] == "expire"]
    assert expires.count(devices_key(USER)) == 1
