"""Remove everything held about some users, in every store: ``forget(stores, user_ids)``.

What belongs to a user: the rows and lines with their ``user_id``, and the rows and lines a
device of theirs sent before the login (``user_id`` absent, ``anonymous_id`` one the user was
linked to: an ``identify``, or an event with both ids). A device is never a reason to remove a
row that names another user.

The stores, in order:

- BigQuery: the devices are read first (one query over every event table, reading only the
  clustered blocks of those users), then one ``DELETE`` per event table and per user-level
  table of the warehouse (``user_daily`` and the feature tables). Each statement filters on
  ``user_id`` first, the tables' first clustering column, so it reads the blocks that hold
  those users rather than the whole table. Rows streamed in the last ~90 minutes sit in
  BigQuery's streaming buffer, which DML cannot touch: that table's delete is refused whole, its
  rows are counted and reported pending, and a later run deletes them.
- The archive, and the dead letters (every folder): each object is read and rewritten without
  the users' lines, generation-matched (``forget.stores``).
- Redis, when on: the users' activity lists and device sets, their devices' activity lists,
  and the users' entries in every nightly feature snapshot. The day's counts by event type hold
  no user and are left, as are the aggregates in BigQuery.

Nothing here decides whether to suppress: ``forget.requests`` does, before it erases.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from event_capture.contracts.archive_layout import ARCHIVE_AREA
from event_capture.contracts.redis_keys import (
    SNAPSHOT_PREFIX,
    activity_key,
    device_activity_key,
    devices_key,
)
from event_capture.forget.stores import (
    STREAMING_BUFFER,
    StoreReceipt,
    archived_row,
    dead_lettered_row,
    remove_lines,
    rewrite_calls,
)
from event_capture.ingest.retry import describe
from event_capture.ingest.sinks.dead_letter import DEAD_LETTER_AREA, INVALID_AREA, REPLAYED_AREA
from event_capture.platform.api_calls import (
    ARCHIVE_BUCKET,
    DEAD_LETTER_BUCKET,
    EVENT_TABLES,
    USER_TABLES,
    ApiCall,
    query_job,
)
from event_capture.platform.bigquery_surface import QueryJob
from event_capture.platform.query import DATE, STRING_ARRAY, TIMESTAMP, Query
from event_capture.platform.storage_surface import StorageBucket
from event_capture.tables.bigquery_schema import PARTITION_COLUMN
from event_capture.tables.definitions import load_table_definitions
from event_capture.warehouse.catalog import USER_LEVEL_TABLES

API_CALLS = (
    *query_job(reads=EVENT_TABLES),
    ApiCall("bigquery.jobs.insert#dml", EVENT_TABLES),
    ApiCall("bigquery.jobs.insert#dml", USER_TABLES),
    *rewrite_calls(ARCHIVE_BUCKET),
    *rewrite_calls(DEAD_LETTER_BUCKET),
)

USER = "user_id"
DEVICE = "anonymous_id"
DEAD_LETTER_AREAS = (DEAD_LETTER_AREA, REPLAYED_AREA, INVALID_AREA)
# Every table requires a filter on its partition column; this one keeps every partition (an
# event is never received in the future), and is a constant, so BigQuery may prune on it.
_EVERY_PARTITION = "{column} <= @until"


class StatementJob(QueryJob, Protocol):
    """A finished statement's figures (google-cloud-bigquery's ``QueryJob``)."""

    @property
    def total_bytes_processed(self) -> int | None: ...

    @property
    def num_dml_affected_rows(self) -> int | None: ...


class BigQueryStatements(Protocol):
    def query(self, sql: str, /, *, job_config: Any) -> StatementJob: ...


@dataclass(frozen=True)
class Subjects:
    """The users to forget and the devices linked to them."""

    users: frozenset[str]
    devices: frozenset[str] = frozenset()

    def matches(self, row: Mapping[str, Any]) -> bool:
        user = row.get(USER)
        if user is not None:
            return user in self.users
        return row.get(DEVICE) in self.devices


def _owned(has_device: bool) -> str:
    """The condition of the subjects' rows, ``user_id`` first (the first clustering column)."""
    if not has_device:
        return f"{USER} IN UNNEST(@users)"
    return f"({USER} IN UNNEST(@users) OR ({USER} IS NULL AND {DEVICE} IN UNNEST(@devices)))"


