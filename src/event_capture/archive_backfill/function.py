"""The scheduled archive backfill: on each message (Cloud Scheduler through Pub/Sub), the
ranges of the last ``archive_layout.BACKFILL_LOOKBACK_HOURS`` that have settled, one log line
out.

The range is ``[now - BACKFILL_LOOKBACK_HOURS, now - BACKFILL_SETTLE_SECONDS)``: the run every
``BACKFILL_EVERY_MINUTES`` overlaps the ones before it, so a run that failed is made good by the
next ones, and a range already complete costs two narrow queries and a listing. A failure
raises, so Pub/Sub delivers the message again; every step is safe to repeat.
"""

import datetime as dt
import io
from collections.abc import Callable
from functools import partial

from cloudevents.http import CloudEvent

from event_capture.archive_backfill.backfill import (
    DOWNLOAD_THREADS,
    SETTLE,
    TableReport,
    backfill,
    table_refs,
)
from event_capture.archive_backfill.config import BackfillConfig
from event_capture.contracts import log_fields as log
from event_capture.contracts.archive_layout import BACKFILL_LOOKBACK_HOURS
from event_capture.ingest.sinks.gcs_objects import NdjsonWriter
from event_capture.platform import clients
from event_capture.platform.bigquery_surface import BigQueryQueries
from event_capture.platform.config import ConfigError
from event_capture.platform.log_line import write_log_line

LOOKBACK = dt.timedelta(hours=BACKFILL_LOOKBACK_HOURS)


def scheduled_range(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The range a run at ``now`` backfills."""
    return now - LOOKBACK, now - SETTLE


class BackfillFunction:
    def __init__(
        self,
        writer: NdjsonWriter,
        bigquery: Callable[[], BigQueryQueries],
        *,
        table_refs: dict[str, str],
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._writer = writer
        self._bigquery = bigquery
        self._table_refs = table_refs
        self._clock = clock

    def __call__(self, event: CloudEvent | None = None) -> list[TableReport]:
        """Backfill the settled range; the message's content does not matter."""
        start, end = scheduled_range(self._clock())
        progress = io.StringIO()
        reports = backfill(
            self._writer,
            self._bigquery(),
            table_refs=self._table_refs,
            start=start,
            end=end,
            out=io.StringIO(),
            progress=progress,
        )
        not_rebuilt = sum(report.not_rebuilt for report in reports)
        write_log_line(
            {
                log.SEVERITY: "WARNING" if not_rebuilt else "INFO",
                log.MESSAGE: log.BACKFILL_MESSAGE,
                log.BACKFILL_FROM: start.isoformat(),
                log.BACKFILL_TO: end.isoformat(),
                log.BACKFILL_IN_BIGQUERY: sum(report.in_bigquery for report in reports),
                log.BACKFILL_WRITTEN: sum(report.written for report in reports),
                log.BACKFILL_NOT_REBUILT: not_rebuilt,
                **({"detail": progress.getvalue()[-2000:]} if not_rebuilt else {}),
            }
        )
        return reports


def build_backfill(config: BackfillConfig) -> BackfillFunction:
    """The backfill of one instance; its clients are created on first use."""
    if not config.gcs_bucket:
        raise ConfigError("GCS_BUCKET: required (the bucket whose archive/ is backfilled)")
    config.check_dataset()
    # The platform's clients, not the capture pipeline's (ingest/clients.py): the backfill
    # neither streams nor appends, and the IAM proof reads what its function imports.
    writer = NdjsonWriter(
        partial(
            clients.storage_client,
            config.project,
            config.storage_emulator_host,
            connections=DOWNLOAD_THREADS,
        ),
        bucket=config.gcs_bucket,
        deadline_seconds=config.gcs_deadline_seconds,
    )
    return BackfillFunction(
        writer,
        partial(
            clients.bigquery_client,
            config.project,
            config.bigquery_emulator_host,
            connections=DOWNLOAD_THREADS,
        ),
        table_refs=table_refs(config.project, config.bigquery_dataset),
    )
