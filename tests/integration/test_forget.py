"""Forgetting a user on the real local cloud, end to end: their events through the capture
function and the collector (with a device used before the login, and a dead letter), the
nightly build and the materializer, then ``tools.forget`` (what ``make forget`` runs). No row,
archived line, dead letter or Redis key of theirs is left, every other user's data is counted
the same before and after, and the receipt says what was removed. With ``--suppress``, a later
event of theirs is answered accepted-and-dropped (``suppressed``) by both functions and stored
nowhere; lifting the suppression stores their events again.
"""

import base64
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import requests
from google.cloud import bigquery

from event_capture.collector.event_ids import event_id
from event_capture.contracts import redis_keys as keys
from event_capture.contracts.forget import SUPPRESSION_OBJECT, subject_digest
from event_capture.features.materialize import materialize
from event_capture.ingest.row import Request
from event_capture.ingest.sinks.dead_letter import DeadLetterSink
from event_capture.ingest.sinks.result import FailedRow, Failure, FailureKind
from event_capture.ingest.validation import validate_events
from event_capture.ingest.wiring import dead_letter_writer
from event_capture.tables.definitions import load_table_definitions
from event_capture.warehouse.catalog import USER_LEVEL_TABLES
from localcloud.cloud import LocalCloud
from localcloud.processes import Service
from localcloud.sample_events import sample_batch
from localcloud.warehouse import create_warehouse, run_all
from tools import forget

SERVER_KEY = "srv_0d4c8e2b6a1f49c7b3e5d9a2f8c61e47"
TABLES = tuple(definition["table_id"] for definition in load_table_definitions())
# Read again at once: a suppression reaches the test's functions within this.
TTL = "0.1"


@dataclass(frozen=True)
class People:
    forgotten: str
    device: str  # the forgotten user's device, used before the login
    kept: str
    kept_device: str


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


@pytest.fixture(scope="module")
def people() -> People:
    tag = uuid.uuid4().hex[:8]
    return People(f"u_gone_{tag}", f"d_gone_{tag}", f"u_kept_{tag}", f"d_kept_{tag}")


@pytest.fixture(scope="module")
def functions(cloud: LocalCloud) -> Iterator[tuple[Service, Service]]:
    env = {
        "CAPTURE_MODE_BUCKET": cloud.settings.control_bucket,
        "CAPTURE_MODE_TTL_SECONDS": TTL,
        "REDIS_ENABLED": "true",
        # Each request writes its own archive object, so the archive is complete at once.
        "ARCHIVE_FLUSH_SECONDS": "0",
    }
    capture = cloud.start_function(env=env)
    collector = cloud.start_collector(
        write_keys=[{"id": "backend", "class": "server", "key": SERVER_KEY}], env=env
    )
    yield capture, collector
    capture.stop()
    collector.stop()


def capture_events(capture: Service, events: list[dict[str, Any]]) -> dict[str, Any]:
    answer = requests.post(capture.url, json={"events": events}, timeout=60)
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def collector_calls(collector: Service, calls: list[dict[str, Any]]) -> list[str]:
    return collector_answer(collector, calls)[0]