def _parameters(has_device: bool, dated: bool) -> dict[str, str]:
    return {
        "users": STRING_ARRAY,
        **({"devices": STRING_ARRAY} if has_device else {}),
        "until": DATE if dated else TIMESTAMP,
    }


def devices_query(table_refs: Iterable[str]) -> Query:
    """The devices linked to the users in the event tables: an ``identify`` or any event that
    carries both ids."""
    reads = " UNION DISTINCT ".join(
        f"SELECT {DEVICE} FROM `{ref}` "  # noqa: S608 - names from the catalog, values as parameters
        f"WHERE {_EVERY_PARTITION.format(column=PARTITION_COLUMN)} "
        f"AND {USER} IN UNNEST(@users) AND {DEVICE} IS NOT NULL"
        for ref in table_refs
    )
    return Query(reads, _parameters(has_device=False, dated=False))


def count_query(table_ref: str, partition_column: str, has_device: bool, dated: bool) -> Query:
    return Query(
        f"SELECT COUNT(*) AS n FROM `{table_ref}` "  # noqa: S608 - names from the catalog, values as parameters
        f"WHERE {_EVERY_PARTITION.format(column=partition_column)} AND {_owned(has_device)}",
        _parameters(has_device, dated),
    )


def delete_query(table_ref: str, partition_column: str, has_device: bool, dated: bool) -> Query:
    return Query(
        f"DELETE FROM `{table_ref}` "  # noqa: S608 - names from the catalog, values as parameters
        f"WHERE {_EVERY_PARTITION.format(column=partition_column)} AND {_owned(has_device)}",
        _parameters(has_device, dated),
    )


@dataclass(frozen=True)
class Table:
    """A table holding user ids, and how its rows are found."""

    ref: str
    partition_column: str
    has_device: bool
    dated: bool  # partitioned on a DATE column (the warehouse's), not a TIMESTAMP

    def count(self) -> Query:
        return count_query(self.ref, self.partition_column, self.has_device, self.dated)

    def delete(self) -> Query:
        return delete_query(self.ref, self.partition_column, self.has_device, self.dated)


def event_tables(project: str, dataset: str) -> dict[str, Table]:
    return {
        definition["table_id"]: Table(
            f"{project}.{dataset}.{definition['table_id']}", PARTITION_COLUMN, True, False
        )
        for definition in load_table_definitions()
    }


def user_level_tables(project: str, dataset: str) -> dict[str, Table]:
    return {
        table.name: Table(
            f"{project}.{dataset}.{table.name}",
            table.partition_field,
            any(column.name == DEVICE for column in table.columns),
            True,
        )
        for table in USER_LEVEL_TABLES
    }


class ForgetRedis(Protocol):
    """The part of redis-py's client forgetting uses."""

    def smembers(self, name: str) -> Any: ...

    def delete(self, *names: str) -> int: ...

    def scan_iter(self, match: str) -> Iterable[Any]: ...

    def hdel(self, name: str, *keys: str) -> int: ...


@dataclass(frozen=True)
class Stores:
    bigquery: BigQueryStatements
    event_tables: Mapping[str, Table]
    user_level_tables: Mapping[str, Table]
    archive: StorageBucket | None
    dead_letters: StorageBucket | None
    redis: ForgetRedis | None


@dataclass
class BigQueryReceipt(StoreReceipt):
    bytes_processed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "bytes_processed": self.bytes_processed}


def _values(table: "Table", subjects: Subjects, now: datetime) -> dict[str, Any]:
    # A day ahead: a row is never received later than the run that deletes it.
    until = now + timedelta(days=1)
    return {
        "users": sorted(subjects.users),
        **({"devices": sorted(subjects.devices)} if table.has_device else {}),
        "until": until.date() if table.dated else until,
    }


def _run(bigquery: BigQueryStatements, query: Query, values: dict[str, Any]) -> StatementJob:
    job = bigquery.query(query.sql, job_config=query.job_config(**values))
    job.result()
    return job


def linked_devices(
    bigquery: BigQueryStatements,
    tables: Mapping[str, Table],
    users: frozenset[str],
    now: datetime,
    receipt: BigQueryReceipt,
) -> frozenset[str]:
    query = devices_query(table.ref for table in tables.values())
    job = _run(bigquery, query, {"users": sorted(users), "until": now + timedelta(days=1)})
    receipt.bytes_processed += job.total_bytes_processed or 0
    return frozenset(str(row[DEVICE]) for row in job.result())


