"""The nightly warehouse runs on the BigQuery emulator, over a full 90-day window of events.

Loads ``--days`` days of sample events (received on their own day, as in production) through
the capture pipeline's BigQuery sink, then times every scheduled query's script for today's run
date (median of ``--repeats``). The day-scoped queries (search aggregates, data quality) read
two days of partitions through inlined de-duplication; the same-run baseline is the same query
reading the 90-day ``_dedup`` views instead, which is what they would cost without it.

Emulator seconds are not BigQuery seconds, and the emulator does not prune partitions; the
ratio shows the work avoided, and BigQuery bills the bytes of the partitions read, which shrink
by about days / 2.
"""

import argparse
import datetime as dt
import random
import statistics
import time
from collections.abc import Callable
from functools import partial

from google.cloud import bigquery

from event_capture.ingest.pipeline import CapturePipeline
from event_capture.ingest.wiring import bigquery_sink
from event_capture.warehouse.catalog import (
    DATA_QUALITY,
    EVENT_TABLES,
    SCHEDULED_TABLES,
    SEARCH_DAILY,
    render,
)
from localcloud.cloud import CloudSettings, LocalCloud
from localcloud.processes import STATE_DIR
from localcloud.sample_events import FAMILY_EVENT_TYPES, sample_event
from localcloud.warehouse import create_warehouse, run_all

SETTINGS = CloudSettings(
    project="warehouse-bench",
    bucket="warehouse-bench-events",
    log_dir=STATE_DIR / "logs" / "warehouse-bench",
    persistent_gcs=False,
)
DATASETS = SETTINGS.warehouse_datasets
BATCH = 500


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
        events = [
            sample_event(
                rng.choice(FAMILY_EVENT_TYPES),
                f"u_{rng.randrange(users):04d}",
                f"s_{back}_{rng.randrange(users * 3):04d}",
                noon,
                rng,
            )
            for _ in range(per_day)
        ]
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


def rows_received_since(client: bigquery.Client, since: dt.date) -> int:
    """Rows of every event table received from ``since`` on: what BigQuery would scan."""
    counts = [
        f"(SELECT COUNT(*) FROM `{DATASETS.events}.{table}` "
        f"WHERE received_at >= TIMESTAMP('{since.isoformat()}'))"
        for table in EVENT_TABLES
    ]
    [row] = client.query("SELECT " + " + ".join(counts) + " AS n").result()
    return int(row["n"])


def run_query(client: bigquery.Client, sql: str, run_date: dt.date) -> None:
    job_config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("run_date", "DATE", run_date)]
    )
    client.query(sql, job_config=job_config).result()


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
        started = time.perf_counter()
        stored = load(cloud, args.days, args.events_per_day, args.users, args.seed)
        print(
            f"loaded {stored:,} events over {args.days} days "
            f"({args.events_per_day:,}/day, {args.users} users) "
            f"in {time.perf_counter() - started:.0f} s"
        )
        run_date = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)

        print(f"\n{'scheduled script':<28}{'median s':>10}")
        for spec in sorted(SCHEDULED_TABLES, key=lambda t: t.schedule):
            # run_all: a data-quality run that finds a failed rule still counts as timed.
            run = partial(run_all, client, DATASETS, run_date, [spec])
            print(f"{spec.name:<28}{timed(run, args.repeats):>10.2f}")

        window = partial(rows_received_since, client)
        recent_rows = window(run_date - dt.timedelta(days=2))
        all_rows = window(run_date - dt.timedelta(days=args.days + 1))
        print(
            f"\nrows in the partitions a day-scoped query reads: {recent_rows:,} "
            f"(2 days) against {all_rows:,} through the views ({all_rows / recent_rows:.0f}x)"
        )
        views = {f"recent_{t}": f"`{DATASETS.events}.{t}_dedup`" for t in EVENT_TABLES}
        print(f"\n{'day-scoped query':<22}{'2 days s':>10}{'90-day views s':>16}{'ratio':>8}")
        for spec in (SEARCH_DAILY, DATA_QUALITY):
            recent = render(spec.sql_file, DATASETS)
            whole = render(spec.sql_file, DATASETS, **views)
            fast = timed(partial(run_query, client, recent, run_date), args.repeats)
            slow = timed(partial(run_query, client, whole, run_date), args.repeats)
            print(f"{spec.name:<22}{fast:>10.2f}{slow:>16.2f}{slow / fast:>7.1f}x")


if __name__ == "__main__":
    main()
