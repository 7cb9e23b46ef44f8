"""Remove the events that arrived one way, in a time range, from every store:
``make purge SOURCE=web FROM=2026-12-01 TO=2026-12-02 [EXECUTE=true]`` or
``python -m tools.purge --source web --from 2026-12-01 --to 2026-12-02 [--execute]``;
``LOCAL=true`` (``--local``) for ``make run``'s cloud, where the collector's key id is ``web``.

``--source`` is how the events arrived (``contracts/provenance.py``): a write key id (``web``,
the events the public collector took under that key), ``capture`` or ``elevenlabs``. The range
is of ``received_at``, ``[--from, --to)``. A dry run (the default) counts and changes nothing.

The stores, in order:

- BigQuery, every event table: one ``DELETE`` each. Rows streamed in the last ~90 minutes sit
  in BigQuery's streaming buffer, which DML cannot touch: that table's delete is refused whole,
  its rows are reported pending, and running the purge again later deletes them.
- the archive (``archive/``) and the dead letters (``dead-letter/<table>/``, and the
  ``-replayed`` and ``-invalid`` folders beside it): each object of the range's days is read;
  one whose every line matches is deleted, one with some is rewritten without them, both only
  if the object is unchanged since it was read (its generation).
- Redis, when on: the purged events' entries in their users' activity lists, and the day's
  counts by event type (never below zero; a count is a cache of what was captured).

Events the tables, the archive and the dead letters hold are found by their ``arrived_via``;
Redis entries by their event ids, found in those stores. Rows stored before the column existed
have no ``arrived_via`` and are never matched. Nightly tables built from purged rows keep
their aggregates until rebuilt (``make nightly``'s full rebuild). BigQuery keeps deleted rows
for its time-travel window, and Cloud Storage's soft delete keeps deleted objects for its
retention: a purge removes what every reader sees, not what Google keeps for recovery.

Prints a receipt, a line per store: matched, removed, pending. Exit status 0 when nothing
matched is left (or, dry, always), 1 when some is (pending or failed: run it again), 2 for a
usage or configuration error. Runs with the function's configuration variables, under an
identity that may run DML on the event tables and read, rewrite and delete objects in the
buckets (the operators').
"""

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO

from event_capture.contracts import provenance
from event_capture.contracts.archive_layout import ARCHIVE_AREA, day_prefix
from event_capture.contracts.live_activity import FIELDS as ACTIVITY_FIELDS
from event_capture.contracts.redis_keys import daily_counts_key, subject_activity_key
from event_capture.forget.stores import (
    STREAMING_BUFFER,
    RowOf,
    StoreReceipt,
    archived_row,
    dead_lettered_row,
    remove_lines,
    rewrite_calls,
)
from event_capture.ingest import clients
from event_capture.ingest.config import Config, ConfigError, load_config
from event_capture.ingest.retry import describe
from event_capture.ingest.sinks.dead_letter import DEAD_LETTER_AREA, INVALID_AREA, REPLAYED_AREA
from event_capture.platform.api_calls import (
    ARCHIVE_BUCKET,
    DEAD_LETTER_BUCKET,
    EVENT_TABLES,
    ApiCall,
    query_job,
)
from event_capture.platform.bigquery_surface import BigQueryQueries
from event_capture.platform.query import STRING, TIMESTAMP, Query
from event_capture.platform.redis_surface import PurgeRedis
from event_capture.platform.storage_surface import StorageBucket
from event_capture.schemas.families import event_types
from event_capture.schemas.identity_link import IdentityLink
from event_capture.tables.bigquery_schema import PARTITION_COLUMN
from event_capture.tables.definitions import load_table_definitions
from tools.cli import OneLineParser, parse_moment

PROG = "purge"
DEAD_LETTER_AREAS = (DEAD_LETTER_AREA, REPLAYED_AREA, INVALID_AREA)
assert "event_id" in ACTIVITY_FIELDS, "the purge finds Redis entries by their event id"

API_CALLS = (
    *query_job(reads=EVENT_TABLES),
    ApiCall("bigquery.jobs.insert#dml", EVENT_TABLES),
    *rewrite_calls(ARCHIVE_BUCKET),
    *rewrite_calls(DEAD_LETTER_BUCKET),
)

_RANGE = f"{PARTITION_COLUMN} >= @start AND {PARTITION_COLUMN} < @end"
_PARAMETERS = {"start": TIMESTAMP, "end": TIMESTAMP, "source": STRING}


