"""Write to the archive the events BigQuery holds and the archive lacks, for a time range:
``python -m tools.backfill_archive --from 2026-11-28T00:00Z --to 2026-11-29T00:00Z [--dry-run]``.

The operator's command over ``event_capture.archive_backfill`` (what it reads and writes, and
how each line is rebuilt, is said there); the ``archive-backfill`` function runs the same over
the last settled hours on a schedule. Use it for a range the schedule no longer covers (a
Cloud Storage outage longer than its lookback, say). Run one backfill at a time, after
``make replay`` (dead letters reach BigQuery only then), for a range that ended at least
``BACKFILL_SETTLE_SECONDS`` (``contracts/archive_layout.py``) ago: until then an instance may
still write its buffered lines of it.

Runs with the same configuration variables as the function (``GCP_PROJECT``,
``BIGQUERY_DATASET``, ``GCS_BUCKET``, the emulator hosts), under an identity that may run
BigQuery queries, read the tables and list, read and create objects in the archive bucket.
"""

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TextIO

from event_capture.archive_backfill.backfill import (
    API_CALLS as API_CALLS,
)
from event_capture.archive_backfill.backfill import (
    SETTLE,
    BackfillError,
    backfill,
    table_refs,
)
from event_capture.ingest import clients
from event_capture.ingest.config import Config, ConfigError, load_config
from event_capture.ingest.retry import describe
from event_capture.ingest.sinks.gcs_objects import NdjsonWriter
from event_capture.platform.bigquery_surface import BigQueryQueries
from tools.cli import OneLineParser, parse_moment

PROG = "backfill_archive"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    assert __doc__ is not None
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    when = "ISO 8601 with an offset (2026-11-28T00:00Z), or a date for its 00:00 UTC"
    parser.add_argument("--from", dest="start", required=True, help=f"inclusive; {when}")
    parser.add_argument(
        "--to",
        dest="end",
        required=True,
        help=f"exclusive, {SETTLE.seconds // 60}+ minutes ago; same forms",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="count and list what would be written, write nothing"
    )
    return parser.parse_args(argv)


def _table_refs(config: Config) -> dict[str, str]:
    try:
        config.check_dataset()
    except ValueError as error:
        raise BackfillError(str(error)) from None
    return table_refs(config.project, config.bigquery_dataset)


def main(
    argv: list[str] | None = None,
    config: Config | None = None,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    bigquery_client: BigQueryQueries | None = None,
    writer: NdjsonWriter | None = None,
    out: TextIO | None = None,
    progress: TextIO | None = None,
) -> int:
    """Exit status 0 when every missing event was written (or, dry, counted), 1 when some
    could not be, 2 for a usage or configuration error; errors are one line on stderr."""
    out, progress = out or sys.stdout, progress or sys.stderr
    args = _arguments(argv)
    try:
        try:
            start = parse_moment(args.start, "--from")
            end = parse_moment(args.end, "--to")
        except ValueError as error:
            raise BackfillError(str(error)) from None
        if start >= end:
            raise BackfillError(f"--from must be before --to, got {args.start} and {args.end}")
        if end > now() - SETTLE:
            raise BackfillError(
                f"--to: must be at least {SETTLE.seconds // 60} minutes ago, got {args.end} "
                "(requests still in flight may yet archive their events)"
            )
        try:
            config = config or load_config()
        except ConfigError as error:
            raise BackfillError(str(error)) from None
        if not config.gcs_bucket:
            raise BackfillError("GCS_BUCKET: required (the bucket whose archive/ is backfilled)")
        table_refs = _table_refs(config)
    except BackfillError as error:
        print(f"{PROG}: {error}", file=progress)
        return 2
    writer = writer or NdjsonWriter(
        partial(clients.storage_client, config),
        bucket=config.gcs_bucket,
        deadline_seconds=config.gcs_deadline_seconds,
    )
    try:
        reports = backfill(
            writer,
            bigquery_client or clients.bigquery_client(config),
            table_refs=table_refs,
            start=start,
            end=end,
            dry_run=args.dry_run,
            out=out,
            progress=progress,
        )
    except BackfillError as error:
        print(f"{PROG}: {error}", file=progress)
        return 1
    except Exception as error:  # noqa: BLE001 - one line for the operator, not a traceback
        print(f"{PROG}: {describe(error)}", file=progress)
        return 1
    return 1 if any(report.not_rebuilt for report in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
