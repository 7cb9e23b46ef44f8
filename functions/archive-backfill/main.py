"""The archive backfill's entry point (Cloud Functions gen2, Cloud Scheduler's messages through
Pub/Sub): ``event_capture.archive_backfill.function``."""

import functions_framework
from cloudevents.http import CloudEvent

from event_capture.archive_backfill.config import load_backfill_config
from event_capture.archive_backfill.function import build_backfill

FUNCTION = build_backfill(load_backfill_config())


@functions_framework.cloud_event
def backfill_archive(event: CloudEvent) -> None:
    """Write the settled hours' archive gaps (see ``BackfillFunction``)."""
    FUNCTION(event)
