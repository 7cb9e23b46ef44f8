"""Load a nightly snapshot of the feature tables into Redis, switched atomically.

Everything of a snapshot goes under keys of its own (``keys.snapshot_keys``); only when all of
it is written does ``features:current`` move to it, in one SET. A reader therefore sees the old
snapshot or the new one, never a mix, and a load that fails half-way leaves the old one
current (its own keys are removed, or expire). The replaced snapshot expires a few minutes
later, so a reader that read the pointer just before the switch still finds it whole.
"""

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice

from event_capture.contracts import redis_keys as keys
from event_capture.features.documents import Snapshot, build_snapshot
from event_capture.platform import api_calls
from event_capture.platform.bigquery_surface import BigQueryQueries
from event_capture.platform.query import DATE, Query
from event_capture.platform.redis_surface import Reply, SnapshotRedis
from event_capture.warehouse.catalog import FEATURE_SNAPSHOT_DAYS, FEATURE_TABLES, USER_PROFILES

# Fields per HSET: big enough for few round trips, small enough that no single command holds
# Redis (which serves reads meanwhile) for long.
FIELDS_PER_COMMAND = 1_000

FEATURE_NAMES = tuple(spec.name for spec in FEATURE_TABLES)

API_CALLS = api_calls.query_job(reads=api_calls.FEATURE_TABLES)


@dataclass(frozen=True)
class LoadResult:
    snapshot: str
    changed: bool
    users: int
    products: int
    replaced: str | None = None


def _chunks(mapping: Mapping[str, str]) -> Iterator[dict[str, str]]:
    items = iter(sorted(mapping.items()))
    while chunk := dict(islice(items, FIELDS_PER_COMMAND)):
        yield chunk


def _text(value: Reply) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def load_snapshot(
    redis: SnapshotRedis, snapshot: Snapshot, *, now: Callable[[], dt.datetime] | None = None
) -> LoadResult:
    """Make ``snapshot`` the one readers see; nothing changes if it already is."""
    snapshot_id = snapshot.id
    current = _text(redis.get(keys.CURRENT_SNAPSHOT))
    counts = {"users": len(snapshot.users), "products": len(snapshot.products)}
    if current == snapshot_id and redis.exists(keys.snapshot_meta_key(snapshot_id)):
        return LoadResult(snapshot_id, False, len(snapshot.users), len(snapshot.products))
    meta, users, products = keys.snapshot_keys(snapshot_id)
    loaded_at = (now or (lambda: dt.datetime.now(dt.UTC)))()
    try:
        # What an interrupted load of the same snapshot left behind is rewritten from scratch.
        redis.delete(meta, users, products)
        for key, documents in ((users, snapshot.users), (products, snapshot.products)):
            for chunk in _chunks(documents):
                pipe = redis.pipeline(transaction=False)
                pipe.hset(key, mapping=chunk)
                # Set with the first chunk, so even a load that dies here leaves nothing for good.
                pipe.expire(key, keys.SNAPSHOT_TTL_SECONDS)
                pipe.execute()
        pipe = redis.pipeline(transaction=False)
        pipe.hset(
            meta,
            mapping={
                "snapshot_date": snapshot.snapshot_date.isoformat(),
                "loaded_at": loaded_at.isoformat(),
                **{name: str(count) for name, count in counts.items()},
            },
        )
        pipe.expire(meta, keys.SNAPSHOT_TTL_SECONDS)
        pipe.execute()
        # The switch: one command, so readers move from the old snapshot to the new at once.
        redis.set(keys.CURRENT_SNAPSHOT, snapshot_id, ex=keys.SNAPSHOT_TTL_SECONDS)
    except Exception:
        with contextlib.suppress(Exception):  # the TTL removes them anyway
            # A SET that timed out may still have been applied: never delete what readers use.
            if _text(redis.get(keys.CURRENT_SNAPSHOT)) != snapshot_id:
                redis.delete(meta, users, products)
        raise
    if current and current != snapshot_id:
        pipe = redis.pipeline(transaction=False)
        for key in keys.snapshot_keys(current):
            pipe.expire(key, keys.REPLACED_TTL_SECONDS)
        pipe.execute()
    replaced = current if current and current != snapshot_id else None
    return LoadResult(snapshot_id, True, len(snapshot.users), len(snapshot.products), replaced)


# --- reading the snapshot from BigQuery --------------------------------------------------------


def newest_snapshot_date(
    client: BigQueryQueries, events_dataset: str, today: dt.date
) -> dt.date | None:
    """The newest snapshot_date of ``user_profiles`` within the snapshots' expiry."""
    since = today - dt.timedelta(days=FEATURE_SNAPSHOT_DAYS)
    [row] = newest_snapshot_query(events_dataset).rows(client, since=since)
    newest: dt.date | None = row["newest"]
    return newest


def newest_snapshot_query(events_dataset: str) -> Query:
    return Query(
        f"SELECT MAX(snapshot_date) AS newest FROM `{events_dataset}.{USER_PROFILES.name}` "  # noqa: S608 - names from the catalog
        "WHERE snapshot_date >= @since",
        {"since": DATE},
    )


def snapshot_query(events_dataset: str, table: str) -> Query:
    """One feature table's rows of the snapshot ``@day``."""
    return Query(
        f"SELECT * FROM `{events_dataset}.{table}` WHERE snapshot_date = @day",  # noqa: S608
        {"day": DATE},
    )


def read_snapshot(client: BigQueryQueries, events_dataset: str, snapshot_date: dt.date) -> Snapshot:
    """The four feature tables' rows for ``snapshot_date``, as one snapshot."""
    rows = {
        table: snapshot_query(events_dataset, table).rows(client, day=snapshot_date)
        for table in FEATURE_NAMES
    }
    return build_snapshot(snapshot_date, **rows)


def materialize(
    bigquery_client: BigQueryQueries,
    redis: SnapshotRedis,
    events_dataset: str,
    *,
    snapshot_date: dt.date | None = None,
    today: dt.date | None = None,
) -> LoadResult | None:
    """Load ``snapshot_date`` (default: the newest) into Redis; None when there is none, or
    when it holds no user (the current snapshot is then left as it is)."""
    day = snapshot_date or newest_snapshot_date(
        bigquery_client, events_dataset, today or dt.datetime.now(dt.UTC).date()
    )
    if day is None:
        return None
    snapshot = read_snapshot(bigquery_client, events_dataset, day)
    if not snapshot.users:
        # No profiles for the day: its 02:00 run failed or has not written yet. An empty load
        # would replace a good snapshot with nothing; the current one stays.
        return None
    return load_snapshot(redis, snapshot)
