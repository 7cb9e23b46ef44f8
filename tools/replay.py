"""Re-insert dead-lettered rows into BigQuery: ``make replay`` or ``python -m tools.replay``.

Each dead-letter object is replayed with the rows' original insertIds, then moved to
``dead-letter-replayed/``, so a second run finds nothing to do. Rows BigQuery refuses again as
invalid go to ``dead-letter-invalid/`` for a person to look at; rows that fail transiently
(BigQuery still down) stay in ``dead-letter/`` for the next run. A crash between the insert and
the move only means the next run inserts the same rows again with the same insertIds, which
BigQuery de-duplicates and the de-duplicated views hide.

Before inserting, replay asks BigQuery which of the object's events are already stored
(received from a day before the dead-lettered copy on) and inserts only the others. That is what
keeps a 503 from duplicating rows: a request that answered 503 may have dead-lettered some of its
tables; its caller resent it, the resend was stored, and the dead-lettered copy is then skipped
here, however long after BigQuery's own de-duplication window the replay runs.

Runs with the same configuration variables as the function, under an identity that may read
and delete objects in the bucket (the function's own account can only create them).
"""

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from event_capture.ingest import clients
from event_capture.ingest.config import Config, load_config
from event_capture.ingest.row import Request, Row
from event_capture.ingest.sinks import dead_letter
from event_capture.ingest.sinks.gcs_objects import PRECONDITION_FAILED, NdjsonWriter
from event_capture.ingest.sinks.result import FailedRow, FailureKind, Sink
from event_capture.ingest.wiring import bigquery_sink, dead_letter_writer
from event_capture.platform.api_calls import DEAD_LETTER_BUCKET, EVENT_TABLES, ApiCall, query_job
from event_capture.platform.query import STRING, STRING_ARRAY, Query
from event_capture.platform.storage_surface import StorageBlob, StorageBucket
from event_capture.tables.bigquery_schema import PARTITION_COLUMN
from event_capture.tables.definitions import load_table_definitions

# A replayed object already copied or deleted by a concurrent or earlier run: nothing to do.
ALREADY_MOVED = frozenset({404, PRECONDITION_FAILED})

# Besides the insertAll of the BigQuery sink it replays through (ingest.insert_all): which
# dead-lettered events are stored already, and moving each object once replayed.
API_CALLS = (
    *query_job(reads=EVENT_TABLES),
    ApiCall("storage.objects.list", DEAD_LETTER_BUCKET),
    ApiCall("storage.objects.get", DEAD_LETTER_BUCKET),
    ApiCall("storage.objects.insert", DEAD_LETTER_BUCKET),
    ApiCall("storage.objects.copy", DEAD_LETTER_BUCKET),
    ApiCall("storage.objects.delete", DEAD_LETTER_BUCKET),
)


@dataclass(slots=True)
class ReplayReport:
    objects: int = 0
    rows: int = 0
    already_stored: int = 0
    inserted: int = 0
    invalid: int = 0
    still_failing: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "objects": self.objects,
            "rows": self.rows,
            "already_stored": self.already_stored,
            "inserted": self.inserted,
            "invalid": self.invalid,
            "still_failing": self.still_failing,
        }


# The event ids among these rows of one table that BigQuery already holds.
StoredLookup = Callable[[str, Sequence[Row]], set[str]]


def stored_query(table_ref: str) -> Query:
    """Which of ``@ids`` the table holds, from a day before ``@since`` (a receive time) on."""
    return Query(
        f"SELECT DISTINCT event_id FROM `{table_ref}` "
        f"WHERE {PARTITION_COLUMN} >= TIMESTAMP_SUB(TIMESTAMP(@since), INTERVAL 1 DAY) "
        "AND event_id IN UNNEST(@ids)",
        {"since": STRING, "ids": STRING_ARRAY},
    )


def bigquery_lookup(config: Config) -> StoredLookup:
    """Ask the events dataset, reading only the partitions from a day before the oldest row's
    receive time on: another copy of an event comes from a client's resend, minutes apart."""
    client = clients.bigquery_client(config)
    tables = {definition["table_id"] for definition in load_table_definitions()}

    def stored(table: str, rows: Sequence[Row]) -> set[str]:
        if table not in tables:  # the name comes from an object; never put it in SQL unchecked
            raise ValueError(f"dead letter names an unknown table: {table!r}")
        since = min(str(row.data[PARTITION_COLUMN]) for row in rows)
        query = stored_query(f"{config.project}.{config.bigquery_dataset}.{table}")
        found = query.rows(client, since=since, ids=[r.event_id for r in rows])
        return {str(row["event_id"]) for row in found}

    return stored


