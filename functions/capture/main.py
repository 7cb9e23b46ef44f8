"""The capture function's entry point (Cloud Functions gen2): ``event_capture.ingest.function``.

The configuration is read once per instance: a bad one stops the instance at start-up with a
message naming the variable, instead of failing every request.
"""

import flask
import functions_framework

from event_capture.ingest.config import load_config
from event_capture.ingest.function import build_capture, flush_archive_at_exit
from event_capture.ingest.wiring import build_pipeline
from event_capture.platform.serving import serve

CONFIG = load_config()
PIPELINE = build_pipeline(CONFIG)
FUNCTION = build_capture(CONFIG, PIPELINE)
VIEW = serve(FUNCTION)
flush_archive_at_exit(PIPELINE)


@functions_framework.http
def capture(request: flask.Request) -> flask.Response:
    """Capture one event or a batch of events (see ``CaptureFunction``)."""
    return VIEW(request)
