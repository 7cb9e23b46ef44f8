"""Backfilling the archive from BigQuery (``event_capture.archive_backfill`` and the operator's
command over it), on a fake bucket and a fake BigQuery client.

The fake client returns each table's ids, or its rows typed the way google-cloud-bigquery
returns them (every column, timestamps as datetimes, NUMERIC as Decimal without trailing zeros),
filtered by the query's received_at and ids parameters as its WHERE clause says; it keeps every
copy of an event (the backfill keeps the latest one itself as well as in SQL). The SQL itself,
the de-duplication and the range's ends run on the BigQuery emulator in tests/integration.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from event_capture.archive_backfill.backfill import TableReport, backfill
from event_capture.ingest.retry import Timing
from event_capture.ingest.row import Request, Row
from event_capture.ingest.sinks.gcs_archive import GcsArchiveSink
from event_capture.ingest.sinks.gcs_objects import NdjsonWriter
from event_capture.ingest.validation import validate_events
from event_capture.schemas.envelope import EventEnvelope
from event_capture.tables.definitions import load_table_definitions
from tests.fakes.bigquery import FakeBigQuery
from tests.fakes.storage import FakeBucket, FakeStorageClient, StoredObject
from tests.unit import event_factory as factory
from tools.backfill_archive import main

R = factory.RECEIVED_AT  # 2026-11-28T16:37:33.12Z
START = datetime(2026, 11, 28, tzinfo=UTC)
END = datetime(2026, 11, 29, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ARGS = ["--from", "2026-11-28T00:00Z", "--to", "2026-11-29T00:00Z"]
DEFINITIONS = {d["table_id"]: d for d in load_table_definitions()}
TABLE_REFS = {table: f"proj.events.{table}" for table in DEFINITIONS}
BACKFILL_NAME = re.compile(
    r"archive/dt=(\d{4}-\d\d-\d\d)/hour=(\d\d)/(\d{8}T\d\d)0000"
    r"-backfill-20261128T000000Z-20261129T000000Z-[0-9a-f]{16}\.ndjson"
)


# --- what BigQuery holds and returns ---------------------------------------------------------


def _numeric(text: str) -> Decimal:
    # BigQuery keeps the number, not its scale: "1.50" comes back as 1.5.
    return Decimal(text.rstrip("0").rstrip(".") if "." in text else text)


def _value(value: Any, column: dict[str, Any]) -> Any:
    kind = column["type"]
    if kind == "TIMESTAMP":
        return datetime.fromisoformat(value).astimezone(UTC)
    if kind == "NUMERIC":
        return _numeric(str(value))
    if kind == "FLOAT":
        return float(value)
    if kind == "RECORD":
        return _record(value, column["fields"])
    return value


def _record(data: dict[str, Any], columns: list[dict[str, Any]]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for column in columns:
        value = data.get(column["name"])
        if column["mode"] == "REPEATED":
            record[column["name"]] = [_value(item, column) for item in value or []]
        else:
            record[column["name"]] = None if value is None else _value(value, column)
    return record


def as_stored(row: Row) -> dict[str, Any]:
    """The row as a query returns it: every column of the table, in schema order, typed."""
    return _record(row.data, DEFINITIONS[row.table]["schema"]["fields"])


def table_in(sql: str) -> str:
    """The table a backfill query reads: the last part of its backticked name."""
    return sql.split("`")[1].rsplit(".", 1)[1]


@dataclass
class StoredRows(FakeBigQuery):
    """The fake client holding each table's rows as a query returns them (``as_stored``), and
    answering the backfill's query as its WHERE clause says."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def store(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self.tables.setdefault(row.table, []).append(as_stored(row))

    def rows(self, sql: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        assert "WHERE received_at >= @start AND received_at < @end" in sql
        held = self.tables.get(table_in(sql), [])
        found = [r for r in held if parameters["start"] <= r["received_at"] < parameters["end"]]
        if sql.startswith("SELECT DISTINCT event_id "):
            return [{"event_id": event_id} for event_id in {r["event_id"] for r in found}]
        assert "AND event_id IN UNNEST(@ids)" in sql
        assert "PARTITION BY event_id ORDER BY received_at DESC" in sql
        return [r for r in found if r["event_id"] in parameters["ids"]]


# --- the function's side ---------------------------------------------------------------------


def writer(bucket: FakeBucket) -> NdjsonWriter:
    return NdjsonWriter(
        lambda: FakeStorageClient(bucket),
        bucket="archive-bucket",
        deadline_seconds=5.0,
        timing=Timing(lambda: 0.0, lambda seconds: None, lambda: 0.0),
    )


def accepted(events: list[dict[str, Any]], received_at: datetime = R) -> list[Row]:
    rows, rejections = validate_events(events, received_at)
    assert rejections == []
    return rows


def archive(bucket: FakeBucket, rows: Sequence[Row], request_id: str, at: datetime) -> None:
    """What the function's archive sink writes for a request received ``at``."""
    result = GcsArchiveSink(writer(bucket)).write(rows, Request(request_id, at))
    assert not result.failed


def lines(bucket: FakeBucket, names: Iterable[str] | None = None) -> list[str]:
    chosen = bucket.objects if names is None else names
    return [line for name in chosen for line in bucket.objects[name].data.splitlines()]


def archived_counts(bucket: FakeBucket) -> Counter[str]:
    return Counter(json.loads(line)["event_id"] for line in lines(bucket))


def run(
    bucket: FakeBucket,
    bigquery: StoredRows,
    *,
    start: datetime = START,
    end: datetime = END,
    dry_run: bool = False,
    progress: io.StringIO | None = None,
) -> dict[str, TableReport]:
    reports = backfill(
        writer(bucket),
        bigquery,
        table_refs=TABLE_REFS,
        start=start,
        end=end,
        dry_run=dry_run,
        out=io.StringIO(),
        progress=progress or io.StringIO(),
    )
    return {report.table: report for report in reports}


def written(reports: dict[str, TableReport]) -> list[str]:
    return [name for report in reports.values() for name in report.objects]


# --- what is written -------------------------------------------------------------------------


def test_only_the_events_missing_from_the_archive_are_written() -> None:
    bucket, bigquery = FakeBucket(), StoredRows()
    archived = accepted(factory.one_of_each(R))
    archive(bucket, archived, "req-up", R)
    later = R + timedelta(minutes=10)
    not_archived = accepted(factory.one_of_each(later), later)  # GCS was down
    bigquery.store(archived + not_archived)
    before = {name: stored.data for name, stored in bucket.objects.items()}

    reports = run(bucket, bigquery)

    backfilled = {json.loads(line)["event_id"] for line in lines(bucket, written(reports))}
    assert backfilled == {row.event_id for row in not_archived}
    assert archived_counts(bucket) == Counter(r.event_id for r in archived + not_archived)
    # The function's own objects are untouched.
    assert {name: bucket.objects[name].data for name in before} == before
    per_table = Counter(row.table for row in not_archived)
    for table, report in reports.items():
        assert report.in_bigquery == 2 * per_table[table]
        assert report.in_archive == report.written == per_table[table]
        assert report.not_rebuilt == 0


def test_events_archived_in_the_earlier_folder_per_table_layout_count_as_archived() -> None:
    bucket, bigquery = FakeBucket(), StoredRows()
    rows = accepted([factory.search(R), factory.order(R)])
    [search] = [row for row in rows if row.table == "searches"]
    # Written by a version that kept a folder per table.
    legacy = "archive/searches/dt=2026-11-28/hour=16/20261128T163733-old.ndjson"
    bucket.objects[legacy] = StoredObject(legacy, search.json + "\n", 1)
    bigquery.store(rows)

    reports = run(bucket, bigquery)

    assert [json.loads(line)["event_type"] for line in lines(bucket, written(reports))] == [
        "order_placed"
    ]
    assert reports["searches"].in_archive == 1


def test_the_lines_are_byte_for_byte_those_the_function_writes() -> None:
    events = [
        *factory.one_of_each(R),
        # Optional fields absent, a whole number where a float goes, an offset of +00:00.
        factory.product_interaction(R, "product_view", position=None, search_event_id=None),
        factory.search(R, intent_confidence=1, occurred_at="2026-11-28T16:37:30+00:00"),
        factory.voice(R, transcript="mail me at jane.doe@example.com"),
    ]
    events[-3] = {k: v for k, v in events[-3].items() if v is not None}
    rows = accepted(events)
    function_archive, bucket, bigquery = FakeBucket(), FakeBucket(), StoredRows()
    archive(function_archive, rows, "req1", R)  # what it would have written, elsewhere
    bigquery.store(rows)

    reports = run(bucket, bigquery)

    assert sorted(lines(bucket)) == sorted(lines(function_archive))
    assert sorted(lines(bucket)) == sorted(row.json for row in rows)
    assert sum(report.written for report in reports.values()) == len(rows)


def test_what_bigquery_does_not_keep_comes_back_as_the_same_value() -> None:
    # Trailing zeros of money, a non-UTC offset and the position of a schema_version the client
    # sent are not stored; the line then differs in form only.
    event = factory.order(
        R,
        total="6.50",
        items=[factory.line_item(unit_price="3.25"), factory.line_item(unit_price="0.000")],
        occurred_at="2026-11-28T17:37:31.5+01:00",
        schema_version="1-0-0",
    )
    [row] = accepted([event])
    bucket, bigquery = FakeBucket(), StoredRows()
    bigquery.store([row])

    run(bucket, bigquery)

    [line] = lines(bucket)
    original, rebuilt = json.loads(row.json), json.loads(line)
    assert (original["total"], rebuilt["total"]) == ("6.50", "6.5")
    assert [i["unit_price"] for i in rebuilt["items"]] == ["3.25", "0"]
    assert rebuilt["occurred_at"] == "2026-11-28T16:37:31.500000Z"
    assert list(rebuilt) == [k for k in original if k != "schema_version"] + ["schema_version"]

    def value(data: dict[str, Any]) -> dict[str, Any]:
        return {
            **data,
            "total": Decimal(data["total"]),
            "items": [{**i, "unit_price": Decimal(i["unit_price"])} for i in data["items"]],
            "occurred_at": datetime.fromisoformat(data["occurred_at"]),
        }

    assert value(rebuilt) == value(original)


def test_a_stored_schema_version_is_kept() -> None:
    [row] = accepted([factory.search(R)])
    bucket, bigquery = FakeBucket(), StoredRows()
    bigquery.store([row])
    bigquery.tables["searches"][0]["schema_version"] = EventEnvelope.SCHEMA_VERSION
    run(bucket, bigquery)
    assert lines(bucket) == [row.json]

    # Captured before a minor version bump: the line says the version it was captured under.
    bucket = FakeBucket()
    bigquery.tables["searches"][0]["schema_version"] = "0-9-0"
    run(bucket, bigquery)
    assert lines(bucket) == [
        row.json.replace(
            f'"schema_version":"{EventEnvelope.SCHEMA_VERSION}"', '"schema_version":"0-9-0"'
        )
    ]


def test_one_object_per_table_and_hour_named_apart_from_the_functions() -> None:
    bucket, bigquery = FakeBucket(), StoredRows()
    at_16 = accepted([factory.search(R), factory.search(R)], R)
    at_16b = accepted([factory.search(R)], R + timedelta(minutes=20))  # 16:57
    at_17 = accepted([factory.search(R), factory.order(R)], R + timedelta(hours=1))
    bigquery.store(at_16 + at_16b + at_17)

    reports = run(bucket, bigquery)

    names = written(reports)
    assert [BACKFILL_NAME.fullmatch(name) is not None for name in names] == [True] * 3
    assert sorted(names) == sorted(bucket.objects)
    folders = sorted(name.rsplit("/", 1)[0] for name in names)
    assert folders == [
        "archive/dt=2026-11-28/hour=16",
        "archive/dt=2026-11-28/hour=17",
        "archive/dt=2026-11-28/hour=17",
    ]
    # Each object holds one table's events.
    tables = {
        name: {json.loads(line)["event_type"] for line in lines(bucket, [name])} for name in names
    }
    assert sorted(map(sorted, tables.values())) == [["order_placed"], ["search"], ["search"]]
    [hour_16] = [name for name in names if "dt=2026-11-28/hour=16" in name]
    # The hour's events together, in received order (then by event_id: BigQuery does not
    # keep the order within a request).
    expected = sorted(at_16, key=lambda row: row.event_id) + at_16b
    assert lines(bucket, [hour_16]) == [row.json for row in expected]


def test_a_busy_hour_is_split_into_objects_of_bounded_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("event_capture.archive_backfill.backfill.MAX_EVENTS_PER_OBJECT", 2)
    bucket, bigquery = FakeBucket(), StoredRows()
    rows = accepted([factory.search(R) for _ in range(5)])
    bigquery.store(rows)

    reports = run(bucket, bigquery)

    assert [len(bucket.objects[name].data.splitlines()) for name in written(reports)] == [2, 2, 1]
    assert archived_counts(bucket) == Counter(row.event_id for row in rows)
    assert run(bucket, bigquery)["searches"].written == 0


# --- idempotence -----------------------------------------------------------------------------


def test_a_second_run_writes_nothing() -> None:
    bucket, bigquery = FakeBucket(), StoredRows()
    rows = accepted(factory.one_of_each(R))
    bigquery.store(rows)
    run(bucket, bigquery)
    journal = list(bucket.journal)

    again = run(bucket, bigquery)

    assert bucket.journal == journal
    assert all(report.written == 0 and not report.objects for report in again.values())
    assert sum(report.in_archive for report in again.values()) == len(rows)
    assert archived_counts(bucket) == Counter(row.event_id for row in rows)


def test_two_runs_at_once_write_each_event_once() -> None:
    # Run B lists the archive of the first table, then run A does everything, then B writes
    # the very object A wrote: same events, same name, found written, nothing doubled.
    bucket, bigquery = FakeBucket(), StoredRows()
    rows = accepted(factory.one_of_each(R))
    bigquery.store(rows)
    other = StoredRows()
    other.tables = bigquery.tables

    def run_a() -> None:
        run(bucket, other)

    bigquery.before_query = run_a

    reports = run(bucket, bigquery)

    assert archived_counts(bucket) == Counter(row.event_id for row in rows)
    first_table = next(iter(TABLE_REFS))
    assert reports[first_table].written == len([r for r in rows if r.table == first_table])


def test_a_dry_run_writes_nothing() -> None:
    bucket, bigquery = FakeBucket(), StoredRows()
    rows = accepted(factory.one_of_each(R))
    bigquery.store(rows)
    progress = io.StringIO()

    reports = run(bucket, bigquery, dry_run=True, progress=progress)

    assert bucket.objects == {} and bucket.journal == []
    assert sum(report.missing for report in reports.values()) == len(rows)
    assert all(report.written == 0 for report in reports.values())
    assert progress.getvalue().count("would write archive/") == len(DEFINITIONS)


# --- which events ----------------------------------------------------------------------------


def test_the_range_includes_from_and_excludes_to() -> None:
    bucket, bigquery = FakeBucket(), StoredRows()
    tick = timedelta(microseconds=1)
    stamps = {"at_from": START, "before_to": END - tick, "at_to": END, "before_from": START - tick}
    ids = {}
    for label, moment in stamps.items():
        [row] = accepted([factory.search(moment)], moment)
        bigquery.store([row])
        ids[label] = row.event_id

    reports = run(bucket, bigquery)

    assert set(archived_counts(bucket)) == {ids["at_from"], ids["before_to"]}
    assert reports["searches"].in_bigquery == 2
    assert {
        (table_in(sql), params["start"], params["end"]) for sql, params in bigquery.queries
    } == {(table, START, END) for table in DEFINITIONS}


def test_an_archived_copy_in_the_next_hour_is_found() -> None:
    # Stored at 15:59:59 in BigQuery; the archived copy is the client's resend at 16:00:05.
    bucket, bigquery = FakeBucket(), StoredRows()
    event = factory.search(R)
    first, resent = datetime(2026, 11, 28, 15, 59, 59, tzinfo=UTC), R.replace(hour=16, minute=0)
    bigquery.store(accepted([event], first))
    archive(bucket, accepted([event], resent), "resend", resent)

    reports = run(bucket, bigquery, start=START.replace(hour=15), end=START.replace(hour=16))

    assert reports["searches"].in_archive == 1 and reports["searches"].written == 0


def test_several_copies_in_bigquery_are_archived_once_as_the_latest() -> None:
    bucket, bigquery = FakeBucket(), StoredRows()
    event = factory.search(R)
    later = R + timedelta(hours=2)
    bigquery.store(accepted([event], R) + accepted([event], later))

    reports = run(bucket, bigquery)

    [line] = lines(bucket)
    assert json.loads(line)["received_at"] == "2026-11-28T18:37:33.120000Z"
    assert reports["searches"].in_bigquery == 1
    assert "/hour=18/" in reports["searches"].objects[0]


def test_a_row_validation_refuses_now_is_reported_and_not_written() -> None:
    bucket, bigquery = FakeBucket(), StoredRows()
    good, bad = accepted([factory.search(R), factory.search(R)])
    bigquery.store([good, bad])
    bigquery.tables["searches"][1]["user_id"] = "not an id"
    progress = io.StringIO()

    reports = run(bucket, bigquery, progress=progress)

    assert lines(bucket) == [good.json]
    assert reports["searches"].not_rebuilt == 1
    assert f"searches {bad.event_id}: refused by validation now (user_id" in progress.getvalue()


# --- the command -----------------------------------------------------------------------------


def command(
    argv: list[str],
    bucket: FakeBucket,
    bigquery: StoredRows,
    config: Any = None,
) -> tuple[int, str, str]:
    from event_capture.ingest.config import load_config

    out, err = io.StringIO(), io.StringIO()
    status = main(
        argv,
        config or load_config({"GCP_PROJECT": "proj", "GCS_BUCKET": "archive-bucket"}),
        now=lambda: NOW,
        bigquery_client=bigquery,
        writer=writer(bucket),
        out=out,
        progress=err,
    )
    return status, out.getvalue(), err.getvalue()


def test_the_command_prints_each_tables_counts() -> None:
    bucket, bigquery = FakeBucket(), StoredRows()
    rows = accepted([factory.search(R), factory.search(R), factory.order(R)])
    archive(bucket, rows[:1], "req", R)
    bigquery.store(rows)

    dry = command([*ARGS, "--dry-run"], bucket, bigquery)
    status, out, err = command(ARGS, bucket, bigquery)

    assert dry[0] == 0
    assert (
        "searches: 2 in BigQuery, 1 in the archive, 1 missing, nothing written (dry run)"
        in (dry[1])
    )
    assert status == 0
    assert out.splitlines() == [
        "identity_links: 0 in BigQuery, 0 in the archive, 0 written in 0 objects",
        "orders: 1 in BigQuery, 0 in the archive, 1 written in 1 objects",
        "product_interactions: 0 in BigQuery, 0 in the archive, 0 written in 0 objects",
        "searches: 2 in BigQuery, 1 in the archive, 1 written in 1 objects",
        "sessions: 0 in BigQuery, 0 in the archive, 0 written in 0 objects",
        "voice_interactions: 0 in BigQuery, 0 in the archive, 0 written in 0 objects",
    ]
    assert err.count("wrote archive/") == 2
    assert command(ARGS, bucket, bigquery)[0] == 0


def test_a_row_that_cannot_be_rebuilt_makes_the_command_exit_1() -> None:
    bucket, bigquery = FakeBucket(), StoredRows()
    bigquery.store(accepted([factory.search(R)]))
    bigquery.tables["searches"][0]["event_type"] = "no_such_type"
    status, out, _ = command(ARGS, bucket, bigquery)
    assert status == 1
    assert "1 could not be rebuilt" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "2026-11-28T00:00Z"], "the following arguments are required: --to"),
        (["--from", "2026-11-28T00:00", "--to", "2026-11-29T00:00Z"], "--from: needs a UTC"),
        (["--from", "yesterday", "--to", "2026-11-29T00:00Z"], "--from: not an ISO 8601 time"),
        (["--from", "2026-11-29", "--to", "2026-11-28T00:00Z"], "--from must be before --to"),
        (["--from", "2026-12-01T00:00Z", "--to", "2026-12-01T08:56Z"], "--to: must be at least"),
    ],
)
def test_usage_errors_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        status, _, err = command(argv, FakeBucket(), StoredRows())
    except SystemExit as exit_:  # argparse's own errors
        status, err = int(str(exit_.code)), capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("backfill_archive: ")
    assert message in err


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"GCS_BUCKET": "b"}, "GCP_PROJECT: required"),
        ({"GCP_PROJECT": "p", "GCS_ENABLED": "false"}, "GCS_BUCKET: required"),
        ({"GCP_PROJECT": "p", "GCS_BUCKET": "b", "GCS_DEADLINE_SECONDS": "x"}, "GCS_DEADLINE"),
    ],
)
def test_configuration_errors_name_the_variable(
    env: dict[str, str],
    variable: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("GCP_PROJECT", "GOOGLE_CLOUD_PROJECT", "GCS_BUCKET", "GCS_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    status = main(ARGS, now=lambda: NOW)

    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith(f"backfill_archive: {variable}")


def test_a_failing_backend_is_one_line_and_exit_1() -> None:
    from google.api_core import exceptions as gexc

    bigquery = StoredRows()
    bigquery.error = gexc.Forbidden("Access Denied: Table proj:events.searches")  # type: ignore[no-untyped-call]

    status, _, err = command(ARGS, FakeBucket(), bigquery)

    assert status == 1
    assert err.splitlines() == [
        "backfill_archive: querying proj.events.identity_links: "
        "Forbidden: 403 Access Denied: Table proj:events.searches"
    ]


def test_a_range_the_archive_holds_completely_reads_ids_only() -> None:
    bucket, bigquery = FakeBucket(), StoredRows()
    rows = accepted(factory.one_of_each(R))
    archive(bucket, rows, "req", R)
    bigquery.store(rows)

    reports = run(bucket, bigquery)

    assert sum(report.written for report in reports.values()) == 0
    assert {sql.split(" FROM")[0] for sql, _ in bigquery.queries} == {"SELECT DISTINCT event_id"}


def test_only_the_missing_ids_rows_are_read() -> None:
    # The negative control of the test above: an id the archive lacks is read in full, alone.
    bucket, bigquery = FakeBucket(), StoredRows()
    rows = accepted([factory.search(R), factory.search(R)])
    archive(bucket, rows[:1], "req", R)
    bigquery.store(rows)

    run(bucket, bigquery)

    [full] = [params for sql, params in bigquery.queries if sql.startswith("SELECT *")]
    assert full["ids"] == [rows[1].event_id]
