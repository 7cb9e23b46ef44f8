"""Days of sample events, each day received on its own day as in production: the history the
warehouse benchmark and the cost model's measurements run the nightly scripts over.

Each user's events of a day fall in a few sessions of their own (the partial table's rows are
per user and day), and every event goes through the capture pipeline's BigQuery sink, so the
rows are exactly what the function stores.
"""

import datetime as dt
import random
from dataclasses import dataclass
from functools import partial

from event_capture.ingest.answer import capture_answer
from event_capture.ingest.pipeline import CapturePipeline
from event_capture.ingest.wiring import bigquery_sink
from localcloud.cloud import LocalCloud
from localcloud.sample_events import FAMILY_EVENT_TYPES, sample_event

BATCH = 500
SESSIONS_PER_USER_DAY = 3


@dataclass(frozen=True, kw_only=True)
class History:
    days: int = 90
    events_per_day: int = 1000
    users: int = 50
    seed: int = 7


def history_mix() -> dict[str, float]:
    """The share of each event type in a history: drawn uniformly from the families' samples."""
    return {t: FAMILY_EVENT_TYPES.count(t) / len(FAMILY_EVENT_TYPES) for t in FAMILY_EVENT_TYPES}


def _fixed(moment: dt.datetime) -> dt.datetime:
    return moment


def load_history(cloud: LocalCloud, history: History) -> int:
    """Load ``history`` into the cloud's event tables, ending today; the events stored."""
    sink = bigquery_sink(cloud.config(GCS_ENABLED="false", BIGQUERY_DEADLINE_SECONDS="120"))
    rng = random.Random(history.seed)
    today = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    stored = 0
    for back in range(history.days - 1, -1, -1):
        noon = today - dt.timedelta(days=back)
        pipeline = CapturePipeline(
            bigquery=sink, dead_letter=None, archive=None, redis=None, clock=partial(_fixed, noon)
        )
        events = []
        for _ in range(history.events_per_day):
            user = rng.randrange(history.users)
            session = f"s_{back}_{user:04d}_{rng.randrange(SESSIONS_PER_USER_DAY)}"
            event_type = rng.choice(FAMILY_EVENT_TYPES)
            events.append(sample_event(event_type, f"u_{user:04d}", session, noon, rng))
        for start in range(0, len(events), BATCH):
            result = capture_answer(pipeline.handle(events[start : start + BATCH], batch=True))
            stored += result.body["accepted"]
    return stored
