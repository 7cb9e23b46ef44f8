"""Events sent through the pipeline land where they should, on the real emulators."""

import json
from typing import Any

from event_capture.contracts.redis_keys import activity_key, daily_counts_key
from event_capture.ingest.answer import capture_answer
from event_capture.schemas.envelope import EventEnvelope
from event_capture.schemas.families import MODEL_BY_EVENT_TYPE
from localcloud.cloud import LocalCloud
from localcloud.sample_events import sample_batch, sample_event


def _table(event: dict[str, Any]) -> str:
    return MODEL_BY_EVENT_TYPE[event["event_type"]].TABLE


def test_mixed_batch_lands_in_the_right_tables_with_the_right_values(cloud: LocalCloud) -> None:
    events = sample_batch(12, users=3)
    result = capture_answer(cloud.pipeline().handle(events, batch=True))

    assert result.status == 200, result.body
    assert result.body["accepted"] == 12
    for event in events:
        [row] = cloud.rows(_table(event), [event["event_id"]])
        assert row["event_type"] == event["event_type"]
        assert row["user_id"] == event["user_id"]
        assert row["schema_version"] == EventEnvelope.SCHEMA_VERSION
        assert row["received_at"] is not None
        if event["event_type"] == "order_placed":
            assert [item["product_id"] for item in row["items"]] == [
                item["product_id"] for item in event["items"]
            ]
            assert str(row["total"]) == str(float(event["total"])).rstrip("0").rstrip(".") or (
                float(row["total"]) == float(event["total"])
            )
        if event["event_type"] == "search":
            assert row["query"] == event["query"]
            assert row["filters"] == event["filters"]


def test_resending_the_same_batch_does_not_duplicate_rows(cloud: LocalCloud) -> None:
    events = [sample_event("search", user_id="u_resend") for _ in range(5)]
    ids = [event["event_id"] for event in events]
    pipeline = cloud.pipeline()

    first = capture_answer(pipeline.handle(events, batch=True))
    second = capture_answer(pipeline.handle(events, batch=True))

    assert (first.status, second.status) == (200, 200)
    assert sorted(row["event_id"] for row in cloud.rows("searches", ids)) == sorted(ids)


def test_one_invalid_event_gets_207_and_the_valid_ones_land(cloud: LocalCloud) -> None:
    good = [sample_event("product_view"), sample_event("voice_interaction")]
    bad = sample_event("order_placed")
    bad["items"][0]["quantity"] = 0
    result = capture_answer(cloud.pipeline().handle([good[0], bad, good[1]], batch=True))

    assert result.status == 207
    assert result.body["accepted"] == 2
    [rejection] = result.body["rejections"]
    assert rejection["index"] == 1
    assert rejection["event_id"] == bad["event_id"]
    assert rejection["errors"][0]["field"] == "events[1].items[0].quantity"
    assert rejection["errors"][0]["rule"] == "greater_than_equal"
    assert len(cloud.rows("product_interactions", [good[0]["event_id"]])) == 1
    assert len(cloud.rows("voice_interactions", [good[1]["event_id"]])) == 1
    assert cloud.rows("orders", [bad["event_id"]]) == []


def objects_holding(cloud: LocalCloud, event_id: str) -> dict[str, str]:
    return {name: text for name, text in cloud.objects("archive/").items() if event_id in text}


def test_free_text_is_scrubbed_before_it_reaches_bigquery_and_the_archive(
    cloud: LocalCloud,
) -> None:
    event = sample_event("search")
    event["query"] = "call me on +44 20 7946 0958 or jane@example.com"
    pipeline = cloud.pipeline()
    result = capture_answer(pipeline.handle([event], batch=True))
    pipeline.flush_archive()

    assert result.status == 200
    [row] = cloud.rows("searches", [event["event_id"]])
    assert row["query"] == "call me on [PHONE] or [EMAIL]"
    [archived] = objects_holding(cloud, event["event_id"]).values()
    assert "jane@example.com" not in archived


def test_one_archive_object_holds_the_events_of_several_requests_as_ndjson(
    cloud: LocalCloud,
) -> None:
    first = [sample_event("search"), sample_event("add_to_cart")]
    second = [sample_event("search")]
    pipeline = cloud.pipeline()
    for events in (first, second):
        assert capture_answer(pipeline.handle(events, batch=True)).status == 200
    # Accepted and durable in BigQuery; the archive's copy waits for the instance's next write.
    assert objects_holding(cloud, first[0]["event_id"]) == {}

    flushed = pipeline.flush_archive()

    # One object for both requests, every family in it, in the order they were accepted.
    [(name, text)] = objects_holding(cloud, first[0]["event_id"]).items()
    archived = [json.loads(line) for line in text.splitlines()]
    assert [row["event_id"] for row in archived] == [e["event_id"] for e in first + second]
    assert name.startswith("archive/dt=") and "/hour=" in name and name.endswith(".ndjson")
    assert (flushed.objects_written, flushed.lines_written) == (1, 3)


def test_archive_objects_are_create_only(cloud: LocalCloud) -> None:
    from google.api_core.exceptions import PreconditionFailed

    event = sample_event("search")
    # An object per request, written with it: the same create-only write as a group's.
    pipeline = cloud.pipeline(ARCHIVE_FLUSH_SECONDS="0")
    assert capture_answer(pipeline.handle([event], batch=True)).status == 200
    [name] = objects_holding(cloud, event["event_id"])

    try:
        cloud.bucket().blob(name).upload_from_string("overwrite\n", if_generation_match=0)
    except PreconditionFailed:
        pass
    else:
        raise AssertionError("an archive object could be overwritten")


def test_with_redis_enabled_per_user_activity_is_readable(cloud: LocalCloud) -> None:
    import redis

    user = "u_redis_reader"
    events = [sample_event(t, user_id=user) for t in ("search", "product_view", "add_to_cart")]
    result = capture_answer(
        cloud.pipeline(REDIS_ENABLED="true", REDIS_TTL_SECONDS="3600").handle(events, batch=True)
    )

    assert result.status == 200
    assert result.body["sinks"]["redis"]["status"] == "ok"
    client = redis.Redis(port=cloud.redis.port, decode_responses=True)
    recent = [json.loads(entry) for entry in client.lrange(activity_key(user), 0, -1)]
    # Newest first, as a "recently viewed" feature reads it.
    assert [entry["event_id"] for entry in recent] == [e["event_id"] for e in reversed(events)]
    assert "user_id" not in recent[0]
    assert 0 < client.ttl(activity_key(user)) <= 3600
    [search_row] = cloud.rows("searches", [events[0]["event_id"]])
    counts_key = daily_counts_key(search_row["received_at"].strftime("%Y-%m-%d"))
    assert int(client.hget(counts_key, "add_to_cart") or 0) >= 1


def test_redis_is_not_written_unless_enabled(cloud: LocalCloud) -> None:
    import redis

    user = "u_redis_off"
    result = capture_answer(
        cloud.pipeline().handle([sample_event("search", user_id=user)], batch=True)
    )

    assert result.body["sinks"]["redis"]["status"] == "disabled"
    assert redis.Redis(port=cloud.redis.port).exists(activity_key(user)) == 0
