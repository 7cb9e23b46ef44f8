"""The materializer's entry point (Cloud Functions gen2, the nightly feature query's run
notifications through Eventarc): ``event_capture.features.materializer``."""

import functions_framework
from cloudevents.http import CloudEvent

from event_capture.features.config import load_materializer_config
from event_capture.features.materializer import build_materializer

FUNCTION = build_materializer(load_materializer_config())


@functions_framework.cloud_event
def materialize_snapshot(event: CloudEvent) -> None:
    """Load a succeeded run's snapshot into Redis (see ``MaterializerFunction``)."""
    FUNCTION(event)
