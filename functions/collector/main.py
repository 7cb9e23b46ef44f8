"""The collector's entry point (Cloud Functions gen2): ``event_capture.collector.function`` in
front of the capture pipeline (``event_capture.ingest``), both from one configuration.

Read once per instance: a bad configuration (no write key, say) stops the instance at start-up
with a message naming the variable.
"""

import flask
import functions_framework

from event_capture.collector.config import load_collector_config
from event_capture.collector.function import build_collector
from event_capture.ingest.function import flush_archive_at_exit
from event_capture.ingest.wiring import build_pipeline
from event_capture.platform.serving import serve

CONFIG = load_collector_config()
PIPELINE = build_pipeline(CONFIG)
FUNCTION = build_collector(CONFIG, capture=PIPELINE)
VIEW = serve(FUNCTION)
flush_archive_at_exit(PIPELINE)


@functions_framework.http
def collector(request: flask.Request) -> flask.Response:
    """Take Segment tracking API calls and ElevenLabs webhooks (see ``CollectorFunction``)."""
    return VIEW(request)