def _nothing_stored(table: str, rows: Sequence[Row]) -> set[str]:
    return set()


def _sibling(name: str, area: str, suffix: str = "") -> str:
    # dead-letter/<table>/dt=.../x.ndjson -> <area>/<table>/dt=.../x<suffix>.ndjson
    rest = name.split("/", 1)[1]
    if suffix:
        rest = rest.removesuffix(".ndjson") + suffix + ".ndjson"
    return f"{area}/{rest}"


def replay(
    writer: NdjsonWriter,
    sink: Sink,
    progress: TextIO = sys.stderr,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    stored: StoredLookup = _nothing_stored,
) -> ReplayReport:
    report = ReplayReport()
    bucket = writer.bucket()
    blobs = sorted(bucket.list_blobs(prefix=f"{dead_letter.DEAD_LETTER_AREA}/"), key=_name)
    if not blobs:
        print("nothing to replay", file=progress)
        return report
    for number, blob in enumerate(blobs, start=1):
        rows = [entry.row for entry in dead_letter.decode(blob.download_as_text())]
        already = stored(rows[0].table, rows) if rows else set()
        result = sink.write(
            [r for r in rows if r.event_id not in already], Request("replay", now())
        )
        invalid = [f for f in result.failed if f.failure.kind is FailureKind.INVALID]
        transient = [f for f in result.failed if f.failure.kind is not FailureKind.INVALID]
        stamp = now().strftime("%Y%m%dT%H%M%S")
        # Leftovers are written before the original is moved: a crash in between repeats
        # work (same insertIds) but never loses a row.
        if invalid:
            _keep(writer, _sibling(blob.name, dead_letter.INVALID_AREA), invalid)
        if transient:
            retry_name = _sibling(blob.name, dead_letter.DEAD_LETTER_AREA, f"-retry-{stamp}")
            _keep(writer, retry_name, transient)
        _move(bucket, blob, _sibling(blob.name, dead_letter.REPLAYED_AREA))
        report.objects += 1
        report.rows += len(rows)
        report.already_stored += len(already)
        report.inserted += len(result.stored)
        report.invalid += len(invalid)
        report.still_failing += len(transient)
        print(
            f"[{number}/{len(blobs)}] {blob.name}: {len(rows)} rows, {len(already)} already "
            f"stored, {len(result.stored)} inserted, {len(invalid)} invalid, "
            f"{len(transient)} left for the next run",
            file=progress,
            flush=True,
        )
    return report


def _name(blob: StorageBlob) -> str:
    return blob.name


def _keep(writer: NdjsonWriter, name: str, entries: Sequence[FailedRow]) -> None:
    # The name follows from the replayed object's, so a 412 on the first attempt means an
    # earlier, interrupted run wrote these very rows.
    writer.create(name, (dead_letter.encode(entry) for entry in entries), exists_ok=True)


def _move(bucket: StorageBucket, blob: StorageBlob, destination: str) -> None:
    try:
        bucket.copy_blob(blob, bucket, destination, if_generation_match=0)
    except Exception as error:
        if getattr(error, "code", None) != PRECONDITION_FAILED:  # copied by an earlier run
            raise
    try:
        bucket.delete_blob(blob.name, if_generation_match=blob.generation)
    except Exception as error:
        if getattr(error, "code", None) not in ALREADY_MOVED:  # moved by another run
            raise


def main(argv: list[str] | None = None, config: Config | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    config = config or load_config()
    if not (config.bigquery_enabled and config.dead_letter_bucket and config.project):
        print(
            "replay needs BIGQUERY_ENABLED=true, GCP_PROJECT and DEAD_LETTER_BUCKET or GCS_BUCKET",
            file=sys.stderr,
        )
        return 2
    report = replay(
        dead_letter_writer(config), bigquery_sink(config), stored=bigquery_lookup(config)
    )
    print(json.dumps({"message": "replay", **report.as_dict()}))
    return 1 if report.still_failing else 0


if __name__ == "__main__":
    sys.exit(main())
