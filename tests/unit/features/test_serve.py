"""FeatureReader: a user's nightly snapshot merged with the activity the capture function wrote.

The snapshot is put in place by ``load_snapshot`` and the activity by the capture function's own
Redis sink, so what one writes is what the other reads; every case runs on the in-memory fake
and on a real redis-server (skipped where none is installed). The pointer cache runs on an
injected monotonic clock: nothing waits.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from event_capture.contracts import redis_keys as keys
from event_capture.features.documents import Snapshot, build_snapshot
from event_capture.features.materialize import load_snapshot
from event_capture.features.serve import FeatureReader, Reading, RedisUnavailableError
from event_capture.ingest.row import Request
from event_capture.ingest.sinks.redis_activity import RedisActivitySink
from event_capture.ingest.validation import validate_events
from event_capture.platform.clients import redis_connection
from event_capture.schemas.features import (
    PARTS,
    Part,
    ProductSimilar,
    RecentItems,
    Recommendation,
    ReorderDue,
    SimilarProduct,
    UserFeatures,
)
from event_capture.schemas.responses import SinkStatus
from tests.fakes.clock import Clock
from tests.fakes.redis import (
    Recorder,
)
from tests.unit import event_factory as factory

USER = "u_8f14e45f"  # event_factory's user
SNAPSHOT_DATE = dt.date(2026, 11, 27)
TODAY = dt.date(2026, 11, 28)
R = factory.RECEIVED_AT  # 2026-11-28 16:37:33Z: the day after the snapshot


def reader(redis: Any, clock: Clock | None = None, **options: Any) -> FeatureReader:
    return FeatureReader(lambda: redis, today=lambda: TODAY, monotonic=clock or Clock(), **options)


def nightly(day: dt.date = SNAPSHOT_DATE, *, searches: int = 12) -> Snapshot:
    profile = {
        "snapshot_date": day,
        "user_id": USER,
        "searches": searches,
        "product_views": 30,
        "product_clicks": 9,
        "add_to_carts": 4,
        "orders": 3,
        "voice_interactions": 0,
        "sessions": 5,
        "first_seen": dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
        "last_seen": dt.datetime(2026, 11, 27, 21, tzinfo=dt.UTC),
        "days_since_last_seen": 0,
    }
    reorder = {
        "snapshot_date": day,
        "user_id": USER,
        "product_id": "sku_milk",
        "orders": 3,
        "last_ordered_on": dt.date(2026, 11, 20),
        "mean_interval_days": 7.0,
        "due_score": 1.0,
    }
    recommended = [
        {"user_id": USER, "product_id": p, "score": 10 - rank, "rank": rank}
        for rank, p in enumerate(["sku_a", "sku_b", "sku_c"], start=1)
    ]
    similar = [
        ("sku_v1", "sku_s1", 5),
        ("sku_v1", "sku_b", 4),
        ("sku_v1", "sku_v2", 3),
        ("sku_v2", "sku_s1", 2),
        ("sku_v2", "sku_s2", 1),
    ]
    return build_snapshot(
        day,
        user_profiles=[profile],
        reorder_predictions=[reorder],
        user_recommendations=recommended,
        product_recommendations=[
            {"product_id": p, "recommended_product_id": q, "co_occurrences": n, "rank": rank}
            for rank, (p, q, n) in enumerate(similar, start=1)
        ],
    )


def at(day: int, hour: int) -> str:
    return factory.iso(dt.datetime(2026, 11, day, hour, tzinfo=dt.UTC))


def capture(redis: Any, *events: dict[str, Any]) -> None:
    """Through the capture function's Redis sink, oldest event first."""
    rows, rejections = validate_events(list(events), R)
    assert rejections == []
    sink = RedisActivitySink(lambda: redis, max_length=100, ttl_seconds=3600)
    assert sink.write(rows, Request("req", R)).status is SinkStatus.OK


def capture_the_day(redis: Any) -> None:
    capture(
        redis,
        # Before the snapshot's end: the nightly part already holds it.
        factory.product_interaction(R, "add_to_cart", product_id="sku_c", occurred_at=at(27, 20)),
        factory.product_interaction(R, "product_view", product_id="sku_v2", occurred_at=at(28, 8)),
        factory.product_interaction(R, "product_click", product_id="sku_v1", occurred_at=at(28, 9)),
        factory.product_interaction(R, "add_to_cart", product_id="sku_b", occurred_at=at(28, 10)),
        factory.order(
            R,
            items=[factory.line_item(product_id="sku_milk")],
            occurred_at=at(28, 11),
        ),
        factory.search(R, query="oat milk", occurred_at=at(28, 12)),
    )


