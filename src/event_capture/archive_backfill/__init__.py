"""The scheduled archive backfill: a placeholder until the backfill's logic moves here from
``tools/backfill_archive.py``; it declares what that logic calls, for the IAM proof."""

from event_capture.platform.api_calls import ARCHIVE_BUCKET, EVENT_TABLES, ApiCall, query_job

NOT_YET = "the archive backfill's logic is still in tools/backfill_archive.py"

API_CALLS = (
    *query_job(reads=EVENT_TABLES),
    ApiCall("storage.objects.list", ARCHIVE_BUCKET),
    ApiCall("storage.objects.get", ARCHIVE_BUCKET),
    ApiCall("storage.objects.insert", ARCHIVE_BUCKET),
)
