"""The materializer function: the run notifications of the last nightly feature query in
(Pub/Sub through Eventarc), a succeeded run's snapshot loaded into Redis (``materialize``).

A message that cannot be read is logged and dropped (a redelivery would not read better); a
failure to read BigQuery or write Redis raises, so the trigger delivers the message again later.
"""

import os
from collections.abc import Callable
from functools import partial
from typing import Any

from cloudevents.http import CloudEvent

from event_capture.contracts import log_fields as log
from event_capture.features.config import MaterializerConfig, redis_client
from event_capture.features.materialize import materialize
from event_capture.features.notification import SUCCEEDED, NotificationError, parse_run
from event_capture.platform import clients
from event_capture.platform.bigquery_surface import BigQueryQueries
from event_capture.platform.log_line import write_log_line
from event_capture.platform.redis_surface import SnapshotRedis

# One load at a time: requests' own pool size is plenty.
CONNECTIONS = 10


class MaterializerFunction:
    def __init__(
        self,
        *,
        bigquery: Callable[[], BigQueryQueries],
        redis: Callable[[], SnapshotRedis],
        events_dataset: str,
    ) -> None:
        self._bigquery = bigquery
        self._redis = redis
        self._events_dataset = events_dataset

    def __call__(self, event: CloudEvent) -> None:
        try:
            run = parse_run(event.data)
        except NotificationError as error:
            _log("ERROR", outcome="refused", rule="notification_invalid", detail=str(error))
            return
        if run.state != SUCCEEDED:
            _log("WARNING", outcome="skipped", run_state=run.state, snapshot_date=run.snapshot_date)
            return
        result = materialize(
            self._bigquery(), self._redis(), self._events_dataset, snapshot_date=run.snapshot_date
        )
        if result is None:
            _log("WARNING", outcome="no_snapshot", snapshot_date=run.snapshot_date)
            return
        _log(
            "INFO",
            outcome="loaded" if result.changed else "unchanged",
            snapshot=result.snapshot,
            users=result.users,
            products=result.products,
            replaced=result.replaced,
            instance=os.environ.get("K_REVISION"),
        )


def _log(severity: str, **fields: Any) -> None:
    write_log_line({log.SEVERITY: severity, log.MESSAGE: log.MATERIALIZE_MESSAGE, **fields})


def build_materializer(config: MaterializerConfig) -> MaterializerFunction:
    return MaterializerFunction(
        bigquery=partial(
            clients.bigquery_client,
            config.project,
            config.bigquery_emulator_host,
            connections=CONNECTIONS,
        ),
        redis=partial(redis_client, config),
        events_dataset=f"{config.project}.{config.bigquery_dataset}",
    )
