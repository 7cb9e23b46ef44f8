"""The archive backfill's entry point (Cloud Functions gen2, the hourly schedule's Pub/Sub
messages through Eventarc): ``event_capture.archive_backfill``.

A placeholder for the stack: the backfill moves here from ``tools/backfill_archive.py``."""

import functions_framework
from cloudevents.http import CloudEvent

from event_capture.archive_backfill import NOT_YET


@functions_framework.cloud_event
def backfill_archive(event: CloudEvent) -> None:
    """Archive what BigQuery holds and the archive lacks, over the last hours."""
    raise NotImplementedError(NOT_YET)
