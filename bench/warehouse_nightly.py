"""The nightly warehouse runs on the BigQuery emulator, over a full 90-day window of events.

Loads ``--days`` days of sample events (``localcloud.history``: received on their own day, as in
production; each user's events in a few sessions of their own) through the capture pipeline,
fills the partial table ``user_daily`` for the whole window once (the first deploy's backfill),
then times every scheduled query's script for today's run date (median of ``--repeats``) and
each feature table's full rebuild (the same query, ``user_daily`` computed from the 90 days of
raw partitions in place of the table), checks that both give the same rows, and counts the rows
each reads.

Rows read are counted from the data loaded (``event_capture.cost.sizes``, which the cost model
uses too), for each table a script reads (``cost.reads``) in the partitions its filter
selects: the emulator neither prunes partitions nor reports bytes billed. BigQuery bills bytes
of the columns read, not rows: ``user_daily`` holds a user-day's items in repeated fields, so
the rows-and-items figure beside it is the fairer comparison.
The day-scoped queries (search aggregates, data quality) read two days of partitions through
inlined de-duplication; their same-run baseline is the same query over the 90-day views.
"""

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial

from google.cloud import bigquery

from bench.results import recorded
from event_capture.cost.sizes import NOTHING, Scanned, run_date_config, scanned
from event_capture.warehouse.catalog import (
    DATA_QUALITY,
    EVENT_TABLES,
    FEATURE_TABLES,
    PARTIAL_TABLES,
    SCHEDULED_TABLES,
    SEARCH_DAILY,
    ScheduledTable,
)
from event_capture.warehouse.full_rebuild import full_rebuild, full_rebuild_sql
from event_capture.warehouse.render import render, scheduled_sql
from localcloud.cloud import CloudSettings, LocalCloud
from localcloud.history import History, load_history
from localcloud.processes import STATE_DIR
from localcloud.warehouse import (
    backfill_partials,
    create_table,
    create_warehouse,
    run_all,
    run_script,
)

SETTINGS = CloudSettings(
    project="warehouse-bench",
    bucket="warehouse-bench-events",
    log_dir=STATE_DIR / "logs" / "warehouse-bench",
    persistent_gcs=False,
)
DATASETS = SETTINGS.warehouse_datasets


def timed(run: Callable[[], object], repeats: int) -> float:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def run_query(client: bigquery.Client, sql: str, run_date: dt.date) -> None:
    client.query(sql, job_config=run_date_config(run_date)).result()


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
    fixture = History()
    parser.add_argument("--days", type=int, default=fixture.days)
    parser.add_argument("--events-per-day", type=int, default=fixture.events_per_day)
    parser.add_argument("--users", type=int, default=fixture.users)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=fixture.seed)
    args = parser.parse_args()

    with LocalCloud(SETTINGS) as cloud:
        client = cloud.bigquery_client()
        create_warehouse(client, DATASETS)
        for spec in FEATURE_TABLES:
            create_table(client, full_rebuild(spec), DATASETS)
        started = time.perf_counter()
        history = History(
            days=args.days, events_per_day=args.events_per_day, users=args.users, seed=args.seed
        )
        stored = load_history(cloud, history)
        print(
            f"loaded {stored:,} events over {args.days} days "
            f"({args.events_per_day:,}/day, {args.users} users) "
            f"in {time.perf_counter() - started:.0f} s"
        )
        run_date = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
        started = time.perf_counter()
        backfill_partials(client, DATASETS, run_date)
        print(f"backfilled user_daily's {args.days} days in {time.perf_counter() - started:.1f} s")

        # run_all: a data-quality run that finds a failed rule still counts as timed.
        scripts = [
            (spec, partial(run_all, client, DATASETS, run_date, [spec]))
            for spec in SCHEDULED_TABLES
        ] + [
            (
                full_rebuild(spec),
                partial(run_script, client, full_rebuild_sql(spec, DATASETS), run_date),
            )
            for spec in FEATURE_TABLES
        ]
        print(f"\n{'scheduled script':<30}{'median s':>10}")
        # By schedule: user_recommendations and its full rebuild read product_recommendations.
        for spec, run in sorted(scripts, key=lambda script: script[0].schedule):
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
            ours = scanned(client, scheduled_sql(spec, DATASETS), DATASETS, run_date)
            # The full build has no partial table: each feature query computes it from the raw
            # window.
            theirs = (
                scanned(client, full_rebuild_sql(spec, DATASETS), DATASETS, run_date)
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

        recent = scanned(client, render(SEARCH_DAILY.sql_file, DATASETS), DATASETS, run_date).rows
        views = {f"recent_{t}": f"`{DATASETS.events}.{t}_dedup`" for t in EVENT_TABLES}
        whole = scanned(
            client, render(SEARCH_DAILY.sql_file, DATASETS, **views), DATASETS, run_date
        ).rows
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
    sys.exit(recorded("warehouse_nightly", main))
