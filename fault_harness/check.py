"""After the run: the dead letters replayed, then what BigQuery holds of the run's events."""

import io
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from google.cloud import bigquery

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
