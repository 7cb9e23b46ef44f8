"""Graceful degradation on the real emulators: a backend goes down, nothing accepted is lost."""

import io
import json
from collections.abc import Iterator

import pytest

from localcloud import bootstrap
from localcloud.sample_events import sample_event
from tools.replay import replay
from event_capture.ingest.sinks.bigquery import BigQuerySink
from tests.integration.conftest import DATASET, PROJECT, Stack

# Connection refused is immediate; the deadline bounds the backoff that follows it.
BIGQUERY_DOWN = {"BIGQUERY_DEADLINE_SECONDS": "1"}
GCS_DOWN = {"GCS_DEADLINE_SECONDS": "1"}


@pytest.fixture
def gcs_down(stack: Stack) -> Iterator[None]:
    stack.gcs.stop()
    try:
        yield
    finally:
        stack.gcs.start()


def test_with_gcs_down_bigquery_still_receives_and_the_response_names_the_failure(
    stack: Stack, gcs_down: None
) -> None:
    events = [sample_event("search"), sample_event("order_placed")]
    result = stack.pipeline(**GCS_DOWN).handle(events, batch=True)

    assert result.status == 200
    assert result.body["sinks"]["bigquery"]["status"] == "ok"
    assert result.body["sinks"]["gcs_archive"]["status"] == "failed"
    assert "error" in result.body["sinks"]["gcs_archive"]
    assert result.log["severity"] == "WARNING"
    assert len(stack.rows("searches", [events[0]["event_id"]])) == 1
    assert len(stack.rows("orders", [events[1]["event_id"]])) == 1


def test_bigquery_down_dead_letters_with_2xx_both_down_is_503_and_replay_completes(
    stack: Stack,
) -> None:
    events = [sample_event("search") for _ in range(3)] + [sample_event("product_click")]
    search_ids = [e["event_id"] for e in events[:3]]
    stack.bigquery.stop()
    try:
        result = stack.pipeline(**BIGQUERY_DOWN).handle(events, batch=True)
        # The same batch again while BigQuery is still down, as an impatient client would.
        repeat = stack.pipeline(**BIGQUERY_DOWN).handle(events[:2], batch=True)
        # And with Cloud Storage down too, nothing durable is left: 503, Redis untouched.
        stack.gcs.stop()
        try:
            both_down = stack.pipeline(**BIGQUERY_DOWN, **GCS_DOWN, REDIS_ENABLED="true").handle(
                [sample_event("search")], batch=False
            )
        finally:
            stack.gcs.start()
    finally:
        stack.bigquery.start()

    assert both_down.status == 503
    assert int(both_down.headers["Retry-After"]) > 0
    assert both_down.body["accepted"] == 0
    assert both_down.body["sinks"]["redis"]["status"] == "skipped"
    assert both_down.log["events_not_stored"] == 1
    assert both_down.log["severity"] == "ERROR"

    assert result.status == 200, result.body
    assert result.body["sinks"]["bigquery"]["status"] == "failed"
    assert result.body["sinks"]["dead_letter"] == {
        **result.body["sinks"]["dead_letter"],
        "status": "ok",
        "rows": 4,
    }
    assert result.log["events_dead_lettered"] == 4
    assert repeat.status == 200
    dead = stack.objects("dead-letter/")
    lines = [json.loads(line) for text in dead.values() for line in text.splitlines()]
    assert {line["insert_id"] for line in lines} >= {e["event_id"] for e in events}
    assert all(line["reason"] for line in lines)
    assert stack.rows("searches", search_ids) == []

    config = stack.config()
    sink = BigQuerySink(lambda: stack.bq(), PROJECT, DATASET, config.bigquery_deadline_seconds)
    progress = io.StringIO()
    report = replay(stack.bucket(), sink, progress=progress)

    assert report.still_failing == 0 and report.invalid == 0
    assert report.rows >= 6 and report.inserted == report.rows
    assert "[1/" in progress.getvalue()
    # Six dead-lettered copies of four events: insertIds leave one row per event.
    assert sorted(r["event_id"] for r in stack.rows("searches", search_ids)) == sorted(search_ids)
    assert len(stack.rows("product_interactions", [events[3]["event_id"]])) == 1
    assert stack.objects("dead-letter/") == {}
    assert set(stack.objects("dead-letter-replayed/")) == {
        name.replace("dead-letter/", "dead-letter-replayed/", 1) for name in dead
    }

    again = replay(stack.bucket(), sink, progress=io.StringIO())
    assert again.objects == 0


def test_redis_down_never_fails_a_capture(stack: Stack) -> None:
    stack.redis.stop()
    try:
        event = sample_event("add_to_cart")
        result = stack.pipeline(REDIS_ENABLED="true").handle([event], batch=False)
    finally:
        stack.redis.start()

    assert result.status == 200
    assert result.body["sinks"]["redis"]["status"] == "failed"
    assert len(stack.rows("product_interactions", [event["event_id"]])) == 1


def test_dead_letters_go_to_their_own_bucket_when_one_is_configured(stack: Stack) -> None:
    dead_letter_bucket = "capture-test-dead-letters"
    bootstrap.create_bucket(bootstrap.storage_client(PROJECT), dead_letter_bucket)
    event = sample_event("search")
    stack.bigquery.stop()
    try:
        result = stack.pipeline(**BIGQUERY_DOWN, DEAD_LETTER_BUCKET=dead_letter_bucket).handle(
            [event], batch=True
        )
    finally:
        stack.bigquery.start()

    assert result.status == 200, result.body
    assert result.body["sinks"]["dead_letter"]["status"] == "ok"
    request_id = result.log["request_id"]
    own = bootstrap.storage_client(PROJECT).bucket(dead_letter_bucket)
    dead = [b.download_as_text() for b in own.list_blobs(prefix="dead-letter/")]
    assert [json.loads(line)["insert_id"] for text in dead for line in text.splitlines()] == [
        event["event_id"]
    ]
    assert not [name for name in stack.objects("dead-letter/") if request_id in name]
    assert [name for name in stack.objects("archive/") if request_id in name]
