"""HTTP entry point of the collector function (Cloud Functions gen2, functions-framework): the
Segment tracking API, so that Segment and RudderStack SDKs can send to the typed tables.

Kept thin like the capture function's: read the body within bounds, hand the request to the
collector (``event_capture.collector``), answer. Whatever a client sends, the answer is a
documented status with a JSON body and one JSON log line.
"""

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from event_capture.collector.config import load_collector_config
from event_capture.collector.contract import MAX_BATCH_BYTES
from event_capture.collector.handler import CollectorAnswer, CollectorRequest
from event_capture.collector.wiring import build_collector
from event_capture.contracts import log_fields
from event_capture.platform.answer import json_response
from event_capture.platform.body_reading import read_request_body
from event_capture.platform.log_line import write_log_line
from event_capture.platform.serving import answer_or_crash, serve_every_path

# Read once per instance: bad configuration (no write key, say) stops the instance at
# start-up with a message naming the variable. Clients are created on first use.
CONFIG = load_collector_config()
COLLECTOR = build_collector(CONFIG)
READ_TIMEOUT_SECONDS = CONFIG.capture.request_read_timeout_seconds


def _respond(answer: CollectorAnswer) -> flask.Response:
    write_log_line(answer.log)
    return json_response(answer.status, answer.body, answer.headers)


def _crash(error: BaseException) -> flask.Response:
    # A bug, not an input; the exception's type only, its text may hold request data.
    write_log_line(
        {
            log_fields.SEVERITY: "ERROR",
            "message": log_fields.COLLECTOR_MESSAGE,
            log_fields.HTTP_STATUS: 500,
            log_fields.RULE: "internal_error",
            log_fields.ERROR_TYPE: type(error).__name__,
        }
    )
    body = {"code": "internal_error", "message": "the batch was not stored; resend it later"}
    return json_response(500, body, {"X-Google-Status": "crash"})


def _collect(request: flask.Request) -> flask.Response:
    # Read (at most the limit, within the read timeout) even for a refusal, so a client still
    # sending gets the answer instead of a reset connection.
    body = read_request_body(request, READ_TIMEOUT_SECONDS, limit=MAX_BATCH_BYTES)
    answer = COLLECTOR.handle(
        CollectorRequest(
            method=request.method,
            path=request.path,
            mimetype=request.mimetype,
            content_length=request.content_length,
            content_encoding=request.headers.get("Content-Encoding"),
            authorization=request.headers.get("Authorization"),
            signature=request.headers.get("ElevenLabs-Signature"),
            origin=request.headers.get("Origin"),
            body=body,
        )
    )
    return _respond(answer)


_answer = answer_or_crash(_collect, _crash)


@functions_framework.http
def collector(request: flask.Request) -> flask.Response:
    """Take Segment tracking API calls: ``POST /v1/batch`` and the single-call routes, and the
    browser SDK's short routes (``/v1/t``, ``/v1/b``, ...) with their CORS preflights.

    Args:
        request: POST ``application/json`` or ``text/plain`` (optionally gzip), the write key
            as the Basic-auth user name or ``writeKey`` in the body.

    Returns:
        200 with counts for any batch (invalid and ignored calls counted, never stored), 400
        for a body that is not a batch, 401 for a missing or wrong key, 403 for a browser's
        page of an origin not in COLLECTOR_ALLOWED_ORIGINS, 404/405/408/413/415
        for requests that cannot be taken as sent, 503 with Retry-After when the valid
        events could not be stored durably (resend the batch).
    """
    return _answer(request)


def _http_error(error: HTTPException) -> flask.Response:
    status = error.code or 400
    body = {"code": f"http_{status}", "message": error.name.lower()}
    line = {
        log_fields.SEVERITY: "WARNING",
        "message": log_fields.COLLECTOR_MESSAGE,
        log_fields.HTTP_STATUS: status,
        log_fields.RULE: f"http_{status}",
        log_fields.POSITION: "request",
    }
    write_log_line(line)
    return json_response(status, body, {})


serve_every_path(_answer, crash=_crash, http_error=_http_error)