def test_the_nightly_document_is_merged_with_the_activity_since_the_snapshot(
    redis: Any,
) -> None:
    snap = nightly()
    load_snapshot(redis, snap)
    capture_the_day(redis)
    reading = Reading()

    features = reader(redis).user(USER, PARTS, 10, reading)

    assert (features.known, features.snapshot, features.degraded) == (True, SNAPSHOT_DATE, [])
    assert features.profile is not None and features.profile.searches == 12
    assert features.recommendations == [  # sku_b carted since; sku_c carted before
        Recommendation(product_id="sku_a", score=9, rank=1),
        Recommendation(product_id="sku_c", score=7, rank=2),
    ]
    assert features.reorder_due == [
        ReorderDue(
            product_id="sku_milk",
            orders=4,
            last_ordered_on=TODAY,
            mean_interval_days=7.0,
            next_expected_on=dt.date(2026, 12, 5),
            due_score=0.0,
            due=False,
            ordered_since_snapshot=True,
        )
    ]
    assert features.recent == RecentItems(
        viewed=["sku_v1", "sku_v2"],
        carted=["sku_b", "sku_c"],
        ordered=["sku_milk"],
        searched=["oat milk"],
    )
    assert features.similar_to_recent == [  # not the viewed sku_v2, nor the carted sku_b
        SimilarProduct(product_id="sku_s1", co_occurrences=7, rank=1),
        SimilarProduct(product_id="sku_s2", co_occurrences=1, rank=2),
    ]
    assert (reading.round_trips, reading.snapshot) == (3, snap.id)


def test_a_user_nothing_is_known_of_gets_the_defaults(redis: Any) -> None:
    snap = nightly()
    load_snapshot(redis, snap)
    reading = Reading()

    features = reader(redis).user("u_nobody", PARTS, 10, reading)

    assert features == UserFeatures(user_id="u_nobody", snapshot=SNAPSHOT_DATE)
    assert features.known is False
    assert (reading.round_trips, reading.snapshot) == (2, snap.id)


def test_a_user_known_only_from_live_activity_is_known(redis: Any) -> None:
    load_snapshot(redis, nightly())
    capture(redis, factory.search(R, user_id="u_new", query="bread", occurred_at=at(28, 9)))

    features = reader(redis).user("u_new", PARTS, 10)

    assert (features.known, features.snapshot, features.profile) == (True, SNAPSHOT_DATE, None)
    assert features.recent.searched == ["bread"]


def test_without_a_snapshot_the_live_parts_are_served_and_the_answer_says_so(
    redis: Any,
) -> None:
    capture_the_day(redis)
    reading = Reading()

    features = reader(redis).user(USER, PARTS, 10, reading)

    assert (features.known, features.snapshot) == (True, None)
    assert features.degraded == ["snapshot_missing"]
    assert features.recent.viewed == ["sku_v1", "sku_v2"]
    # No snapshot: every recent event counts as since, the one before midnight too.
    assert features.recent.carted == ["sku_b", "sku_c"]
    assert (features.profile, features.recommendations, features.reorder_due) == (None, [], [])
    assert features.similar_to_recent == []
    assert (reading.round_trips, reading.snapshot) == (2, None)


def test_a_pointer_to_an_expired_snapshot_is_served_as_snapshot_missing(redis: Any) -> None:
    snap = nightly()
    load_snapshot(redis, snap)
    capture_the_day(redis)
    redis.delete(keys.snapshot_meta_key(snap.id))  # the users hash alone is not a snapshot

    features = reader(redis).user(USER, PARTS, 10)

    assert (features.snapshot, features.degraded) == (None, ["snapshot_missing"])
    assert (features.profile, features.recommendations, features.similar_to_recent) == (
        None,
        [],
        [],
    )
    assert features.recent.viewed == ["sku_v1", "sku_v2"]


def test_the_pointer_is_cached_for_pointer_seconds_and_then_read_again(
    redis: Any, clock: Clock
) -> None:
    features = reader(redis, clock, pointer_seconds=1.0)
    old, new = nightly(), nightly(SNAPSHOT_DATE + dt.timedelta(days=1), searches=99)
    load_snapshot(redis, old)
    first = Reading()
    assert features.user(USER, PARTS, 10, first).snapshot == SNAPSHOT_DATE
    load_snapshot(redis, new)

    clock.now += 1.0
    cached = Reading()
    answer = features.user(USER, PARTS, 10, cached)
    clock.now += 0.001
    fresh = Reading()
    after = features.user(USER, PARTS, 10, fresh)

    # The replaced snapshot is still whole while the cached pointer names it.
    assert answer.snapshot == SNAPSHOT_DATE and answer.profile is not None
    assert answer.profile.searches == 12
    assert after.snapshot == SNAPSHOT_DATE + dt.timedelta(days=1)
    assert after.profile is not None and after.profile.searches == 99
    assert (first.round_trips, cached.round_trips, fresh.round_trips) == (2, 1, 2)
    assert (cached.snapshot, fresh.snapshot) == (old.id, new.id)