def collector_answer(
    collector: Service, calls: list[dict[str, Any]]
) -> tuple[list[str], dict[str, Any]]:
    answer = requests.post(
        collector.url + "/collector/v1/batch",
        json={"batch": calls},
        headers={"Authorization": basic(SERVER_KEY)},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return [event_id(call["messageId"]) for call in calls], document


def search_call(user: str | None, device: str) -> dict[str, Any]:
    call: dict[str, Any] = {
        "type": "track",
        "event": "Products Searched",
        "anonymousId": device,
        "messageId": str(uuid.uuid4()),
        "properties": {"query": "oat milk"},
    }
    if user is not None:
        call["userId"] = user
    return call


def journey(user: str, device: str) -> list[dict[str, Any]]:
    """Events of every family for ``user``, the first two from ``device`` before the login, and
    one from it after (both ids: a link)."""
    events = sample_batch(10, users=1)
    for index, event in enumerate(events):
        event["user_id"] = user
        event["session_id"] = f"s_{device}"
        if index < 2:
            event["user_id"] = None
        if index < 3:
            event["anonymous_id"] = device
    return events


def owned(alias: str = "") -> str:
    return f"({alias}user_id = @user OR ({alias}user_id IS NULL AND {alias}anonymous_id = @device))"


def count(cloud: LocalCloud, table: str, partition: str, where: str, **values: str) -> int:
    name = f"{cloud.settings.project}.{cloud.settings.dataset}.{table}"
    job = cloud.bigquery_client().query(
        f"SELECT COUNT(*) AS n FROM `{name}` WHERE {partition} IS NOT NULL AND {where}",
        job_config=bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter(k, "STRING", v) for k, v in values.items()
            ]
        ),
    )
    return int(next(iter(job.result()))["n"])


def bigquery_counts(cloud: LocalCloud, people: People) -> dict[str, tuple[int, int]]:
    """Per table: (the forgotten user's rows, every other row)."""
    found: dict[str, tuple[int, int]] = {}
    who = {"user": people.forgotten, "device": people.device}
    for table in TABLES:
        mine = count(cloud, table, "received_at", owned(), **who)
        others = count(cloud, table, "received_at", f"NOT {owned()}", **who)
        found[table] = (mine, others)
    for spec in USER_LEVEL_TABLES:
        has_device = any(c.name == "anonymous_id" for c in spec.columns)
        where = owned() if has_device else "user_id = @user"
        values = who if has_device else {"user": people.forgotten}
        mine = count(cloud, spec.name, spec.partition_field, where, **values)
        others = count(
            cloud, spec.name, spec.partition_field, f"NOT IFNULL({where}, FALSE)", **values
        )
        found[spec.name] = (mine, others)
    return found


def object_lines(cloud: LocalCloud, prefix: str) -> list[dict[str, Any]]:
    texts = cloud.objects(prefix).values()
    lines = [json.loads(line) for text in texts for line in text.splitlines() if line]
    return [line.get("row", line) for line in lines]


def store_counts(cloud: LocalCloud, people: People) -> dict[str, tuple[int, int]]:
    """The archive's and the dead letters' lines: (the forgotten user's, every other)."""
    found = {}
    for store, prefix in (("archive", "archive/"), ("dead-letters", "dead-letter/")):
        lines = object_lines(cloud, prefix)
        mine = sum(
            row.get("user_id") == people.forgotten
            or (row.get("user_id") is None and row.get("anonymous_id") == people.device)
            for row in lines
        )
        found[store] = (mine, len(lines) - mine)
    return found


def redis_keys_of(store: redis.Redis, user: str, device: str) -> list[str]:
    present = [
        key
        for key in (
            keys.activity_key(user),
            keys.devices_key(user),
            keys.device_activity_key(device),
        )
        if store.exists(key)
    ]
    for snapshot in store.scan_iter(match=f"{keys.SNAPSHOT_PREFIX}*:users"):
        if store.hexists(snapshot, user):
            present.append(f"{snapshot.decode()}[{user}]")
    return present


