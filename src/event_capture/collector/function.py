"""The collector function: the Segment tracking API (``POST /v1/batch``, the single-call routes,
the browser SDK's short routes with their CORS preflights) and ElevenLabs post-call webhooks,
in front of the capture pipeline.

Read the body within bounds, hand the request to the collector (``handler.Collector``), answer.
200 with counts for any batch (invalid and ignored calls counted, never stored), 400 for a body
that is not a batch, 401 for a missing or wrong key, 403 for a browser's page of an origin not
in COLLECTOR_ALLOWED_ORIGINS, 404/405/408/413/415 for requests that cannot be taken as sent,
429 with Retry-After past a client address's or client key's rate or a client key's daily cap
(limits.py), 200 without storing anything for a known crawler (bots.py), 503 with Retry-After
when the valid events could not be stored durably (resend the batch).
"""

import flask

from event_capture.collector.config import CollectorConfig
from event_capture.collector.contract import MAX_BATCH_BYTES
from event_capture.collector.handler import Collector, CollectorRequest, refuse
from event_capture.collector.identity import UserIdProofs
from event_capture.collector.limits import Edge, client_address
from event_capture.contracts.capture import Capture
from event_capture.platform.answer import Answer
from event_capture.platform.body_reading import read_request_body
from event_capture.platform.http_error import HttpError

# How long a refused request's unread body may take to arrive before its connection is closed.
UNREAD_BODY_GRACE_SECONDS = 0.05


class CollectorFunction:
    crash_message = "the batch was not stored; resend it later"

    def __init__(self, collector: Collector, *, read_timeout_seconds: float) -> None:
        self._collector = collector
        self._read_timeout = read_timeout_seconds

    def answer(self, request: flask.Request) -> Answer:
        # The body is read (at most the limit, within the read timeout) once the edge's limits
        # let the request through, and for any refusal after that, so a client still sending
        # gets the answer instead of a reset connection.
        read: list[bytes | HttpError] = []

        def body() -> bytes | HttpError:
            if not read:
                read.append(read_request_body(request, self._read_timeout, MAX_BATCH_BYTES))
            return read[0]

        answer = self._collector.handle(
            CollectorRequest(
                method=request.method,
                path=request.path,
                mimetype=request.mimetype,
                content_length=request.content_length,
                content_encoding=request.headers.get("Content-Encoding"),
                authorization=request.headers.get("Authorization"),
                signature=request.headers.get("ElevenLabs-Signature"),
                origin=request.headers.get("Origin"),
                address=client_address(request.headers.get("X-Forwarded-For"), request.remote_addr),
                user_agent=request.headers.get("User-Agent"),
                body=body,
            )
        )
        if not read:
            # Answered without its body (the edge, a wrong key, a crawler). gunicorn would
            # drain the rest in this thread for up to 5 s before taking the next request, so
            # ten stalled bodies from one address would still hold every thread: a body already
            # here is read (the connection is reused), one still arriving is cut off.
            read_request_body(request, UNREAD_BODY_GRACE_SECONDS, MAX_BATCH_BYTES)
        return answer

    def refusal(self, error: HttpError) -> Answer:
        return refuse(error)


def build_collector(config: CollectorConfig, capture: Capture) -> CollectorFunction:
    """The collector of one instance, in front of ``capture`` (the capture pipeline, built by
    its own package from the same configuration)."""
    collector = Collector(
        pipeline=capture,
        write_keys=config.write_keys,
        retry_after_seconds=config.retry_after_seconds,
        elevenlabs_secrets=config.elevenlabs_secrets,
        user_id_proofs=UserIdProofs(config.user_id_secrets),
        allowed_origins=config.allowed_origins,
        edge=Edge(
            address_rate=config.address_rate,
            address_burst=config.address_burst,
            in_flight=config.address_in_flight,
            key_rate=config.client_key_rate,
            key_burst=config.client_key_burst,
            daily_requests=config.daily_requests,
            daily_events=config.daily_events,
        ),
    )
    return CollectorFunction(collector, read_timeout_seconds=config.read_timeout_seconds)