def test_no_pointer_is_cached_too_until_the_clock_passes_it(redis: Any, clock: Clock) -> None:
    features = reader(redis, clock, pointer_seconds=5.0)
    assert features.user(USER, PARTS, 10).degraded == ["snapshot_missing"]
    load_snapshot(redis, nightly())

    clock.now += 5.0
    still = features.user(USER, PARTS, 10)
    clock.now += 0.5
    seen = features.user(USER, PARTS, 10)

    assert (still.degraded, seen.degraded) == (["snapshot_missing"], [])


def test_a_missing_meta_makes_the_next_answer_read_the_pointer_again(redis: Any) -> None:
    clock = Clock()  # never moves: only the missing meta can make it read the pointer
    features = reader(redis, clock, pointer_seconds=60.0)
    expired, new = nightly(), nightly(SNAPSHOT_DATE + dt.timedelta(days=1))
    load_snapshot(redis, expired)
    redis.delete(keys.snapshot_meta_key(expired.id))
    assert features.user(USER, PARTS, 10).degraded == ["snapshot_missing"]
    load_snapshot(redis, new)
    reading = Reading()

    answer = features.user(USER, PARTS, 10, reading)

    assert (answer.snapshot, answer.degraded) == (SNAPSHOT_DATE + dt.timedelta(days=1), [])
    assert (reading.round_trips, reading.snapshot) == (2, new.id)


@pytest.mark.parametrize(
    ("parts", "round_trips"),
    [
        pytest.param(("profile",), 2, id="profile"),
        pytest.param(("reorder_due",), 2, id="reorder_due"),
        pytest.param(("recommendations",), 2, id="recommendations"),
        pytest.param(("recent",), 2, id="recent"),
        pytest.param(("similar_to_recent",), 3, id="similar_to_recent"),
        pytest.param(("recent", "recommendations"), 2, id="two"),
    ],
)
def test_only_the_parts_included_are_served(
    redis: Any, parts: tuple[Part, ...], round_trips: int
) -> None:
    load_snapshot(redis, nightly())
    capture_the_day(redis)
    everything = reader(redis).user(USER, PARTS, 10)
    reading = Reading()

    answer = reader(redis).user(USER, parts, 10, reading)

    for part in PARTS:
        got, full, empty = (
            getattr(a, part) for a in (answer, everything, UserFeatures(user_id=USER))
        )
        assert full != empty, part  # so that the comparison below can fail
        assert got == (full if part in parts else empty), part
    assert (answer.known, answer.snapshot) == (True, SNAPSHOT_DATE)
    assert reading.round_trips == round_trips


def test_the_limit_applies_to_every_list(redis: Any) -> None:
    load_snapshot(redis, nightly())
    capture_the_day(redis)

    answer = reader(redis).user(USER, PARTS, 1)

    assert [r.product_id for r in answer.recommendations] == ["sku_a"]
    assert answer.recent == RecentItems(
        viewed=["sku_v1"], carted=["sku_b"], ordered=["sku_milk"], searched=["oat milk"]
    )
    assert [s.product_id for s in answer.similar_to_recent] == ["sku_s1"]
    assert len(answer.reorder_due) == 1


def test_only_the_newest_activity_length_entries_are_read(redis: Any) -> None:
    capture(
        redis,
        *(
            factory.product_interaction(R, "product_view", product_id=p, occurred_at=at(28, h))
            for h, p in enumerate(["sku_1", "sku_2", "sku_3"], start=8)
        ),
    )

    answer = reader(redis, activity_length=2).user(USER, PARTS, 10)

    assert answer.recent.viewed == ["sku_3", "sku_2"]


def test_the_client_is_made_once_and_only_when_first_needed(redis: Any) -> None:
    made: list[Any] = []

    def client() -> Any:
        made.append(redis)
        return redis

    features = FeatureReader(client, monotonic=Clock(), pointer_seconds=0.0)
    assert made == []

    features.user(USER, PARTS, 10)
    features.similar("sku_v1", 10)
    features.user(USER, PARTS, 10)

    assert len(made) == 1


