"""The archive's group commit in the real function (functions-framework, gunicorn): lines
buffered in a worker reach the archive when the server is stopped as Cloud Run stops it
(SIGTERM), and a worker killed outright loses them until the backfill writes them.

A bucket of its own per test keeps the archives apart; the events go to the session's dataset.
"""

import io
import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from event_capture.archive_backfill.backfill import SETTLE
from event_capture.ingest.row import Request
from event_capture.ingest.validation import validate_events
from event_capture.ingest.wiring import bigquery_sink
from localcloud.cloud import LocalCloud
from localcloud.processes import Service
from localcloud.run import push_backfill_run
from localcloud.sample_events import sample_batch
from tools.backfill_archive import main as backfill

# One worker, so every request is buffered by the same process.
ENV = {"WORKERS": "1", "THREADS": "4"}


def new_bucket(cloud: LocalCloud) -> str:
    name = f"{cloud.settings.project}-group-{uuid.uuid4().hex[:8]}"
    cloud.storage_client().create_bucket(name)
    return name


def archived(cloud: LocalCloud, bucket: str) -> Counter[str]:
    return Counter(
        json.loads(line)["event_id"]
        for text in cloud.objects("archive/", bucket).values()
        for line in text.splitlines()
    )


def send(function: Service, events: list[dict[str, object]]) -> None:
    for start in range(0, len(events), 4):
        response = requests.post(
            function.url, json={"events": events[start : start + 4]}, timeout=120
        )
        assert response.status_code == 200, response.text


def log_lines(path: Path, message: str) -> list[dict[str, object]]:
    lines = [json.loads(text) for text in path.read_text().splitlines() if text.startswith("{")]
    return [line for line in lines if line.get("message") == message]


def test_a_graceful_stop_writes_the_lines_the_worker_held(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    bucket = new_bucket(cloud)
    log_path = tmp_path / "function.log"
    function = cloud.start_function(env={**ENV, "GCS_BUCKET": bucket}, log_path=log_path)
    events = sample_batch(12)
    try:
        send(function, events)
        # Accepted (BigQuery holds them); the archive's copy waits for the interval.
        assert archived(cloud, bucket) == Counter()
    finally:
        function.stop()

    assert archived(cloud, bucket) == Counter(event["event_id"] for event in events)
    [line] = log_lines(log_path, "archive_flush")
    assert (line["archive_objects_written"], line["archive_lines_written"]) == (1, 12)
    assert [line["archive_buffered"] for line in log_lines(log_path, "capture")] == [4, 8, 12]


def test_a_killed_worker_s_lines_are_missing_until_the_backfill_writes_them(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    bucket = new_bucket(cloud)
    log_path = tmp_path / "function.log"
    started = datetime.now(UTC)
    function = cloud.start_function(env={**ENV, "GCS_BUCKET": bucket}, log_path=log_path)
    events = sample_batch(8)
    try:
        send(function, events)
        function.kill_worker()
    finally:
        # The new worker holds nothing: its exit writes nothing.
        function.stop()
    ended = datetime.now(UTC) + timedelta(seconds=1)

    assert archived(cloud, bucket) == Counter()
    assert log_lines(log_path, "archive_flush") == []

    status = backfill(
        ["--from", started.isoformat(), "--to", ended.isoformat()],
        cloud.config(GCS_BUCKET=bucket),
        now=lambda: ended + SETTLE,
        out=io.StringIO(),
        progress=io.StringIO(),
    )

    assert status == 0
    # Each once (other tests' events of the same minutes may be written too: same dataset).
    backfilled = archived(cloud, bucket)
    assert {event["event_id"]: backfilled[event["event_id"]] for event in events} == {
        event["event_id"]: 1 for event in events
    }


def test_the_scheduled_run_writes_what_a_killed_instance_lost_once(cloud: LocalCloud) -> None:
    # Rows an instance accepted half an hour ago and was killed before writing to the archive:
    # in BigQuery, not archived. The function's run covers the settled hours (from its clock).
    bucket = new_bucket(cloud)
    config = cloud.config(GCS_BUCKET=bucket)
    received = datetime.now(UTC) - SETTLE - timedelta(minutes=15)
    rows, rejections = validate_events(sample_batch(6), received)
    assert rejections == []
    stored = bigquery_sink(config).write(rows, Request("killed", received))
    assert not stored.failed
    backfill_function = cloud.start_backfill(env={"GCS_BUCKET": bucket})
    try:
        push_backfill_run(backfill_function.url)  # as make run's schedule does
        first = archived(cloud, bucket)
        push_backfill_run(backfill_function.url)
        second = archived(cloud, bucket)
    finally:
        backfill_function.stop()

    assert {row.event_id: first[row.event_id] for row in rows} == {row.event_id: 1 for row in rows}
    assert second == first  # a later run finds no gap: nothing twice