@pytest.fixture(scope="module")
def captured(
    cloud: LocalCloud, functions: tuple[Service, Service], people: People
) -> Iterator[dt.date]:
    """Both users' journeys through both functions, a dead letter each, ``make nightly`` and
    the materializer for the day; the day. The snapshot pointer is put back afterwards."""
    capture, collector = functions
    for user, device in ((people.forgotten, people.device), (people.kept, people.kept_device)):
        capture_events(capture, journey(user, device))
        collector_calls(collector, [search_call(None, device), search_call(user, device)])
    received = dt.datetime.now(dt.UTC)
    dead = [
        *journey(people.forgotten, people.device)[3:5],
        *journey(people.kept, people.kept_device)[3:5],
    ]
    rows, _ = validate_events(dead, received, True, "capture")
    DeadLetterSink(dead_letter_writer(cloud.config())).write(
        [FailedRow(row, Failure(FailureKind.UNDELIVERED, "BigQuery was down")) for row in rows],
        Request("dl-" + people.forgotten, received),
    )
    client = cloud.bigquery_client()
    datasets = cloud.settings.warehouse_datasets
    create_warehouse(client, datasets)
    day = received.date()
    run_all(client, datasets, day + dt.timedelta(days=1))
    store = redis.Redis.from_url(cloud.redis_url)
    previous = store.get(keys.CURRENT_SNAPSHOT)
    materialize(client, store, datasets.events, snapshot_date=day)
    yield day
    if previous is None:
        store.delete(keys.CURRENT_SNAPSHOT)
    else:
        store.set(keys.CURRENT_SNAPSHOT, previous)
    store.close()


def run_forget(cloud: LocalCloud, *arguments: str) -> tuple[int, str]:
    out = io.StringIO()
    status = forget.main(
        ["--local", *arguments],
        out=out,
        env=cloud.forget_env(REDIS_ENABLED="true"),
        sleep=lambda seconds: None,
    )
    return status, out.getvalue()


def test_a_forgotten_user_is_gone_from_every_store_and_no_one_else_is_touched(
    cloud: LocalCloud, people: People, captured: dt.date
) -> None:
    store = redis.Redis.from_url(cloud.redis_url)
    tables_before = bigquery_counts(cloud, people)
    objects_before = store_counts(cloud, people)
    # What there is to forget, in every kind of store: else the test would prove nothing.
    for table in ("searches", "identity_links", "user_daily", "user_profiles"):
        assert tables_before[table][0] > 0, table
    assert all(mine > 0 for mine, _ in objects_before.values()), objects_before
    assert len(redis_keys_of(store, people.forgotten, people.device)) == 4
    kept_keys = redis_keys_of(store, people.kept, people.kept_device)

    status, printed = run_forget(cloud, "--user", people.forgotten)

    assert status == 0, printed
    tables_after = bigquery_counts(cloud, people)
    objects_after = store_counts(cloud, people)
    assert {t: mine for t, (mine, _) in tables_after.items() if mine} == {}
    assert {t: others for t, (_, others) in tables_after.items()} == {
        t: others for t, (_, others) in tables_before.items()
    }
    assert objects_after == {s: (0, others) for s, (_, others) in objects_before.items()}
    assert redis_keys_of(store, people.forgotten, people.device) == []
    assert redis_keys_of(store, people.kept, people.kept_device) == kept_keys
    # The receipt: complete, and the counts it gives are the ones found before.
    assert printed.splitlines()[0].split(": ")[1].startswith("complete"), printed
    bigquery_line = next(line for line in printed.splitlines() if "bigquery" in line)
    removed = sum(mine for mine, _ in tables_before.values())
    assert f"matched {removed:>7}  removed {removed}" in bigquery_line, printed
    assert subject_digest(people.forgotten)[:12] in printed
    assert people.forgotten not in printed