# --- Redis unavailable -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fail", "call"),
    [
        pytest.param(("get", 1), "user", id="user-pointer"),
        pytest.param(("lrange", 1), "user", id="user-pipeline"),
        pytest.param(("hmget", 1), "user", id="user-similar-products"),
        pytest.param(("get", 1), "similar", id="similar-pointer"),
        pytest.param(("hget", 2), "similar", id="similar-pipeline"),
    ],
)
def test_any_redis_failure_is_raised_as_redis_unavailable(
    redis: Any, fail: tuple[str, int], call: str
) -> None:
    load_snapshot(redis, nightly())
    capture_the_day(redis)
    features = reader(Recorder(redis, fail={fail}))

    with pytest.raises(RedisUnavailableError, match=r"^InjectedError: injected failure") as raised:
        if call == "user":
            features.user(USER, PARTS, 10)
        else:
            features.similar("sku_v1", 10)

    assert type(raised.value.__cause__).__name__ == "InjectedError"


def test_a_redis_that_refuses_connections_is_unavailable(tmp_path: Any) -> None:
    # redis-py's own error, from the function's own client: no server listens there.
    client = redis_connection(f"unix://{tmp_path}/nobody.sock", 0.5)
    features = FeatureReader(lambda: client, monotonic=Clock())

    with pytest.raises(RedisUnavailableError, match=r"^ConnectionError: ") as raised:
        features.user(USER, PARTS, 10)

    assert len(str(raised.value)) <= 200


def test_a_client_that_cannot_be_made_is_unavailable_and_made_again_next_time(
    redis: Any,
) -> None:
    attempts: list[int] = []

    def client() -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("Redis URL must specify one of the following schemes")
        return redis

    features = FeatureReader(client, monotonic=Clock())

    with pytest.raises(RedisUnavailableError, match=r"^ValueError: Redis URL"):
        features.user(USER, PARTS, 10)
    answer = features.user(USER, PARTS, 10)

    assert answer.degraded == ["snapshot_missing"] and len(attempts) == 2


def test_a_long_error_is_cut_to_200_characters() -> None:
    def client() -> Any:
        raise OSError("x" * 1000)

    with pytest.raises(RedisUnavailableError) as raised:
        FeatureReader(client, monotonic=Clock()).similar("sku_1", 10)

    assert str(raised.value) == ("OSError: " + "x" * 1000)[:200]


# --- similar products --------------------------------------------------------------------------


def test_a_products_similar_products_are_served_limited(redis: Any) -> None:
    snap = nightly()
    load_snapshot(redis, snap)
    reading = Reading()

    answer = reader(redis).similar("sku_v1", 2, reading)

    assert answer == ProductSimilar(
        product_id="sku_v1",
        known=True,
        snapshot=SNAPSHOT_DATE,
        similar=[
            SimilarProduct(product_id="sku_s1", co_occurrences=5, rank=1),
            SimilarProduct(product_id="sku_b", co_occurrences=4, rank=2),
        ],
    )
    assert (reading.round_trips, reading.snapshot) == (2, snap.id)


def test_an_unknown_product_is_not_known_in_the_current_snapshot(redis: Any) -> None:
    load_snapshot(redis, nightly())

    answer = reader(redis).similar("sku_unknown", 10)

    assert answer == ProductSimilar(product_id="sku_unknown", snapshot=SNAPSHOT_DATE)


def test_without_a_snapshot_a_product_gets_the_defaults_in_one_round_trip(redis: Any) -> None:
    reading = Reading()

    answer = reader(redis).similar("sku_v1", 10, reading)

    assert answer == ProductSimilar.defaults("sku_v1", "snapshot_missing")
    assert reading.round_trips == 1


def test_a_product_read_from_an_expired_snapshot_forgets_the_pointer(
    redis: Any, clock: Clock
) -> None:
    features = reader(redis, clock, pointer_seconds=60.0)
    expired = nightly()
    load_snapshot(redis, expired)
    redis.delete(keys.snapshot_meta_key(expired.id))

    missing = features.similar("sku_v1", 10)
    load_snapshot(redis, nightly(SNAPSHOT_DATE + dt.timedelta(days=1)))
    found = features.similar("sku_v1", 10)

    assert missing == ProductSimilar.defaults("sku_v1", "snapshot_missing")
    assert (found.known, found.snapshot) == (True, SNAPSHOT_DATE + dt.timedelta(days=1))


def test_a_document_that_cannot_be_read_is_served_as_absent_not_as_an_error(redis: Any) -> None:
    snap = nightly()
    load_snapshot(redis, snap)
    user = sorted(snap.users)[0]
    redis.hset(keys.snapshot_users_key(snap.id), user, '{"profile": "not a profile"}')

    answer = reader(redis).user(user, PARTS, 10)

    assert answer.profile is None and answer.recommendations == []
    assert answer.snapshot == SNAPSHOT_DATE and answer.degraded == []
