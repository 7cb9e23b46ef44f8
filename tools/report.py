"""``make report``: the analytics report, one self-contained HTML page (no CDN, no network when
opened) from the analytics dataset, its views and the routed capture log.

Locally (no ``--project``) it reads ``make run``'s local cloud on its fixed ports. Nothing routes
logs there, so it first writes the request lines of the local log files (``--capture-log``,
default the capture function's and the collector's under ``.localcloud/logs/``) into the table a
Cloud Logging sink fills in the cloud (``localcloud/log_sink.py``, a stand-in for that sink).

With ``--project P`` it reads the deployed project with Application Default Credentials
(``gcloud auth application-default login``): ``P.analytics``, ``P.events`` (reorder counts
only) and ``P.capture_logs``; the identity needs BigQuery Job User on the project and Data
Viewer on those datasets.
"""

import argparse
import datetime as dt
import sys
from pathlib import Path

from google.auth.exceptions import DefaultCredentialsError
from google.cloud import bigquery

from event_capture.report import capture_log, page
from event_capture.report.queries import Period, Sources, fetch
from event_capture.warehouse.catalog import DEFAULT_MIN_USERS
from localcloud.cloud import REQUEST_LOGS

DEFAULT_DAYS = 28


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--project", help="a deployed project (default: make run's local cloud)")
    parser.add_argument("--events-dataset", default="events", help="the stack's datasetId")
    parser.add_argument(
        "--analytics-dataset", default="analytics", help="the stack's analyticsDatasetId"
    )
    parser.add_argument(
        "--capture-logs-dataset",
        default=capture_log.DATASET,
        help="the dataset the capture log sink writes into",
    )
    parser.add_argument(
        "--until",
        type=dt.date.fromisoformat,
        default=dt.datetime.now(dt.UTC).date(),
        help="the report's last day (default: today, UTC)",
    )
    parser.add_argument(
        "--days", type=int, default=DEFAULT_DAYS, help=f"how many days (default {DEFAULT_DAYS})"
    )
    parser.add_argument("--output", type=Path, default=Path("report.html"), help="the page")
    parser.add_argument(
        "--capture-log",
        type=Path,
        action="append",
        help="locally: a log file whose request lines to route (repeatable; default: "
        + ", ".join(f".localcloud/logs/{name}" for name in REQUEST_LOGS)
        + ")",
    )
    parser.add_argument(
        "--min-users",
        type=int,
        default=DEFAULT_MIN_USERS,
        help="the stack's aggregateMinUsers (k), as the page explains it",
    )
    return parser.parse_args(argv)


def _local(args: argparse.Namespace) -> tuple[bigquery.Client, Sources, str]:
    """make run's cloud, with the local log lines routed into the capture log table."""
    # Imported here: a report of a deployed project needs none of the local cloud.
    from localcloud.cloud import LocalCloud
    from localcloud.log_sink import route_files
    from localcloud.processes import port_open
    from localcloud.run import run_settings

    settings = run_settings()
    if not port_open(settings.bigquery_port):
        sys.exit(
            f"error: no BigQuery emulator on 127.0.0.1:{settings.bigquery_port} "
            "(BIGQUERY_EMULATOR_PORT); start the local cloud with `make run` first, "
            "or pass --project for a deployed one"
        )
    client = LocalCloud(settings).bigquery_client()
    sources = Sources(
        datasets=settings.warehouse_datasets,
        capture_log_table=capture_log.table_id(settings.project, args.capture_logs_dataset),
    )
    paths = args.capture_log or [settings.log_dir / name for name in REQUEST_LOGS]
    found = [path for path in paths if path.is_file()]
    routed = route_files(client, sources.capture_log_table, found)
    shown = ", ".join(str(path) for path in found) or "no local log file found"
    print(f"{sources.capture_log_table}: {routed} request lines routed from {shown}")
    where = (
        f"routed by make report from {shown} (a local stand-in for the Cloud Logging sink; "
        "local lines carry no time, so each file's lines are dated by its last write)"
    )
    return client, sources, where


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.project:
        try:
            client = bigquery.Client(project=args.project)
        except DefaultCredentialsError as error:
            sys.exit(f"error: {error}\nrun: gcloud auth application-default login")
        sources = Sources.of_project(
            args.project,
            events=args.events_dataset,
            analytics=args.analytics_dataset,
            capture_logs=args.capture_logs_dataset,
        )
        where = f"{sources.capture_log_table}, filled by the Cloud Logging sink"
    else:
        client, sources, where = _local(args)
    period = Period.ending(args.until, args.days)
    data = fetch(client, sources, period)
    html = page.render(
        data,
        sources,
        generated_at=dt.datetime.now(dt.UTC),
        min_users=args.min_users,
        capture_source=where,
    )
    args.output.write_text(html, encoding="utf-8")
    print(f"wrote {args.output} ({period.start} to {period.end}): file://{args.output.resolve()}")


if __name__ == "__main__":
    main()