def matched_query(table_ref: str) -> Query:
    """The table's rows that arrived by ``@source`` in the range: what the Redis step needs."""
    return Query(
        f"SELECT event_id, event_type, user_id, anonymous_id, {PARTITION_COLUMN} "
        f"FROM `{table_ref}` "
        f"WHERE {_RANGE} AND {provenance.COLUMN} = @source",
        _PARAMETERS,
    )


def delete_query(table_ref: str) -> Query:
    return Query(
        f"DELETE FROM `{table_ref}` WHERE {_RANGE} AND {provenance.COLUMN} = @source",
        _PARAMETERS,
    )


@dataclass(frozen=True)
class Event:
    """What the Redis step needs of a purged event."""

    event_id: str
    event_type: str
    user_id: str | None
    anonymous_id: str | None
    day: date


@dataclass(frozen=True)
class Scope:
    source: str
    start: datetime
    end: datetime

    def values(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "source": self.source}

    def days(self) -> list[date]:
        last = (self.end - timedelta(microseconds=1)).date()
        return [
            self.start.date() + timedelta(days=n)
            for n in range((last - self.start.date()).days + 1)
        ]

    def matches(self, row: Mapping[str, Any]) -> bool:
        if row.get(provenance.COLUMN) != self.source:
            return False
        received = row.get(PARTITION_COLUMN)
        if not isinstance(received, str):
            return False
        return self.start <= datetime.fromisoformat(received) < self.end


def _event(row: Mapping[str, Any]) -> Event:
    received = row[PARTITION_COLUMN]
    if isinstance(received, str):
        received = datetime.fromisoformat(received)
    return Event(
        row["event_id"],
        row["event_type"],
        row.get("user_id"),
        row.get("anonymous_id"),
        received.astimezone(UTC).date(),
    )


def purge_bigquery(
    client: BigQueryQueries, table_refs: Mapping[str, str], scope: Scope, execute: bool
) -> tuple[StoreReceipt, set[Event]]:
    receipt, events = StoreReceipt("bigquery"), set()
    for table, ref in table_refs.items():
        found = [_event(row) for row in matched_query(ref).rows(client, **scope.values())]
        receipt.matched += len(found)
        events.update(found)
        if not execute or not found:
            continue
        try:
            delete_query(ref).rows(client, **scope.values())
        except Exception as error:  # noqa: BLE001 - one table's refusal is reported, not raised
            detail = describe(error)
            receipt.pending += len(found)
            if STREAMING_BUFFER in detail:
                receipt.notes.append(
                    f"{table}: {len(found)} rows still in the streaming buffer (up to about 90 "
                    "minutes after they were streamed); run the purge again later"
                )
            else:
                receipt.notes.append(f"{table}: delete failed: {detail}")
            continue
        left = len(matched_query(ref).rows(client, **scope.values()))
        receipt.removed += len(found) - left
        receipt.pending += left
    return receipt, events


def purge_objects(
    bucket: StorageBucket,
    store: str,
    folders: Sequence[str],
    row_of: RowOf,
    scope: Scope,
    execute: bool,
) -> tuple[StoreReceipt, set[Event]]:
    """Every object of the range's days in ``folders``, without the lines that match."""
    receipt = StoreReceipt(store)
    blobs = (
        blob
        for folder in folders
        for day in scope.days()
        for blob in bucket.list_blobs(prefix=day_prefix(folder, day))
    )
    found = remove_lines(bucket, blobs, row_of, scope.matches, execute, receipt)
    return receipt, {_event(row) for row in found}


def purge_redis(redis: PurgeRedis, events: Iterable[Event], execute: bool) -> StoreReceipt:
    """The events' entries in their users' or devices' activity lists; the days' counts
    lowered. A link (``identify``) has no entry and no count."""
    receipt = StoreReceipt("redis")
    by_list: dict[str, set[str]] = {}
    counts: dict[tuple[date, str], int] = {}
    for event in events:
        if event.event_type in event_types(IdentityLink):
            continue
        key = subject_activity_key(event.user_id, event.anonymous_id)
        by_list.setdefault(key, set()).add(event.event_id)
        counts[event.day, event.event_type] = counts.get((event.day, event.event_type), 0) + 1
    for key, event_ids in sorted(by_list.items()):
        for raw in redis.lrange(key, 0, -1):
            entry = raw.decode() if isinstance(raw, bytes) else raw
            try:
                event_id = json.loads(entry).get("event_id")
            except ValueError:
                continue
            if event_id not in event_ids:
                continue
            receipt.matched += 1
            if execute:
                receipt.removed += redis.lrem(key, 0, entry)
    if not execute:
        return receipt
    for (day, event_type), number in sorted(counts.items()):
        key = daily_counts_key(f"{day:%Y-%m-%d}")
        lower = min(number, int(redis.hget(key, event_type) or 0))
        if lower:
            redis.hincrby(key, event_type, -lower)
    return receipt


