"""The nightly warehouse runs on the BigQuery emulator, over a full 90-day window of events.

Loads ``--days`` days of sample events (received on their own day, as in production; each
user's events in a few sessions of their own) through the capture pipeline's BigQuery sink,
fills the partial table ``user_daily`` for the whole window once (the first deploy's backfill),
then times every scheduled query's script for today's run date (median of ``--repeats``) and
each feature table's full rebuild over the 90-day ``_dedup`` views, checks that both give the
same rows, and counts the rows each reads.

Rows read are counted from the data loaded, for each table a script reads (``catalog.reads``)
in the partitions its filter selects: the emulator neither prunes partitions nor reports bytes
billed. BigQuery bills bytes of the columns read, not rows: ``user_daily`` holds a user-day's
items in repeated fields, so the rows-and-items figure beside it is the fairer comparison.
The day-scoped queries (search aggregates, data quality) read two days of partitions through
inlined de-duplication; their same-run baseline is the same query over the 90-day views.
"""

import argparse
import datetime as dt
import json
import random
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from google.cloud import bigquery

from event_capture.ingest.pipeline import CapturePipeline
from event_capture.ingest.wiring import bigquery_sink
from event_capture.warehouse.catalog import (
    DATA_QUALITY,
    EVENT_TABLES,
    FEATURE_TABLES,
    PARTIAL_TABLES,
    SCHEDULED_TABLES,
    SEARCH_DAILY,
    ScheduledTable,
    full_rebuild,
    reads,
    render,
    scheduled_sql,
)
from localcloud.cloud import CloudSettings, LocalCloud
from localcloud.processes import STATE_DIR
from localcloud.sample_events import FAMILY_EVENT_TYPES, sample_event
from localcloud.warehouse import backfill_partials, create_table, create_warehouse, run_all

SETTINGS = CloudSettings(
    project="warehouse-bench",
    bucket="warehouse-bench-events",
    log_dir=STATE_DIR / "logs" / "warehouse-bench",
    persistent_gcs=False,
)
DATASETS = SETTINGS.warehouse_datasets
BATCH = 500
SESSIONS_PER_USER_DAY = 3


def _fixed(moment: dt.datetime) -> dt.datetime:
    return moment


def load(cloud: LocalCloud, days: int, per_day: int, users: int, seed: int) -> int:
    sink = bigquery_sink(cloud.config(GCS_ENABLED="false", BIGQUERY_DEADLINE_SECONDS="120"))
    rng = random.Random(seed)
    today = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    stored = 0
    for back in range(days - 1, -1, -1):
        noon = today - dt.timedelta(days=back)
        pipeline = CapturePipeline(
            bigquery=sink, dead_letter=None, archive=None, redis=None, clock=partial(_fixed, noon)
        )
        events = []
        for _ in range(per_day):
            user = rng.randrange(users)
            # A session is one user's: the partial table's rows are per user and day.
            session = f"s_{back}_{user:04d}_{rng.randrange(SESSIONS_PER_USER_DAY)}"
            event_type = rng.choice(FAMILY_EVENT_TYPES)
            events.append(sample_event(event_type, f"u_{user:04d}", session, noon, rng))
        for start in range(0, len(events), BATCH):
            result = pipeline.handle(events[start : start + BATCH], batch=True)
            stored += result.body["accepted"]
    return stored


def timed(run: Callable[[], object], repeats: int) -> float:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def job_config(run_date: dt.date) -> bigquery.QueryJobConfig:
    return bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("run_date", "DATE", run_date)]
    )


def run_query(client: bigquery.Client, sql: str, run_date: dt.date) -> None:
    client.query(sql, job_config=job_config(run_date)).result()


@dataclass(frozen=True)
class Scanned:
    rows: int
    bytes: int

    def __add__(self, other: "Scanned") -> "Scanned":
        return Scanned(self.rows + other.rows, self.bytes + other.bytes)


NOTHING = Scanned(0, 0)
# BigQuery's logical sizes (cloud.google.com/bigquery/pricing, "data size calculation").
FIXED_BYTES = {"INTEGER": 8, "FLOAT": 8, "TIMESTAMP": 8, "DATE": 8, "NUMERIC": 16, "BOOLEAN": 1}


def scanned(client: bigquery.Client, script: str, run_date: dt.date) -> Scanned:
    """Rows in the partitions ``script`` reads, and the logical bytes of the columns it names
    in them (every raw read also names event_id and received_at: the dedup's)."""
    words = set(re.findall(r"\w+", re.sub(r"--[^\n]*", "", script))) | {"event_id", "received_at"}
    total = NOTHING
    for read in reads(script, DATASETS):
        if read.partitions is None:
            raise ValueError(f"{read.table} is read without a partition filter")
        sizes = [
            size
            for column in client.get_table(read.table).schema
            if column.name in words and (size := _size(column, column.name, words))
        ]
        [row] = client.query(
            f"SELECT COUNT(*) AS n, COALESCE(SUM({' + '.join(sizes) or '0'}), 0) AS bytes "
            f"FROM `{read.table}` WHERE {read.partitions}",
            job_config=job_config(run_date),
        ).result()
        total += Scanned(int(row["n"]), int(row["bytes"]))
    return total


