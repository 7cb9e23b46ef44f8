"""After the run: the dead letters replayed, then what BigQuery holds of the run's events; the
archive backfilled over the run's range, then what the archive holds of them."""

import io
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from google.cloud import bigquery

from event_capture.archive_backfill.backfill import backfill, table_refs
from event_capture.ingest import clients
from event_capture.ingest.sinks.gcs_objects import NdjsonWriter
from event_capture.ingest.wiring import bigquery_sink, dead_letter_writer
from event_capture.schemas.families import MODEL_BY_EVENT_TYPE
from fault_harness.senders import Batch
from fault_harness.target import Target
from localcloud.cloud import LocalCloud
from tools.replay import ReplayReport, bigquery_lookup, replay


@dataclass(frozen=True, kw_only=True)
class Check:
    """What BigQuery holds for the run's events, after replay."""

    sent: int
    acknowledged: int
    # Acknowledged events not in the _dedup views, and those in them more than once.
    missing: list[str]
    repeated_in_views: list[str]
    # Raw rows beyond the first per event_id, over every event sent.
    raw_duplicates: int
    # Events of batches never acknowledged that are stored anyway (allowed: the client gave up
    # on a batch the function had stored).
    unacknowledged_stored: int
    dead_letters_left: int


def replay_all(cloud: LocalCloud, target: Target, passes: int = 5) -> list[ReplayReport]:
    """Replay the target's dead letters until none is left (or ``passes`` runs)."""
    config = cloud.config(**target.env(), BIGQUERY_DEADLINE_SECONDS="60")
    reports = []
    for _ in range(passes):
        # As the operator's command does: events BigQuery already holds are not inserted again.
        report = replay(
            dead_letter_writer(config),
            bigquery_sink(config),
            progress=io.StringIO(),
            stored=bigquery_lookup(config),
        )
        reports.append(report)
        if report.still_failing == 0:
            break
        time.sleep(1)
    return reports


def check_stored(cloud: LocalCloud, target: Target, batches: Sequence[Batch]) -> Check:
    sent = [event for batch in batches for event in batch.events]
    acknowledged = {event["event_id"] for batch in batches for event in batch.accepted}
    client = cloud.bigquery_client()
    ids = [event["event_id"] for event in sent]
    tables = sorted({MODEL_BY_EVENT_TYPE[event["event_type"]].TABLE for event in sent})
    events = target.datasets.events
    in_views = _copies(client, [f"{events}.{table}_dedup" for table in tables], ids)
    raw = _copies(client, [f"{events}.{table}" for table in tables], ids)
    unacknowledged = {e["event_id"] for e in sent} - acknowledged
    dead_letters = list(cloud.bucket(target.bucket).list_blobs(prefix="dead-letter/"))
    return Check(
        sent=len(sent),
        acknowledged=len(acknowledged),
        missing=sorted(acknowledged - set(in_views)),
        repeated_in_views=sorted(i for i, n in in_views.items() if n > 1),
        raw_duplicates=sum(n - 1 for n in raw.values()),
        unacknowledged_stored=len(unacknowledged & set(raw)),
        dead_letters_left=len(dead_letters),
    )


def _copies(client: bigquery.Client, tables: Sequence[str], ids: Sequence[str]) -> Counter[str]:
    """Rows per event_id among ``ids`` in these tables (raw tables or their views), in one
    query: the emulator takes a moment per query."""
    if not tables:
        return Counter()
    union = " UNION ALL ".join(
        f"SELECT event_id FROM `{table}` "
        "WHERE received_at > TIMESTAMP('2000-01-01') AND event_id IN UNNEST(@ids)"
        for table in tables
    )
    job = client.query(
        f"SELECT event_id, COUNT(*) AS copies FROM ({union}) GROUP BY event_id",
        job_config=bigquery.QueryJobConfig(
            query_parameters=[bigquery.ArrayQueryParameter("ids", "STRING", list(ids))]
        ),
    )
    return Counter({row["event_id"]: int(row["copies"]) for row in job.result()})


@dataclass(frozen=True, kw_only=True)
class ArchiveCheck:
    """What the archive holds for the run's events, after the backfill."""

    # Lines the backfill wrote: events the instances accepted but never archived (a worker
    # killed with lines in its buffer, a write that met an outage and was then dropped).
    backfilled: int
    # Acknowledged events without a line in the archive, after the backfill.
    missing: list[str]
    # Archive lines beyond the first per event_id, over every event sent.
    duplicates: int


def backfill_run(cloud: LocalCloud, target: Target, start: datetime, end: datetime) -> int:
    """The scheduled backfill over the run's range, once nothing can write to it any more (the
    function is stopped); returns the lines it wrote."""
    config = cloud.config(**target.env())
    writer = NdjsonWriter(
        partial(clients.storage_client, config),
        bucket=target.bucket,
        deadline_seconds=60.0,
    )
    reports = backfill(
        writer,
        clients.bigquery_client(config),
        table_refs=table_refs(config.project, target.dataset),
        start=start,
        end=end,
        out=io.StringIO(),
        progress=io.StringIO(),
    )
    return sum(report.written for report in reports)


def check_archive(
    cloud: LocalCloud, target: Target, batches: Sequence[Batch], backfilled: int
) -> ArchiveCheck:
    sent = {event["event_id"] for batch in batches for event in batch.events}
    acknowledged = {event["event_id"] for batch in batches for event in batch.accepted}
    lines: Counter[str] = Counter()
    for text in cloud.objects("archive/", target.bucket).values():
        for line in text.splitlines():
            event_id = json.loads(line)["event_id"]
            if event_id in sent:
                lines[event_id] += 1
    return ArchiveCheck(
        backfilled=backfilled,
        missing=sorted(acknowledged - set(lines)),
        duplicates=sum(n - 1 for n in lines.values()),
    )
