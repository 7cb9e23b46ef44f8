"""Graceful degradation on the real emulators: a backend goes down, nothing accepted is lost."""

import io
from collections.abc import Iterator

import pytest

from event_capture.ingest.answer import capture_answer
from event_capture.ingest.sinks import dead_letter
from event_capture.ingest.sinks.result import FailedRow
from event_capture.ingest.wiring import bigquery_sink, dead_letter_writer
from localcloud import bootstrap
from localcloud.cloud import LocalCloud
from localcloud.sample_events import sample_event
from tools.replay import bigquery_lookup, replay

# Connection refused is immediate; the deadline bounds the backoff that follows it.
BIGQUERY_DOWN = {"BIGQUERY_DEADLINE_SECONDS": "1"}
GCS_DOWN = {"GCS_DEADLINE_SECONDS": "1"}


def dead_letters(objects: dict[str, str]) -> list[FailedRow]:
    return [entry for text in objects.values() for entry in dead_letter.decode(text)]


@pytest.fixture
def gcs_down(cloud: LocalCloud) -> Iterator[None]:
    with cloud.outage(cloud.gcs):
        yield


def test_with_gcs_down_bigquery_still_receives_and_the_response_names_the_failure(
    cloud: LocalCloud, gcs_down: None
) -> None:
    events = [sample_event("search"), sample_event("order_placed")]
    # Each request writes its own object, so this one meets the outage.
    pipeline = cloud.pipeline(**GCS_DOWN, ARCHIVE_FLUSH_SECONDS="0")
    result = capture_answer(pipeline.handle(events, batch=True))

    assert result.status == 200
    assert result.body["sinks"]["bigquery"]["status"] == "ok"
    assert result.body["sinks"]["gcs_archive"]["status"] == "failed"
    assert "error" in result.body["sinks"]["gcs_archive"]
    assert result.log["severity"] == "WARNING"
    assert result.log["events_not_archived"] == 2
    assert len(cloud.rows("searches", [events[0]["event_id"]])) == 1
    assert len(cloud.rows("orders", [events[1]["event_id"]])) == 1


def test_a_group_write_that_meets_the_outage_keeps_its_lines_for_the_next(
    cloud: LocalCloud,
) -> None:
    events = [sample_event("search"), sample_event("order_placed")]
    pipeline = cloud.pipeline(**GCS_DOWN)
    with cloud.outage(cloud.gcs):
        result = capture_answer(pipeline.handle(events, batch=True))
        failed = pipeline.flush_archive()

    again = pipeline.flush_archive()

    # Buffered, not lost: the archive's copy follows once Cloud Storage is back.
    assert result.status == 200 and result.log["events_not_archived"] == 0
    assert (failed.lines_written, failed.lines_kept, failed.buffered) == (0, 2, 2)
    assert (again.lines_written, again.buffered) == (2, 0)
    archived = "".join(cloud.objects("archive/").values())
    assert all(event["event_id"] in archived for event in events)


def test_bigquery_down_dead_letters_with_2xx_both_down_is_503_and_replay_completes(
    cloud: LocalCloud,
) -> None:
    events = [sample_event("search") for _ in range(3)] + [sample_event("product_click")]
    search_ids = [e["event_id"] for e in events[:3]]
    with cloud.outage(cloud.bigquery):
        result = capture_answer(cloud.pipeline(**BIGQUERY_DOWN).handle(events, batch=True))
        # The same batch again while BigQuery is still down, as an impatient client would.
        repeat = capture_answer(cloud.pipeline(**BIGQUERY_DOWN).handle(events[:2], batch=True))
        # And with Cloud Storage down too, nothing durable is left: 503, Redis untouched.
        with cloud.outage(cloud.gcs):
            both_down = capture_answer(
                cloud.pipeline(**BIGQUERY_DOWN, **GCS_DOWN, REDIS_ENABLED="true").handle(
                    [sample_event("search")], batch=False
                )
            )

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
    dead = cloud.objects("dead-letter/")
    entries = dead_letters(dead)
    assert {entry.row.event_id for entry in entries} >= {e["event_id"] for e in events}
    assert all(entry.failure.detail for entry in entries)
    assert cloud.rows("searches", search_ids) == []

    config = cloud.config()
    progress = io.StringIO()
    report = replay(
        dead_letter_writer(config),
        bigquery_sink(config),
        progress=progress,
        stored=bigquery_lookup(config),
    )

    assert report.still_failing == 0 and report.invalid == 0
    # Six dead-lettered copies of four events: the second copy of each repeated search is
    # found in BigQuery (the query of the real emulator) and not inserted again.
    assert (report.rows, report.already_stored, report.inserted) == (6, 2, 4)
    assert "[1/" in progress.getvalue()
    assert sorted(r["event_id"] for r in cloud.rows("searches", search_ids)) == sorted(search_ids)
    assert len(cloud.rows("product_interactions", [events[3]["event_id"]])) == 1
    assert cloud.objects("dead-letter/") == {}
    assert set(cloud.objects("dead-letter-replayed/")) == {
        name.replace("dead-letter/", "dead-letter-replayed/", 1) for name in dead
    }

    again = replay(dead_letter_writer(config), bigquery_sink(config), progress=io.StringIO())
    assert again.objects == 0


def test_redis_down_never_fails_a_capture(cloud: LocalCloud) -> None:
    event = sample_event("add_to_cart")
    with cloud.outage(cloud.redis):
        result = capture_answer(cloud.pipeline(REDIS_ENABLED="true").handle([event], batch=False))

    assert result.status == 200
    assert result.body["sinks"]["redis"]["status"] == "failed"
    assert len(cloud.rows("product_interactions", [event["event_id"]])) == 1


def test_dead_letters_go_to_their_own_bucket_when_one_is_configured(cloud: LocalCloud) -> None:
    dead_letter_bucket = "capture-test-dead-letters"
    bootstrap.create_bucket(cloud.storage_client(), dead_letter_bucket)
    event = sample_event("search")
    pipeline = cloud.pipeline(**BIGQUERY_DOWN, DEAD_LETTER_BUCKET=dead_letter_bucket)
    with cloud.outage(cloud.bigquery):
        result = capture_answer(pipeline.handle([event], batch=True))
    pipeline.flush_archive()

    assert result.status == 200, result.body
    assert result.body["sinks"]["dead_letter"]["status"] == "ok"
    request_id = result.log["request_id"]
    own = dead_letters(cloud.objects("dead-letter/", bucket=dead_letter_bucket))
    assert [entry.row.event_id for entry in own] == [event["event_id"]]
    assert not [name for name in cloud.objects("dead-letter/") if request_id in name]
    # The archive stays in its bucket.
    assert event["event_id"] in "".join(cloud.objects("archive/").values())
