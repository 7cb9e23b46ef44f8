"""``make nightly``: every scheduled query once on ``make run``'s local cloud, as the cloud runs
them at night: ``python -m tools.nightly --run-date D`` fills the tables for the day before D.
"""

import argparse
import datetime as dt
import sys

from event_capture.warehouse.catalog import SCHEDULED_TABLES, table_name
from localcloud.cloud import LocalCloud
from localcloud.processes import port_open
from localcloud.run import run_settings
from localcloud.warehouse import create_warehouse, run_all


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--run-date",
        type=dt.date.fromisoformat,
        default=dt.datetime.now(dt.UTC).date(),
        help="the scheduled run's date; it covers the day before (default: today, UTC)",
    )
    args = parser.parse_args(argv)
    settings = run_settings()
    if not port_open(settings.bigquery_port):
        sys.exit(
            f"error: no BigQuery emulator on 127.0.0.1:{settings.bigquery_port} "
            "(BIGQUERY_EMULATOR_PORT); start the local cloud with `make run` first"
        )
    client = LocalCloud(settings).bigquery_client()
    datasets = settings.warehouse_datasets
    create_warehouse(client, datasets)
    for failure in run_all(client, datasets, args.run_date):
        print(f"data quality: {failure}")
    for spec in SCHEDULED_TABLES:
        print(f"{table_name(spec, datasets)}: filled for the day before {args.run_date}")


if __name__ == "__main__":
    main()