def test_a_suppressed_user_is_accepted_and_dropped_until_the_suppression_is_lifted(
    cloud: LocalCloud, functions: tuple[Service, Service], people: People, captured: dt.date
) -> None:
    capture, collector = functions
    status, printed = run_forget(cloud, "--user", people.kept, "--suppress")
    assert status == 0, printed
    assert "suppressed" in printed
    listed = json.loads(
        cloud.bucket(cloud.settings.control_bucket).blob(SUPPRESSION_OBJECT).download_as_bytes()
    )
    assert subject_digest(people.kept) in listed["suppressed"]
    assert people.kept not in json.dumps(listed)

    # Suppressed: both functions accept and drop, and the answer says so.
    later = journey(people.kept, people.kept_device)[3:6]
    answer = capture_polling(capture, later, lambda doc: doc.get("suppressed") == len(later))
    assert answer["accepted"] == len(later)
    dropped_calls, said = collector_answer(
        collector, [search_call(people.kept, people.kept_device)]
    )
    assert (said["accepted"], said["suppressed"]) == (1, 1)
    dropped = [e["event_id"] for e in later] + dropped_calls
    assert stored_anywhere(cloud, dropped) == []

    # Lifted: stored again.
    status, printed = run_forget(cloud, "--user", people.kept, "--lift-suppression")
    assert status == 0, printed
    again = journey(people.kept, people.kept_device)[3:4]
    answer = capture_polling(capture, again, lambda doc: "suppressed" not in doc)
    assert answer["accepted"] == 1
    assert stored_anywhere(cloud, [again[0]["event_id"]]) != []


def capture_polling(capture: Service, events: list[dict[str, Any]], settled: Any) -> dict[str, Any]:
    """Send fresh copies of ``events`` until the function's answer shows it read the new list
    (within its TTL: a few requests at most)."""
    for _ in range(50):
        fresh = [{**event, "event_id": str(uuid.uuid4())} for event in events]
        document = capture_events(capture, fresh)
        if settled(document):
            events[:] = fresh
            return document
    raise AssertionError("the capture function never read the suppression list")


def stored_anywhere(cloud: LocalCloud, event_ids: list[str]) -> list[str]:
    """Where any of these events is: a table, the archive, the dead letters."""
    found = [
        f"{table}:{row['event_id']}" for table in TABLES for row in cloud.rows(table, event_ids)
    ]
    wanted = set(event_ids)
    for prefix in ("archive/", "dead-letter/"):
        found += [
            f"{prefix}{row['event_id']}"
            for row in object_lines(cloud, prefix)
            if row.get("event_id") in wanted
        ]
    return found


def test_the_scheduled_function_takes_an_apps_request_suppresses_at_once_and_erases_when_due(
    cloud: LocalCloud, functions: tuple[Service, Service], people: People, captured: dt.date
) -> None:
    """The deployed path: the app files the request (create-only), the hourly run suppresses
    at once and queues the erasure; with the batch over (here 0 hours), the next run erases."""
    from localcloud.run import push_forget_run

    user = f"u_app_{uuid.uuid4().hex[:8]}"
    capture, _ = functions
    capture_events(capture, journey(user, f"d_{user}")[3:6])
    requests_bucket = cloud.bucket(cloud.settings.forget_bucket)
    request_id = uuid.uuid4().hex
    requests_bucket.blob(f"requests/{request_id}.json").upload_from_string(
        json.dumps({"user_id": user, "suppress": True}), if_generation_match=0
    )
    quick = {"CAPTURE_MODE_TTL_SECONDS": TTL, "REQUEST_DEADLINE_SECONDS": "1"}
    queued_run = cloud.start_forget(env=quick)
    push_forget_run(queued_run.url)
    queued_run.stop()

    queued = forget.latest_receipt(requests_bucket, request_id)
    assert queued is not None and queued["status"] == "queued", queued
    listed = cloud.bucket(cloud.settings.control_bucket).blob(SUPPRESSION_OBJECT)
    assert subject_digest(user) in json.loads(listed.download_as_bytes())["suppressed"]
    assert sum(mine for mine, _ in bigquery_counts(cloud, People(user, "", "", "")).values()) == 3

    due_run = cloud.start_forget(env={**quick, "FORGET_BATCH_HOURS": "0"})
    push_forget_run(due_run.url)
    due_run.stop()

    done = forget.latest_receipt(requests_bucket, request_id)
    assert done is not None and done["status"] == "complete", done
    assert not requests_bucket.blob(f"requests/{request_id}.json").exists()
    left = bigquery_counts(cloud, People(user, "", "", ""))
    assert {table: mine for table, (mine, _) in left.items() if mine} == {}