def erase_bigquery(
    stores: Stores, subjects: Subjects, now: datetime, execute: bool, receipt: BigQueryReceipt
) -> None:
    """One DELETE per table, counted by the rows it affected: a table is read once, not also
    counted first. A dry run counts; a refused delete counts what it left, as pending."""
    tables = [*stores.event_tables.items(), *stores.user_level_tables.items()]
    for name, table in tables:
        bound = _values(table, subjects, now)
        if not execute:
            receipt.matched += _count(stores.bigquery, table, bound, receipt)
            continue
        try:
            deleted = _run(stores.bigquery, table.delete(), bound)
        except Exception as error:  # noqa: BLE001 - one table's refusal is reported, not raised
            detail = describe(error)
            found = _count(stores.bigquery, table, bound, receipt)
            receipt.matched += found
            receipt.pending += found
            if STREAMING_BUFFER in detail:
                receipt.notes.append(
                    f"{name}: {found} rows still in the streaming buffer (up to about 90 minutes "
                    "after they were streamed); the next run deletes them"
                )
            else:
                receipt.notes.append(f"{name}: delete failed: {detail}")
            continue
        receipt.bytes_processed += deleted.total_bytes_processed or 0
        removed = deleted.num_dml_affected_rows or 0
        receipt.matched += removed
        receipt.removed += removed


def _count(
    bigquery: BigQueryStatements, table: Table, bound: dict[str, Any], receipt: BigQueryReceipt
) -> int:
    counted = _run(bigquery, table.count(), bound)
    receipt.bytes_processed += counted.total_bytes_processed or 0
    return int(next(iter(counted.result()))["n"])


def erase_objects(
    bucket: StorageBucket,
    store: str,
    folders: Sequence[str],
    dead_letters: bool,
    subjects: Subjects,
    execute: bool,
) -> StoreReceipt:
    """Every object under ``folders``: a user's lines may be anywhere in the retention window."""
    receipt = StoreReceipt(store)
    blobs = (blob for folder in folders for blob in bucket.list_blobs(prefix=f"{folder}/"))
    row_of = dead_lettered_row if dead_letters else archived_row
    remove_lines(bucket, blobs, row_of, subjects.matches, execute, receipt)
    return receipt


def erase_redis(redis: ForgetRedis, subjects: Subjects, execute: bool) -> StoreReceipt:
    receipt = StoreReceipt("redis")
    devices = set(subjects.devices)
    for user in subjects.users:
        devices |= {_text(member) for member in redis.smembers(devices_key(user))}
    keys = [
        *(
            key
            for user in sorted(subjects.users)
            for key in (activity_key(user), devices_key(user))
        ),
        *(device_activity_key(device) for device in sorted(devices)),
    ]
    snapshots = sorted(_text(key) for key in redis.scan_iter(match=f"{SNAPSHOT_PREFIX}*:users"))
    if not execute:
        receipt.matched = len(keys) + len(snapshots) * len(subjects.users)
        return receipt
    removed_keys = redis.delete(*keys) if keys else 0
    removed_entries = sum(redis.hdel(key, *sorted(subjects.users)) for key in snapshots)
    receipt.matched = receipt.removed = removed_keys + removed_entries
    return receipt


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def forget(
    stores: Stores, users: Iterable[str], *, now: datetime | None = None, execute: bool = True
) -> list[StoreReceipt]:
    """Remove the users' rows, lines and keys from every store; a receipt per store."""
    now = now or datetime.now(UTC)
    user_set = frozenset(users)
    if not user_set:
        return []
    receipt = BigQueryReceipt("bigquery")
    devices = linked_devices(stores.bigquery, stores.event_tables, user_set, now, receipt)
    subjects = Subjects(user_set, devices)
    erase_bigquery(stores, subjects, now, execute, receipt)
    receipts: list[StoreReceipt] = [receipt]
    if stores.archive is not None:
        receipts.append(
            erase_objects(stores.archive, "archive", (ARCHIVE_AREA,), False, subjects, execute)
        )
    if stores.dead_letters is not None:
        folders = [f"{area}/{table}" for area in DEAD_LETTER_AREAS for table in stores.event_tables]
        receipts.append(
            erase_objects(stores.dead_letters, "dead-letters", folders, True, subjects, execute)
        )
    if stores.redis is not None:
        receipts.append(erase_redis(stores.redis, subjects, execute))
    return receipts


def pending(receipts: Iterable[StoreReceipt]) -> int:
    """What is left of the users: rows or lines matched and not removed."""
    return sum(max(r.pending, r.matched - r.removed) for r in receipts)
