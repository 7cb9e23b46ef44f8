"""HTTP entry point of the capture function (Cloud Functions gen2, functions-framework).

Kept thin: check the request, hand the events to the pipeline, shape the response. The logic
lives in ``ingest`` so tests use it without a server.
"""

import json
import sys
from typing import Any

import flask
import functions_framework

from event_capture.ingest import log_fields
from event_capture.ingest.config import load_config
from event_capture.ingest.http_contract import HttpError, check_request, parse_body
from event_capture.ingest.limits import MAX_REQUEST_BYTES
from event_capture.ingest.wiring import build_pipeline

# Read once per instance: bad configuration stops the instance at start-up with a message
# naming the variable, instead of failing every request. Clients are created on first use.
PIPELINE = build_pipeline(load_config())
MAX_READ = MAX_REQUEST_BYTES + 1


def _json_response(status: int, body: dict[str, Any], headers: dict[str, str]) -> flask.Response:
    response = flask.Response(
        json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json"
    )
    response.headers.update(headers)
    return response


def _refuse(error: HttpError) -> flask.Response:
    sys.stdout.write(
        json.dumps(
            {
                log_fields.SEVERITY: "WARNING",
                "message": log_fields.MESSAGE,
                log_fields.HTTP_STATUS: error.status,
                "error": error.message,
            }
        )
        + "\n"
    )
    return _json_response(error.status, error.body(), dict(error.headers))


@functions_framework.http
def capture(request: flask.Request) -> flask.Response:
    """Capture one event or a batch of events.

    Args:
        request: POST with ``application/json``: one event object, or ``{"events": [...]}``
            with at most 500 events and 1 MB.

    Returns:
        200 all accepted, 207 some rejected (each named by index, event_id, field and rule),
        400/405/413/415 for requests that cannot be captured as sent, 503 with Retry-After
        when the valid events could not be stored durably (resend the same request).
    """
    refused = check_request(request.method, request.mimetype, request.content_length)
    if refused is not None:
        return _refuse(refused)
    # Read one byte past the limit so a body without Content-Length is still capped.
    parsed = parse_body(request.stream.read(MAX_READ))
    if isinstance(parsed, HttpError):
        return _refuse(parsed)
    result = PIPELINE.handle(parsed.events, parsed.batch)
    # One line per request on stdout: Cloud Logging parses it into jsonPayload.
    sys.stdout.write(json.dumps(result.log, separators=(",", ":")) + "\n")
    return _json_response(result.status, result.body, result.headers)
