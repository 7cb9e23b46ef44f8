"""Backfill one time range: write to the archive the events BigQuery holds and it lacks.

This reads the event ids of the archive objects of the hours in the range (and one hour either
side, where the archived copy of a resent event may sit), then, per event table, only the
``event_id`` and ``received_at`` of the rows received in ``[start, end)``: in a normal hour the
archive holds every one of them and nothing more is read. Full rows are queried only for the ids
the archive lacks (the latest copy of each), and written: one object per table and hour (split
past 5,000 events), named
``archive/dt=.../hour=HH/<YYYYmmddTHH0000>-backfill-<from>-<to>-<digest>.ndjson``.

Each line is rebuilt the way the function builds it: the stored row goes through
``validate_events`` again, with its own ``received_at``, so key order, timestamp and number
formats are the function's. What BigQuery does not keep cannot come back: money loses trailing
zeros (``"1.50"`` is stored as 1.5), timestamps sent with a non-UTC offset come back in UTC,
and a ``schema_version`` the client sent moves to the end of the line. The values are the same.

The archive must hold each event once (batch loads of it do not de-duplicate), so only missing
events are written, and a name follows from the events it holds (create-only, a repeated write
of the same name is the same content): running the same range again writes nothing. A range
must have ended at least ``archive_layout.BACKFILL_SETTLE_SECONDS`` ago: until then an instance
may still write its buffered lines of it (the rule is in ``contracts/archive_layout.py``).
"""

import dataclasses
import hashlib
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from event_capture.contracts import provenance
from event_capture.contracts.archive_layout import (
    ARCHIVE_AREA,
    BACKFILL_SETTLE_SECONDS,
    object_name,
)
from event_capture.ingest.retry import describe
from event_capture.ingest.row import Row
from event_capture.ingest.sinks.gcs_objects import NdjsonWriter
from event_capture.ingest.validation import validate_events
from event_capture.platform.api_calls import ARCHIVE_BUCKET, EVENT_TABLES, ApiCall, query_job
from event_capture.platform.bigquery_surface import BigQueryQueries
from event_capture.platform.query import STRING_ARRAY, TIMESTAMP, Query
from event_capture.platform.storage_surface import StorageBlob, StorageBucket
from event_capture.tables.bigquery_schema import PARTITION_COLUMN

# A range ending later than this ago could still gain archived events after the backfill has
# looked (contracts/archive_layout.py).
SETTLE = timedelta(seconds=BACKFILL_SETTLE_SECONDS)
# A resent event (after a 503) may be archived in the hour after (or before) the one its
# BigQuery copy was received in; those hours are read too, so it is not archived twice.
MARGIN = timedelta(hours=1)
HOUR = timedelta(hours=1)
DOWNLOAD_THREADS = 8
# A long outage's hour is split so each object stays a few MB, well inside the write deadline.
MAX_EVENTS_PER_OBJECT = 5_000


# The ids of a table's rows received in [start, end): two narrow columns, what a run reads in a
# normal hour. The partition filter is required by the tables.
def stored_ids_query(table_ref: str) -> Query:
    return Query(
        f"SELECT DISTINCT event_id FROM `{table_ref}` "  # noqa: S608 - ours, never input
        "WHERE received_at >= @start AND received_at < @end",
        {"start": TIMESTAMP, "end": TIMESTAMP},
    )


# The rows of these ids received in [start, end), one per event_id: the copy received last, as
# the _dedup views choose it.
def stored_rows_query(table_ref: str) -> Query:
    return Query(
        f"SELECT * FROM `{table_ref}` "  # noqa: S608 - ours, never input
        "WHERE received_at >= @start AND received_at < @end AND event_id IN UNNEST(@ids) "
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY received_at DESC) = 1",
        {"start": TIMESTAMP, "end": TIMESTAMP, "ids": STRING_ARRAY},
    )


API_CALLS = (
    *query_job(reads=EVENT_TABLES),
    ApiCall("storage.objects.list", ARCHIVE_BUCKET),
    ApiCall("storage.objects.get", ARCHIVE_BUCKET),
    ApiCall("storage.objects.insert", ARCHIVE_BUCKET),
)


class BackfillError(Exception):
    """A problem the operator must fix; the message is the one line printed."""


