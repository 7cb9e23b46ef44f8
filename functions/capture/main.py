"""HTTP entry point of the capture function (Cloud Functions gen2, functions-framework).

Kept thin: check the request, read its body within bounds, hand the events to the pipeline,
shape the response. The rules live in ``ingest`` so tests use them without a server. Whatever
a client sends, the answer is a documented status with a JSON body and one JSON log line.
"""

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from event_capture.contracts import log_fields
from event_capture.ingest.answer import capture_answer
from event_capture.ingest.body import parse_body
from event_capture.ingest.config import load_config
from event_capture.ingest.limits import MAX_REQUEST_BYTES
from event_capture.ingest.wiring import build_pipeline
from event_capture.platform.answer import json_response
from event_capture.platform.body_reading import read_request_body
from event_capture.platform.http_error import HttpError
from event_capture.platform.log_line import write_log_line
from event_capture.platform.request_checks import check_request
from event_capture.platform.serving import answer_or_crash, serve_every_path

# Read once per instance: bad configuration stops the instance at start-up with a message
# naming the variable, instead of failing every request. Clients are created on first use.
CONFIG = load_config()
PIPELINE = build_pipeline(CONFIG)
READ_TIMEOUT_SECONDS = CONFIG.request_read_timeout_seconds


def _refuse(error: HttpError) -> flask.Response:
    # The rule and its position, never the message: that may quote what the client sent.
    write_log_line(
        {
            log_fields.SEVERITY: "WARNING",
            "message": log_fields.CAPTURE_MESSAGE,
            log_fields.HTTP_STATUS: error.status,
            **error.log_fields(),
        }
    )
    return json_response(error.status, error.body(), dict(error.headers))


def _crash(error: BaseException) -> flask.Response:
    # A bug, not an input: the README promises no request gets a 500 for what it sent. The
    # exception's type only: its text may hold request data.
    write_log_line(
        {
            log_fields.SEVERITY: "ERROR",
            "message": log_fields.CAPTURE_MESSAGE,
            log_fields.HTTP_STATUS: 500,
            log_fields.RULE: "internal_error",
            log_fields.ERROR_TYPE: type(error).__name__,
        }
    )
    body = {"error": "internal error: the request was not captured; resend it later"}
    # functions-framework's own crash answer carries this header; the platform counts on it.
    return json_response(500, body, {"X-Google-Status": "crash"})


def _capture(request: flask.Request) -> flask.Response:
    encoding = request.headers.get("Content-Encoding")
    refused = check_request(
        request.method, request.mimetype, request.content_length, encoding, limit=MAX_REQUEST_BYTES
    )
    # Read (at most the limit, within the read timeout) even when refusing: a client still
    # sending a body it was refused then gets the answer instead of a reset connection.
    body = read_request_body(request, READ_TIMEOUT_SECONDS, MAX_REQUEST_BYTES)
    if refused is not None:
        return _refuse(refused)
    if isinstance(body, HttpError):
        return _refuse(body)
    parsed = parse_body(body, encoding)
    if isinstance(parsed, HttpError):
        return _refuse(parsed)
    answer = capture_answer(PIPELINE.handle(parsed.events, parsed.batch))
    write_log_line(answer.log)
    return json_response(answer.status, answer.body, answer.headers)


_answer = answer_or_crash(_capture, _crash)


@functions_framework.http
def capture(request: flask.Request) -> flask.Response:
    """Capture one event or a batch of events.

    Args:
        request: POST with ``application/json`` (optionally ``Content-Encoding: gzip``): one
            event object, or ``{"events": [...]}`` with at most 500 events and 1 MB.

    Returns:
        200 all accepted, 207 some rejected (each named by index, event_id, field and rule),
        400/405/408/413/415 for requests that cannot be captured as sent, 503 with
        Retry-After when the valid events could not be stored durably (resend the request).
    """
    return _answer(request)


def _http_error(error: HTTPException) -> flask.Response:
    # Anything else werkzeug refuses before the function runs.
    status = error.code or 400
    refused = HttpError(
        status=status, rule=f"http_{status}", message=error.name.lower(), position="request"
    )
    return _refuse(refused)


serve_every_path(_answer, crash=_crash, http_error=_http_error)