def _size(column: bigquery.SchemaField, path: str, words: set[str]) -> str:
    """SQL for one row's logical bytes of ``column`` at ``path``, named subfields only."""
    if column.mode == "REPEATED":
        element = bigquery.SchemaField(
            column.name, column.field_type, "NULLABLE", fields=column.fields
        )
        return f"COALESCE((SELECT SUM({_size(element, 'x', words)}) FROM UNNEST({path}) AS x), 0)"
    if column.field_type == "RECORD":
        parts = [_size(f, f"{path}.{f.name}", words) for f in column.fields if f.name in words]
        return " + ".join(parts) or "0"
    if column.field_type in ("STRING", "BYTES"):
        return f"COALESCE(2 + BYTE_LENGTH({path}), 0)"
    return f"IF({path} IS NULL, 0, {FIXED_BYTES[column.field_type]})"


def _figures(name: str, ours: Scanned, theirs: Scanned) -> str:
    return (
        f"{name:<26}{ours.rows:>12,}{theirs.rows:>12,}"
        f"{ours.bytes / 1e6:>11.2f}{theirs.bytes / 1e6:>11.2f}"
    )


def snapshot(client: bigquery.Client, spec: ScheduledTable, day: dt.date) -> list[str]:
    rows = client.query(
        f"SELECT * FROM `{DATASETS.events}.{spec.name}` WHERE snapshot_date = DATE '{day}'"
    ).result()
    return sorted(json.dumps(dict(row.items()), sort_keys=True, default=repr) for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--events-per-day", type=int, default=1000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with LocalCloud(SETTINGS) as cloud:
        client = cloud.bigquery_client()
        create_warehouse(client, DATASETS)
        fulls = [full_rebuild(spec) for spec in FEATURE_TABLES]
        for spec in fulls:
            create_table(client, spec, DATASETS)
        started = time.perf_counter()
        stored = load(cloud, args.days, args.events_per_day, args.users, args.seed)
        print(
            f"loaded {stored:,} events over {args.days} days "
            f"({args.events_per_day:,}/day, {args.users} users) "
            f"in {time.perf_counter() - started:.0f} s"
        )
        run_date = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
        started = time.perf_counter()
        backfill_partials(client, DATASETS, run_date)
        print(f"backfilled user_daily's {args.days} days in {time.perf_counter() - started:.1f} s")

        print(f"\n{'scheduled script':<30}{'median s':>10}")
        for spec in sorted([*SCHEDULED_TABLES, *fulls], key=lambda t: t.schedule):
            # run_all: a data-quality run that finds a failed rule still counts as timed.
            run = partial(run_all, client, DATASETS, run_date, [spec])
            print(f"{spec.name:<30}{timed(run, args.repeats):>10.2f}")

        day = run_date - dt.timedelta(days=1)
        print(f"\n{'feature table':<26}{'rows':>8}  incremental == full rebuild")
        for spec in FEATURE_TABLES:
            built, rebuilt = snapshot(client, spec, day), snapshot(client, full_rebuild(spec), day)
            print(f"{spec.name:<26}{len(built):>8,}  {'yes' if built == rebuilt else 'NO'}")

        print(
            f"\nrows read per nightly build at {args.days} days of history, incremental against "
            "full\n(counted in the data loaded: the emulator neither prunes partitions nor bills "
            "bytes;\nMB: BigQuery's logical size of the columns each script names)"
        )
        print(f"{'script':<26}{'incr. rows':>12}{'full rows':>12}{'incr. MB':>11}{'full MB':>11}")
        night = {"incremental": NOTHING, "full": NOTHING}
        for spec in [*PARTIAL_TABLES, *FEATURE_TABLES]:
            ours = scanned(client, scheduled_sql(spec, DATASETS), run_date)
            # The full build has no partial table: its feature queries read the views.
            theirs = (
                scanned(client, scheduled_sql(full_rebuild(spec), DATASETS), run_date)
                if spec in FEATURE_TABLES
                else NOTHING
            )
            night = {"incremental": night["incremental"] + ours, "full": night["full"] + theirs}
            print(_figures(spec.name, ours, theirs))
        ours, theirs = night["incremental"], night["full"]
        print(_figures("night", ours, theirs))
        print(
            f"full / incremental: {theirs.rows / ours.rows:.1f}x the rows, "
            f"{theirs.bytes / ours.bytes:.1f}x the bytes"
        )

        recent = scanned(client, render(SEARCH_DAILY.sql_file, DATASETS), run_date).rows
        views = {f"recent_{t}": f"`{DATASETS.events}.{t}_dedup`" for t in EVENT_TABLES}
        whole = scanned(client, render(SEARCH_DAILY.sql_file, DATASETS, **views), run_date).rows
        print(
            f"\nrows in the partitions search_daily reads: {recent:,} (2 days) against "
            f"{whole:,} through the views ({whole / recent:.0f}x)"
        )
        print(f"\n{'day-scoped query':<22}{'2 days s':>10}{'90-day views s':>16}{'ratio':>8}")
        for spec in (SEARCH_DAILY, DATA_QUALITY):
            recent_sql = render(spec.sql_file, DATASETS)
            whole_sql = render(spec.sql_file, DATASETS, **views)
            fast = timed(partial(run_query, client, recent_sql, run_date), args.repeats)
            slow = timed(partial(run_query, client, whole_sql, run_date), args.repeats)
            print(f"{spec.name:<22}{fast:>10.2f}{slow:>16.2f}{slow / fast:>7.1f}x")


if __name__ == "__main__":
    main()
