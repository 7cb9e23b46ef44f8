"""The capture function's answer to a request whose events reached the pipeline: the status,
the body (``schemas.responses.CaptureResponse``) and the log line, from the pipeline's outcome.

| status | when |
| --- | --- |
| 200 | every event accepted and durable, or dropped for a suppressed user (``suppressed``) |
| 207 | some rejected (each named), the others accepted and durable |
| 400 | no valid event |
| 503 + Retry-After | valid events could not be stored durably: resend the request |
"""

from typing import Any

from event_capture.contracts import log_fields as log
from event_capture.contracts.capture import CaptureOutcome
from event_capture.ingest.limits import RETRY_AFTER_SECONDS
from event_capture.platform.answer import Answer
from event_capture.schemas.responses import CaptureResponse


def capture_answer(outcome: CaptureOutcome) -> Answer:
    headers: dict[str, str] = {}
    error = None
    if not outcome.valid:
        status, error = 400, "no valid events in the request"
    elif not outcome.durable:
        status = 503
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        error = (
            f"{outcome.not_stored} valid events could not be stored durably; "
            f"resend the request after {RETRY_AFTER_SECONDS} s"
        )
    else:
        status = 207 if outcome.rejections else 200
    body = CaptureResponse(
        request_id=outcome.request_id,
        received=outcome.received,
        accepted=outcome.accepted,
        suppressed=outcome.suppressed,
        rejected=len(outcome.rejections),
        rejections=outcome.rejections,
        sinks=outcome.sinks,
        error=error,
    )
    return Answer(
        status=status,
        body=body.model_dump(mode="json", exclude_defaults=True),
        headers=headers,
        log=_log_line(outcome, status),
    )


def _log_line(outcome: CaptureOutcome, status: int) -> dict[str, Any]:
    return {
        log.SEVERITY: outcome.severity(),
        log.MESSAGE: log.CAPTURE_MESSAGE,
        log.HTTP_STATUS: status,
        log.LATENCY_MS: outcome.latency_ms,
        log.EVENTS_RECEIVED: outcome.received,
        log.EVENTS_ACCEPTED: outcome.accepted,
        log.EVENTS_REJECTED: len(outcome.rejections),
        log.REJECTED_RULES: outcome.rejected_rules(),
        **outcome.log_fields(),
    }