@dataclass(frozen=True)
class Stores:
    bigquery: BigQueryQueries
    table_refs: Mapping[str, str]
    archive: StorageBucket | None
    dead_letters: StorageBucket | None
    redis: PurgeRedis | None


def purge(stores: Stores, scope: Scope, execute: bool) -> list[StoreReceipt]:
    receipts = []
    receipt, events = purge_bigquery(stores.bigquery, stores.table_refs, scope, execute)
    receipts.append(receipt)
    if stores.archive is not None:
        receipt, found = purge_objects(
            stores.archive, "archive", (ARCHIVE_AREA,), archived_row, scope, execute
        )
        receipts.append(receipt)
        events |= found
    if stores.dead_letters is not None:
        # dead-letter/<table>/dt=..., and its -replayed and -invalid siblings.
        folders = [f"{area}/{table}" for area in DEAD_LETTER_AREAS for table in stores.table_refs]
        receipt, found = purge_objects(
            stores.dead_letters,
            "dead-letters",
            folders,
            dead_lettered_row,
            scope,
            execute,
        )
        receipts.append(receipt)
        events |= found
    if stores.redis is not None:
        receipts.append(purge_redis(stores.redis, events, execute))
    return receipts


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    assert __doc__ is not None
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="a write key id, capture or elevenlabs")
    parser.add_argument("--from", dest="start", required=True, help="2026-12-01 or an ISO time")
    parser.add_argument("--to", dest="end", required=True, help="exclusive; same forms")
    parser.add_argument("--execute", action="store_true", help="remove; without it, only count")
    parser.add_argument("--local", action="store_true", help="make run's local cloud")
    return parser.parse_args(argv)


def _local_config() -> Config:
    """``make run``'s cloud, Redis included when it is running."""
    from localcloud.run import running_cloud

    cloud, running = running_cloud()
    return cloud.config(**running)


def _stores(config: Config) -> Stores:
    prefix = f"{config.project}.{config.bigquery_dataset}"
    storage = clients.storage_client(config)
    dead_letters = config.dead_letter_bucket or config.gcs_bucket
    return Stores(
        bigquery=clients.bigquery_client(config),
        table_refs={d["table_id"]: f"{prefix}.{d['table_id']}" for d in load_table_definitions()},
        archive=storage.bucket(config.gcs_bucket) if config.gcs_bucket else None,
        dead_letters=storage.bucket(dead_letters) if dead_letters else None,
        redis=clients.redis_client(config) if config.redis_enabled else None,
    )


def main(
    argv: list[str] | None = None,
    config: Config | None = None,
    *,
    stores: Stores | None = None,
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    args = _arguments(argv)
    try:
        scope = Scope(
            provenance.parse_source(args.source),
            parse_moment(args.start, "--from"),
            parse_moment(args.end, "--to"),
        )
        if scope.start >= scope.end:
            raise ValueError(f"--from must be before --to, got {args.start} and {args.end}")
        if stores is None:
            config = config or (_local_config() if args.local else load_config())
            stores = _stores(config)
    except (ValueError, ConfigError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    try:
        receipts = purge(stores, scope, args.execute)
    except Exception as error:  # noqa: BLE001 - one line for the operator, not a traceback
        print(f"{PROG}: {describe(error)}", file=sys.stderr)
        return 1
    verb = "purged" if args.execute else "would purge (dry run; --execute to remove)"
    span = f"{scope.start:%Y-%m-%dT%H:%MZ} to {scope.end:%Y-%m-%dT%H:%MZ}"
    print(f"{verb} {scope.source}, received {span}", file=out)
    for receipt in receipts:
        print(receipt.line(args.execute), file=out)
    left = any(r.pending or (args.execute and r.removed < r.matched) for r in receipts)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
