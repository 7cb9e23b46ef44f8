"""The Redis activity sink on the fake Redis: the commands one batch sends, and its failures.

The fake keeps each pipeline's commands as redis-py would send them; the same keys are read
back from a real redis-server in tests/integration (REDIS_ENABLED=true).
"""

from __future__ import annotations

import json
from typing import Any

from event_capture.contracts.live_activity import FIELDS as ACTIVITY_FIELDS
from event_capture.contracts.redis_keys import activity_key, daily_counts_key
from event_capture.ingest.row import Request, Row
from event_capture.ingest.sinks.redis_activity import RedisActivitySink
from event_capture.ingest.sinks.result import FailureKind
from event_capture.ingest.validation import validate_events
from event_capture.schemas.responses import SinkStatus
from tests.fakes.redis import FakeRedis
from tests.unit import event_factory as factory

R = factory.RECEIVED_AT
TTL = 3600


def rows(*events: dict[str, Any]) -> list[Row]:
    valid, rejections = validate_events(list(events), R)
    assert rejections == []
    return valid


def sink(client: FakeRedis, made: list[int] | None = None) -> RedisActivitySink:
    def factory_() -> FakeRedis:
        if made is not None:
            made.append(1)
        return client

    return RedisActivitySink(factory_, max_length=3, ttl_seconds=TTL)


def test_one_round_trip_per_batch_without_a_transaction() -> None:
    client = FakeRedis()
    batch = rows(factory.search(R), factory.order(R, user_id="u_other"))

    result = sink(client).write(batch, Request("req", R))

    assert result.status is SinkStatus.OK
    assert result.stored == batch
    [pipe] = client.pipelines
    assert pipe.transaction is False


def test_each_event_is_pushed_to_its_users_list_and_counted_for_the_receive_day() -> None:
    client = FakeRedis()
    first, second = factory.search(R), factory.product_interaction(R, "add_to_cart", quantity=2)
    third = factory.search(R, user_id="u_other")
    batch = rows(first, second, third)

    sink(client).write(batch, Request("req", R))

    day = daily_counts_key("2026-11-28")
    mine, other = activity_key("u_8f14e45f"), activity_key("u_other")
    commands = client.pipelines[0].commands
    pushes = [(c[1], json.loads(c[2])["event_id"]) for c in commands if c[0] == "lpush"]
    assert pushes == [
        (mine, first["event_id"]),
        (mine, second["event_id"]),
        (other, third["event_id"]),
    ]
    counts = [c[1:] for c in commands if c[0] == "hincrby"]
    assert counts == [(day, "search", 1), (day, "add_to_cart", 1), (day, "search", 1)]
    # Each list is capped and every key expires, once per key.
    assert sorted(c[1:] for c in commands if c[0] == "ltrim") == [(mine, 0, 2), (other, 0, 2)]
    assert sorted(c[1:] for c in commands if c[0] == "expire") == sorted(
        [(mine, TTL), (other, TTL), (day, TTL)]
    )


def test_an_activity_entry_holds_only_the_listed_fields() -> None:
    client = FakeRedis()
    event = factory.order(R)

    sink(client).write(rows(event), Request("req", R))

    [push] = [c for c in client.pipelines[0].commands if c[0] == "lpush"]
    entry = json.loads(push[2])
    assert set(entry) <= {*ACTIVITY_FIELDS, "product_ids"}
    assert entry["order_id"] == event["order_id"] and "items" not in entry
    # The order's products, for the features' live part; no quantities or prices.
    assert entry["product_ids"] == [item["product_id"] for item in event["items"]]
    assert "user_id" not in entry and "session_id" not in entry


def test_a_redis_failure_is_reported_never_raised() -> None:
    client = FakeRedis(down=True)
    batch = rows(factory.search(R), factory.search(R))

    result = sink(client).write(batch, Request("req", R))

    assert result.status is SinkStatus.FAILED
    assert result.stored == []
    assert [f.row for f in result.failed] == batch
    assert {f.failure.kind for f in result.failed} == {FailureKind.UNDELIVERED}
    assert result.error == "ConnectionError: Connection refused"


def test_a_client_that_cannot_be_made_is_a_failed_write() -> None:
    def broken() -> FakeRedis:
        raise ValueError("Redis URL must specify one of the following schemes")

    result = RedisActivitySink(broken, max_length=3, ttl_seconds=TTL).write(
        rows(factory.search(R)), Request("req", R)
    )

    assert result.status is SinkStatus.FAILED
    assert result.error is not None and result.error.startswith("ValueError: Redis URL")


def test_the_client_is_made_on_first_write_and_reused() -> None:
    client, made = FakeRedis(), list[int]()
    activity = sink(client, made)
    assert made == []

    activity.write(rows(factory.search(R)), Request("a", R))
    activity.write(rows(factory.search(R)), Request("b", R))

    assert made == [1]
    assert len(client.pipelines) == 2