@dataclass(slots=True)
class TableReport:
    table: str
    in_bigquery: int = 0
    in_archive: int = 0
    missing: int = 0
    written: int = 0
    objects: list[str] = field(default_factory=list)
    # Stored rows that validation refuses now (they were valid when captured): not written.
    not_rebuilt: int = 0

    def line(self, dry_run: bool) -> str:
        text = f"{self.table}: {self.in_bigquery} in BigQuery, {self.in_archive} in the archive"
        if dry_run:
            text += f", {self.missing} missing, nothing written (dry run)"
        else:
            text += f", {self.written} written in {len(self.objects)} objects"
        if self.not_rebuilt:
            text += f", {self.not_rebuilt} could not be rebuilt (listed above)"
        return text


@dataclass(frozen=True, slots=True)
class Backfilled:
    """One object to write: its name and the events' archive lines, in received order."""

    name: str
    lines: tuple[str, ...]


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _stamp(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def archived_ids(
    bucket: StorageBucket, tables: Iterable[str], start: datetime, end: datetime
) -> set[str]:
    """Event ids in the archive objects whose hour folder overlaps the window
    ``[start - MARGIN, end + MARGIN)``: the request objects (every family in one) and the
    objects of earlier versions' layout, a folder per table (``archive/<table>/dt=...``)."""
    first, last = _hour(start - MARGIN), end + MARGIN
    folders: set[str] = set()
    hour = first
    while hour < last:
        folders.add(f"dt={hour:%Y-%m-%d}/hour={hour:%H}")
        hour += HOUR
    days = sorted({folder.split("/")[0] for folder in folders})
    parents = [ARCHIVE_AREA, *(f"{ARCHIVE_AREA}/{table}" for table in tables)]
    chosen: list[StorageBlob] = []
    for prefix in (f"{parent}/{day}/" for parent in parents for day in days):
        try:
            blobs = list(bucket.list_blobs(prefix=prefix))
        except Exception as error:
            raise BackfillError(f"listing {prefix}: {describe(error)}") from error
        day = prefix.split("/")[-2]
        # <parent>/dt=.../hour=.../<name>.ndjson
        chosen += [b for b in blobs if f"{day}/{b.name[len(prefix) :].split('/')[0]}" in folders]
    ids: set[str] = set()
    with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
        for blob, text in zip(chosen, pool.map(_download, chosen), strict=True):
            ids.update(_event_ids(blob.name, text))
    return ids


def _download(blob: StorageBlob) -> str:
    try:
        return blob.download_as_text()
    except Exception as error:
        raise BackfillError(f"reading {blob.name}: {describe(error)}") from error


def _event_ids(name: str, text: str) -> Iterable[str]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event_id = json.loads(line)["event_id"]
        except (ValueError, TypeError, KeyError):
            raise BackfillError(f"{name}: line {number} is not an archived event") from None
        yield str(event_id)


def stored_ids(client: BigQueryQueries, table_ref: str, start: datetime, end: datetime) -> set[str]:
    """The event ids of the table's rows received in ``[start, end)``."""
    try:
        rows = stored_ids_query(table_ref).rows(client, start=start, end=end)
    except Exception as error:
        raise BackfillError(f"querying {table_ref}: {describe(error)}") from error
    return {str(row["event_id"]) for row in rows}


def stored_rows(
    client: BigQueryQueries, table_ref: str, start: datetime, end: datetime, ids: Iterable[str]
) -> list[dict[str, Any]]:
    """The table's rows of ``ids`` received in ``[start, end)``, typed as BigQuery returns
    them."""
    try:
        return stored_rows_query(table_ref).rows(client, start=start, end=end, ids=sorted(ids))
    except Exception as error:
        raise BackfillError(f"querying {table_ref}: {describe(error)}") from error


def latest_copies(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One row per event_id, the one received last; in received order."""
    latest: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        kept = latest.get(row["event_id"])
        if kept is None or row[PARTITION_COLUMN] > kept[PARTITION_COLUMN]:
            latest[row["event_id"]] = row
    return sorted(latest.values(), key=lambda row: (row[PARTITION_COLUMN], row["event_id"]))


def _without_nulls(value: Any) -> Any:
    # BigQuery returns every column; the function's line omits what the event did not have.
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def rebuild(
    stored: Sequence[Mapping[str, Any]],
) -> tuple[list[tuple[datetime, Row]], list[str]]:
    """The function's own Row (``Row.json`` is the archive line) for each stored row.

    Each row is validated again as the event it was, with the ``received_at`` it was received
    at; the server's columns are set by validation, so they are not part of the event. Returns
    the rows with their received_at, and one message per stored row validation now refuses.
    """
    events: dict[tuple[datetime, str | None], list[dict[str, Any]]] = {}
    versions: dict[str, Any] = {}
    for stored_row in stored:
        event = _without_nulls(stored_row)
        received_at = event.pop(PARTITION_COLUMN)
        arrived_via = event.pop(provenance.COLUMN, None)
        versions[event["event_id"]] = event.pop("schema_version", None)
        events.setdefault((received_at, arrived_via), []).append(event)
    rebuilt: list[tuple[datetime, Row]] = []
    problems: list[str] = []
    for (received_at, arrived_via), batch in events.items():
        rows, rejections = validate_events(batch, received_at, False, arrived_via)
        for row in rows:
            rebuilt.append((received_at, _with_version(row, versions[row.event_id])))
        problems += [
            f"{rejection.event_id}: refused by validation now ("
            + ", ".join(f"{error.field} {error.rule}" for error in rejection.errors)
            + ")"
            for rejection in rejections
        ]
    return rebuilt, problems


def _with_version(row: Row, stored: Any) -> Row:
    if not isinstance(stored, str) or stored == row.data["schema_version"]:
        return row
    # Captured under an earlier minor version: the line keeps the stored one, encoded as
    # validation encodes (the key stays where it was).
    data = {**row.data, "schema_version": stored}
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return dataclasses.replace(row, json=text)


def plan(
    table: str, rows: Sequence[tuple[datetime, Row]], start: datetime, end: datetime
) -> list[Backfilled]:
    """One object per hour of the rows' received_at (more past ``MAX_EVENTS_PER_OBJECT``),
    named by the range and its events."""
    hours: dict[datetime, list[tuple[datetime, Row]]] = {}
    for received_at, row in rows:
        hours.setdefault(_hour(received_at), []).append((received_at, row))
    objects = []
    for hour, members in sorted(hours.items()):
        members.sort(key=lambda member: (member[0], member[1].event_id))
        for first in range(0, len(members), MAX_EVENTS_PER_OBJECT):
            part = members[first : first + MAX_EVENTS_PER_OBJECT]
            ids = sorted(row.event_id for _, row in part)
            digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
            request_id = f"backfill-{_stamp(start)}-{_stamp(end)}-{digest}"
            name = object_name(ARCHIVE_AREA, hour, request_id)
            objects.append(Backfilled(name, tuple(row.json for _, row in part)))
    return objects


def backfill(
    writer: NdjsonWriter,
    client: BigQueryQueries,
    *,
    table_refs: Mapping[str, str],
    start: datetime,
    end: datetime,
    dry_run: bool = False,
    out: TextIO | None = None,
    progress: TextIO | None = None,
) -> list[TableReport]:
    """Backfill every table of ``table_refs`` (table id to ``project.dataset.table``)."""
    out, progress = out or sys.stdout, progress or sys.stderr
    reports = []
    archived = archived_ids(writer.bucket(), table_refs, start, end)
    for table, table_ref in table_refs.items():
        report = TableReport(table)
        ids = stored_ids(client, table_ref, start, end)
        absent = ids - archived
        report.in_bigquery = len(ids)
        report.in_archive = len(ids) - len(absent)
        report.missing = len(absent)
        missing = (
            latest_copies(stored_rows(client, table_ref, start, end, absent)) if absent else []
        )
        rows, problems = rebuild(missing)
        report.not_rebuilt = len(problems)
        for problem in problems:
            print(f"{table} {problem}: not written", file=progress, flush=True)
        for planned in plan(table, rows, start, end):
            if dry_run:
                print(f"would write {planned.name}: {len(planned.lines)} events", file=progress)
                continue
            try:
                # A name only ever holds these events, so finding it written (an earlier run
                # stopped before it listed) is done, not a clash.
                writer.create(planned.name, planned.lines, exists_ok=True)
            except Exception as error:
                raise BackfillError(f"writing {planned.name}: {describe(error)}") from error
            report.objects.append(planned.name)
            report.written += len(planned.lines)
            print(f"wrote {planned.name}: {len(planned.lines)} events", file=progress, flush=True)
        print(report.line(dry_run), file=out, flush=True)
        reports.append(report)
    return reports


def table_refs(project: str, dataset: str) -> dict[str, str]:
    """Every event table's id and full name, from the checked-in definitions."""
    from event_capture.tables.definitions import load_table_definitions

    return {
        definition["table_id"]: f"{project}.{dataset}.{definition['table_id']}"
        for definition in load_table_definitions()
    }
