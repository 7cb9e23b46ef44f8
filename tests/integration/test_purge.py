"""Purging one write key's events on the real emulators: none of them is left in BigQuery, the
archive, the dead letters or Redis, and no other event is touched.

A dataset and buckets of its own keep this test apart from the others; its users are its own,
so Redis lists are too.
"""

import io
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from event_capture.contracts import provenance
from event_capture.contracts.redis_keys import activity_key
from event_capture.ingest.answer import capture_answer
from event_capture.ingest.row import Request
from event_capture.ingest.sinks.dead_letter import DeadLetterSink
from event_capture.ingest.sinks.result import FailedRow, Failure, FailureKind
from event_capture.ingest.validation import validate_events
from event_capture.ingest.wiring import dead_letter_writer
from localcloud import bootstrap
from localcloud.cloud import LocalCloud
from localcloud.sample_events import sample_batch
from tools.purge import main

DATASET = "purge"
TABLES = ("searches", "product_interactions", "orders", "sessions", "voice_interactions")


@pytest.fixture(scope="module")
def dataset(cloud: LocalCloud) -> str:
    bootstrap.create_dataset_and_tables(cloud.bigquery_client(), DATASET)
    return DATASET


def new_bucket(cloud: LocalCloud, role: str) -> str:
    name = f"{cloud.settings.project}-purge-{role}-{uuid.uuid4().hex[:8]}"
    cloud.storage_client().create_bucket(name)
    return name


def events_of(tag: str, count: int) -> list[dict[str, Any]]:
    events = sample_batch(count)
    for index, event in enumerate(events):
        event["user_id"] = f"u_{tag}_{index % 3}"
    return events


def stored_ids(cloud: LocalCloud, ids: Iterable[str]) -> set[str]:
    wanted = list(ids)
    return {row["event_id"] for table in TABLES for row in cloud.rows(table, wanted, DATASET)}


def lines_in(cloud: LocalCloud, bucket: str) -> list[dict[str, Any]]:
    texts = cloud.objects("", bucket).values()
    return [json.loads(line) for text in texts for line in text.splitlines() if line]


def redis_ids(client: redis.Redis, users: Iterable[str]) -> set[str]:
    return {
        json.loads(entry)["event_id"]
        for user in users
        for entry in client.lrange(activity_key(user), 0, -1)
    }


def test_a_purge_of_one_key_leaves_none_of_its_events_anywhere_and_touches_no_other(
    cloud: LocalCloud, dataset: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    flood_key, kept_key = f"flood-{tag}", f"web-{tag}"
    archive, dead_letters = new_bucket(cloud, "archive"), new_bucket(cloud, "dead")
    env = {
        "BIGQUERY_DATASET": dataset,
        "GCS_BUCKET": archive,
        "DEAD_LETTER_BUCKET": dead_letters,
        "REDIS_ENABLED": "true",
    }
    pipeline = cloud.pipeline(**env)
    flood, kept, captured = (
        events_of(f"f{tag}", 10),
        events_of(f"k{tag}", 10),
        events_of(f"c{tag}", 5),
    )
    for events, via in (
        (flood[:5], provenance.collector(flood_key)),
        (flood[5:], provenance.collector(flood_key)),
        (kept, provenance.collector(kept_key)),
        (captured, provenance.CAPTURE),
    ):
        assert capture_answer(pipeline.handle(events, True, via)).status == 200
    pipeline.flush_archive()
    # Dead letters of both keys, written as the function writes them.
    received = datetime.now(UTC)
    dead_flood, _ = validate_events(
        events_of(f"f{tag}", 3), received, True, f"collector:{flood_key}"
    )
    dead_kept, _ = validate_events(events_of(f"k{tag}", 2), received, True, f"collector:{kept_key}")
    failure = Failure(FailureKind.UNDELIVERED, "BigQuery was down")
    DeadLetterSink(dead_letter_writer(cloud.config(**env))).write(
        [FailedRow(row, failure) for row in dead_flood + dead_kept], Request("dl-" + tag, received)
    )
    # One archive object holding both keys' lines, as one instance's group commit would.
    mixed, _ = validate_events(events_of(f"m{tag}", 4), received, True, f"collector:{flood_key}")
    mixed_kept, _ = validate_events(
        events_of(f"m{tag}", 2), received, True, f"collector:{kept_key}"
    )
    name = (
        f"archive/dt={received:%Y-%m-%d}/hour={received:%H}/{received:%Y%m%dT%H%M%S}-mixed.ndjson"
    )
    cloud.bucket(archive).blob(name).upload_from_string(
        "".join(row.json + "\n" for row in mixed + mixed_kept)
    )

    flood_ids = {e["event_id"] for e in flood}
    other_ids = {e["event_id"] for e in kept + captured}
    dead_flood_ids = {row.event_id for row in dead_flood}
    users = {e["user_id"] for e in flood + kept + captured}
    client = redis.Redis.from_url(cloud.redis_url)
    assert redis_ids(client, users) >= flood_ids | other_ids
    before = {
        "bigquery": stored_ids(cloud, flood_ids | other_ids),
        "archive": lines_in(cloud, archive),
        "dead": lines_in(cloud, dead_letters),
    }
    config = cloud.config(**env)
    day = f"{received:%Y-%m-%d}"
    argv = [
        "--source",
        flood_key,
        "--from",
        day,
        "--to",
        f"{received + timedelta(days=1):%Y-%m-%d}",
    ]

    out = io.StringIO()
    assert main(argv, config, out=out) == 0
    receipt = {line.split()[0]: line.split() for line in out.getvalue().splitlines()[1:]}
    assert receipt["bigquery"][2] == "10" and receipt["archive"][2] == str(10 + 4)
    assert receipt["dead-letters"][2] == "3" and receipt["redis"][2] == "10"
    # A dry run changes nothing.
    assert stored_ids(cloud, flood_ids | other_ids) == before["bigquery"]
    assert lines_in(cloud, archive) == before["archive"]
    assert lines_in(cloud, dead_letters) == before["dead"]

    out = io.StringIO()
    assert main([*argv, "--execute"], config, out=out) == 0, out.getvalue()

    assert stored_ids(cloud, flood_ids | other_ids) == other_ids
    archived = lines_in(cloud, archive)
    assert {line["arrived_via"] for line in archived} == {
        provenance.collector(kept_key),
        provenance.CAPTURE,
    }
    assert len(archived) == len(before["archive"]) - 14
    # The mixed object was rewritten, not dropped: the other key's lines are still in it.
    assert [
        json.loads(line)["event_id"] for line in cloud.objects(name, archive)[name].splitlines()
    ] == [row.event_id for row in mixed_kept]
    dead = lines_in(cloud, dead_letters)
    assert {line["insert_id"] for line in dead} == {row.event_id for row in dead_kept}
    assert redis_ids(client, users) & (flood_ids | dead_flood_ids) == set()
    assert redis_ids(client, users) >= other_ids

    # Again: nothing left to match.
    out = io.StringIO()
    assert main([*argv, "--execute"], config, out=out) == 0
    assert all(line.split()[2] == "0" for line in out.getvalue().splitlines()[1:])
