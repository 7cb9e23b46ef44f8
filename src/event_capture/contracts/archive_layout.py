"""Where the archive's objects are and how they are named: written by the capture pipeline,
listed by the cost guard's load and by the operator tools.

``<area>/dt=YYYY-MM-DD/hour=HH/<time>-<id>.ndjson``: Hive-style ``dt=``/``hour=`` folders let
a load or a listing pick one day or hour, and the id (a request's, or an instance's and its
flush's) makes every name unique, so create-only writes never clash.

The times below are one contract between the capture instances' group commit and the scheduled
backfill (``event_capture.archive_backfill``), which writes what BigQuery holds and the archive
lacks. No line may be written by both. The backfill looks only at lines received at least
``BACKFILL_SETTLE_SECONDS`` before it lists the archive; an instance writes a line at most
``MAX_LINE_AGE_SECONDS`` after it was received, plus one write's time (at most a request's whole
budget, ``MAX_REQUEST_DEADLINE_SECONDS``), and drops an older one (the backfill writes it). The
settle time exceeds that sum with minutes to spare for clocks that disagree, so a line the
backfill finds missing can no longer be written by an instance, and a line an instance may still
write is one the backfill does not look at yet.
"""

import datetime as dt

from event_capture.contracts.timing import MAX_REQUEST_DEADLINE_SECONDS

ARCHIVE_AREA = "archive"

# Group commit: an instance writes the archive lines of many requests as one object, at most
# this long after the oldest of them was accepted (a Class A operation per object, not per
# request). The capture configuration's ARCHIVE_FLUSH_SECONDS defaults to it; the cost model
# counts objects with it.
FLUSH_SECONDS = 60.0
# Lines an instance lost (killed before its flush) are written by the scheduled backfill,
# which runs this often over the hours this far back.
BACKFILL_EVERY_MINUTES = 60
BACKFILL_LOOKBACK_HOURS = 3
# An instance never writes a line received longer ago than this (an idle instance's, or one a
# failing flush kept): the backfill writes it instead (the rule above).
MAX_LINE_AGE_SECONDS = 300.0
# Slack for the instances' and the backfill's clocks, which may disagree.
CLOCK_SLACK_SECONDS = 300.0
# The backfill covers only lines received at least this long before its run.
BACKFILL_SETTLE_SECONDS = MAX_LINE_AGE_SECONDS + MAX_REQUEST_DEADLINE_SECONDS + CLOCK_SLACK_SECONDS


def object_name(folder: str, received_at: dt.datetime, request_id: str) -> str:
    """``folder/dt=YYYY-MM-DD/hour=HH/<time>-<request>.ndjson``."""
    return (
        f"{folder}/dt={received_at:%Y-%m-%d}/hour={received_at:%H}/"
        f"{received_at:%Y%m%dT%H%M%S}-{request_id}.ndjson"
    )


def day_prefix(folder: str, day: dt.date) -> str:
    """The prefix of every object of ``folder`` received on ``day``."""
    return f"{folder}/dt={day:%Y-%m-%d}/"


def hour_of(name: str) -> dt.datetime | None:
    """The hour of ``<area>/dt=YYYY-MM-DD/hour=HH/...``; None for any other name."""
    parts = name.split("/")
    if len(parts) != 4 or not parts[1].startswith("dt=") or not parts[2].startswith("hour="):
        return None
    try:
        return dt.datetime.strptime(f"{parts[1][3:]} {parts[2][5:]}", "%Y-%m-%d %H").replace(
            tzinfo=dt.UTC
        )
    except ValueError:
        return None
