"""``make nightly``: every scheduled query once on ``make run``'s local cloud, as the cloud runs
them at night: ``python -m tools.nightly --run-date D`` fills the tables for the day before D.

The feature tables are summed from the partial table ``user_daily``, which each night only
rebuilds for its last few days received. ``--backfill`` first fills its whole retention window
(on a cloud whose events predate it); ``--print-backfill PROJECT.DATASET`` prints that script
for a deployed events dataset, to run once with ``bq query`` after the first deploy.
"""

import argparse
import datetime as dt
import sys

from event_capture.warehouse.catalog import SCHEDULED_TABLES
from event_capture.warehouse.render import Datasets, backfill_sql, table_name
from localcloud.cloud import LocalCloud
from localcloud.processes import port_open
from localcloud.run import run_settings
from localcloud.warehouse import backfill_partials, create_warehouse, run_all


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--run-date",
        type=dt.date.fromisoformat,
        default=dt.datetime.now(dt.UTC).date(),
        help="the scheduled run's date; it covers the day before (default: today, UTC)",
    )
    parser.add_argument(
        "--backfill",
        action="store_true",
        help="first rebuild the partial tables' whole retention window up to the run date",
    )
    parser.add_argument(
        "--print-backfill",
        metavar="PROJECT.DATASET",
        help="print the backfill script for this events dataset and exit (nothing runs); "
        "run it with: bq query --nouse_legacy_sql --parameter=run_date:DATE:<today>",
    )
    args = parser.parse_args(argv)
    if args.print_backfill:
        # The partial tables read and write the events dataset alone.
        print(backfill_sql(Datasets(events=args.print_backfill, analytics="")))
        return
    settings = run_settings()
    if not port_open(settings.bigquery_port):
        sys.exit(
            f"error: no BigQuery emulator on 127.0.0.1:{settings.bigquery_port} "
            "(BIGQUERY_EMULATOR_PORT); start the local cloud with `make run` first"
        )
    client = LocalCloud(settings).bigquery_client()
    datasets = settings.warehouse_datasets
    create_warehouse(client, datasets)
    if args.backfill:
        backfill_partials(client, datasets, args.run_date)
    for failure in run_all(client, datasets, args.run_date):
        print(f"data quality: {failure}")
    for spec in SCHEDULED_TABLES:
        print(f"{table_name(spec, datasets)}: filled for the day before {args.run_date}")


if __name__ == "__main__":
    main()
