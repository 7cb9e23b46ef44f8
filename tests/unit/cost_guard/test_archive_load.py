"""The archive loader's rules on fakes: only missing rows, one job id per set of rows, a job of
that id that failed tried again under a new one, never a table created. The same load on the
real emulators is tests/integration/test_cost_guard.py."""

import datetime as dt
import json

import pytest
from google.cloud import bigquery

from event_capture.cost_guard.archive_load import LOAD_ATTEMPTS, ArchiveLoader, LoadError
from tests.fakes.bigquery import Answer, FakeBigQuery
from tests.fakes.storage import FakeBucket

START = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
END = START + dt.timedelta(hours=2)


def line(event_id: str, minutes: int, event_type: str = "search") -> str:
    received = (START + dt.timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    return json.dumps({"event_id": event_id, "event_type": event_type, "received_at": received})


def holding(*event_ids: str) -> Answer:
    """What the loader's query finds already loaded: these events, in whichever table."""
    return lambda sql, parameters: [{"event_id": event_id} for event_id in sorted(event_ids)]


def loader(client: FakeBigQuery, *lines: str) -> ArchiveLoader:
    bucket = FakeBucket()
    bucket.upload("archive/dt=2026-11-20/hour=09/x.ndjson", "\n".join(lines) + "\n", {})
    return ArchiveLoader(
        bucket=lambda: bucket, bigquery=lambda: client, dataset="p.events", location="europe-west1"
    )


def test_only_rows_the_table_lacks_are_loaded_appending_to_a_table_never_created() -> None:
    client = FakeBigQuery(answer=holding("a"))

    report = loader(client, line("a", 1), line("b", 2), line("b", 3)).load(START, END)

    [load] = client.loads
    assert (load["ref"], load["ids"], load["location"]) == (
        "p.events.searches",
        ["b"],
        "europe-west1",
    )
    config: bigquery.LoadJobConfig = load["config"]
    assert config.create_disposition == bigquery.CreateDisposition.CREATE_NEVER
    assert config.write_disposition == bigquery.WriteDisposition.WRITE_APPEND
    counts = report.tables["searches"]
    assert (counts.found, counts.present, counts.loaded) == (2, 1, 1)


def test_the_same_rows_again_are_the_same_job_which_is_not_run_twice() -> None:
    client = FakeBigQuery()
    first = loader(client, line("b", 2)).load(START, END)
    again = loader(client, line("b", 2)).load(START, END)

    assert len(client.loads) == 1
    assert first.tables["searches"].jobs == again.tables["searches"].jobs
    assert client.lookups == [(first.tables["searches"].jobs[0], "europe-west1")]


def test_a_job_that_failed_is_tried_again_under_a_new_id() -> None:
    client = FakeBigQuery(failures=[RuntimeError("backendError")])

    report = loader(client, line("b", 2)).load(START, END)

    ids = [load["job_id"] for load in client.loads]
    assert ids == [ids[0], f"{ids[0]}-retry1"]
    assert report.tables["searches"].loaded == 1
    assert report.tables["searches"].jobs == [f"{ids[0]}-retry1"]


def test_a_repeated_message_after_a_failed_job_finds_it_and_retries() -> None:
    client = FakeBigQuery(failures=[RuntimeError("backendError")] * LOAD_ATTEMPTS)
    with pytest.raises(LoadError):
        loader(client, line("b", 2)).load(START, END)
    assert len(client.loads) == LOAD_ATTEMPTS

    # Delivered again: the failed jobs are found by id, and new ids are tried after them.
    report = loader(client, line("b", 2)).load(START, END)

    first_run = [load["job_id"] for load in client.loads[:LOAD_ATTEMPTS]]
    assert [job_id for job_id, _ in client.lookups] == first_run
    assert report.tables["searches"].jobs == [f"{first_run[0]}-retry{LOAD_ATTEMPTS}"]
    assert report.tables["searches"].loaded == 1


def test_a_row_refused_every_time_stops_the_load_naming_the_table() -> None:
    client = FakeBigQuery(failures=[ValueError("row 1: no such field: x")] * LOAD_ATTEMPTS)

    with pytest.raises(LoadError, match=r"loading 1 rows into p\.events\.searches: row 1"):
        loader(client, line("b", 2)).load(START, END)


def test_events_received_outside_the_window_are_left_alone() -> None:
    client = FakeBigQuery()

    report = loader(client, line("early", -5), line("in", 30), line("late", 200)).load(START, END)

    assert [load["ids"] for load in client.loads] == [["in"]]
    assert report.tables["searches"].found == 1
