"""The capture function: check the request, read its body within bounds, hand the events to
the pipeline, render its outcome (``answer.capture_answer``). Whatever a client sends, the
answer is a documented status with a JSON body and one JSON log line.

``POST`` ``application/json`` (optionally ``Content-Encoding: gzip``): one event object, or
``{"events": [...]}`` with at most 500 events and 1 MB. 200 all accepted, 207 some rejected
(each named by index, event_id, field and rule), 400/405/408/413/415 for requests that cannot be
captured as sent, 503 with Retry-After when the valid events could not be stored durably
(resend the request). The OpenAPI document is functions/capture/openapi.json.
"""

import atexit

import flask

from event_capture.contracts import log_fields as log
from event_capture.contracts.capture import Capture
from event_capture.contracts.capture_config import CaptureConfig
from event_capture.ingest.answer import capture_answer
from event_capture.ingest.body import parse_body
from event_capture.ingest.limits import MAX_REQUEST_BYTES
from event_capture.ingest.pipeline import CapturePipeline
from event_capture.ingest.wiring import build_pipeline
from event_capture.platform.answer import Answer
from event_capture.platform.body_reading import read_request_body
from event_capture.platform.http_error import HttpError
from event_capture.platform.log_line import write_log_line
from event_capture.platform.request_checks import check_request
from event_capture.platform.serving import refusal_line
from event_capture.schemas.responses import ErrorResponse


class CaptureFunction:
    crash_message = "internal error: the request was not captured; resend it later"

    def __init__(self, pipeline: Capture, *, read_timeout_seconds: float) -> None:
        self._pipeline = pipeline
        self._read_timeout = read_timeout_seconds

    def answer(self, request: flask.Request) -> Answer:
        encoding = request.headers.get("Content-Encoding")
        refused = check_request(
            request.method,
            request.mimetype,
            request.content_length,
            encoding,
            limit=MAX_REQUEST_BYTES,
        )
        # Read (at most the limit, within the read timeout) even when refusing: a client still
        # sending a body it was refused then gets the answer instead of a reset connection.
        body = read_request_body(request, self._read_timeout, MAX_REQUEST_BYTES)
        if refused is not None:
            return self.refusal(refused)
        if isinstance(body, HttpError):
            return self.refusal(body)
        parsed = parse_body(body, encoding)
        if isinstance(parsed, HttpError):
            return self.refusal(parsed)
        return capture_answer(self._pipeline.handle(parsed.events, parsed.batch))

    def refusal(self, error: HttpError) -> Answer:
        return Answer(
            status=error.status,
            body=ErrorResponse(error=error.message).model_dump(),
            headers=dict(error.headers),
            log=refusal_line(log.CAPTURE_MESSAGE, error),
        )


def build_capture(config: CaptureConfig, pipeline: Capture | None = None) -> CaptureFunction:
    """The capture function of one instance; its clients are created on first use."""
    return CaptureFunction(
        pipeline or build_pipeline(config),
        read_timeout_seconds=config.request_read_timeout_seconds,
    )


def flush_archive(pipeline: CapturePipeline) -> None:
    """Write the archive lines the instance still holds, and one log line saying so."""
    try:
        writes = pipeline.flush_archive()
    except Exception as error:  # noqa: BLE001 - the last line must still be written
        write_log_line(
            {
                log.SEVERITY: "ERROR",
                log.MESSAGE: log.ARCHIVE_FLUSH_MESSAGE,
                log.ERROR_TYPE: type(error).__name__,
            }
        )
        return
    if not any(writes.log_fields().values()):
        return  # an instance that held nothing has nothing to say
    failed = writes.lines_kept or writes.lines_dropped
    write_log_line(
        {
            log.SEVERITY: "WARNING" if failed else "INFO",
            log.MESSAGE: log.ARCHIVE_FLUSH_MESSAGE,
            **writes.log_fields(),
        }
    )


def flush_archive_at_exit(pipeline: CapturePipeline) -> None:
    """At the process's exit, write what the archive holds (``archive_group``). A gunicorn
    worker sent SIGTERM stops taking requests, answers those in flight and exits normally, so
    ``atexit`` runs in the worker, within the 10 s Cloud Run allows; the arbiter, which serves
    nothing, writes nothing. A SIGKILLed worker runs nothing: the scheduled backfill covers it."""
    atexit.register(flush_archive, pipeline)
