"""Event entry point of the materializer (Cloud Functions gen2, Pub/Sub through Eventarc).

Triggered by the run notifications of the last nightly feature query: a succeeded run's
snapshot is loaded into Redis (``event_capture.features.materialize``). A message that cannot be
read is logged and dropped (a redelivery would not read better); a failure to read BigQuery or
write Redis raises, so the trigger delivers the message again later.
"""

import json
import os
import sys
from typing import Any

import functions_framework
from cloudevents.http import CloudEvent

from event_capture.contracts.log_fields import MATERIALIZE_MESSAGE
from event_capture.features.config import load_features_config, redis_client
from event_capture.features.materialize import materialize
from event_capture.features.notification import SUCCEEDED, NotificationError, parse_run
from event_capture.ingest.config import load_config
from event_capture.platform import clients

# GCP_PROJECT, BIGQUERY_DATASET (and the emulator's host) as the capture function reads them;
# the materializer writes no Cloud Storage (GCS_ENABLED=false).
CONFIG = load_config()
FEATURES = load_features_config()
EVENTS_DATASET = f"{CONFIG.project}.{CONFIG.bigquery_dataset}"


def _log(severity: str, **fields: Any) -> None:
    line = {"severity": severity, "message": MATERIALIZE_MESSAGE, **fields}
    sys.stdout.write(json.dumps(line, separators=(",", ":"), default=str) + "\n")


@functions_framework.cloud_event
def materialize_snapshot(event: CloudEvent) -> None:
    try:
        run = parse_run(event.data)
    except NotificationError as error:
        _log("ERROR", outcome="refused", rule="notification_invalid", detail=str(error))
        return
    if run.state != SUCCEEDED:
        _log("WARNING", outcome="skipped", run_state=run.state, snapshot_date=run.snapshot_date)
        return
    result = materialize(
        clients.bigquery_client(CONFIG.project, CONFIG.bigquery_emulator_host, connections=10),
        redis_client(FEATURES),
        EVENTS_DATASET,
        snapshot_date=run.snapshot_date,
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
