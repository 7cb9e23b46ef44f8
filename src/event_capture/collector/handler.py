"""One collector request, from its method, path, headers and body to the answer and the log
line: routes, write key, Segment body, mapping, then the capture pipeline.

Answers follow the SDKs' retry rules (they drop a whole batch on a 400, and
``rudder-sdk-python`` counts anything but 200 as a failure): a batch gets 200 even when some
of its calls are invalid or ignored, with the counts and each rejection's field and rule; 400
is only for a body that is not a batch at all; 503 with Retry-After when the valid events could
not be stored durably, which the SDKs resend with the same messageIds. Errors carry Segment's
``{"code", "message"}``, which the SDKs log. The log line names rules, never values or keys.
"""

import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from event_capture.collector import timestamps
from event_capture.collector.auth import KeyClass, WriteKey, WriteKeys, basic_user
from event_capture.collector.bots import is_crawler
from event_capture.collector.contract import (
    MAX_BATCH_BYTES,
    MAX_CALL_BYTES,
    ROUTES,
    Calls,
    calls_of,
    request_refusal,
    route,
    write_key_of,
)
from event_capture.collector.cors import (
    NO_ORIGINS,
    ORIGIN_NOT_ALLOWED,
    AllowedOrigins,
    answer_headers,
    preflight_headers,
)
from event_capture.collector.elevenlabs import SIGNATURE_HEADER, WebhookRefusal, handle_post_call
from event_capture.collector.identity import UserIdProofs
from event_capture.collector.limits import Edge, EdgeRefusal
from event_capture.collector.mapping import Ignored, Mapped, Refused, map_call, segment_field
from event_capture.contracts import log_fields as log
from event_capture.contracts import provenance
from event_capture.contracts.capture import Capture, CaptureOutcome
from event_capture.platform.answer import Answer
from event_capture.platform.http_error import HttpError
from event_capture.platform.json_body import parse_json
from event_capture.platform.request_checks import check_request
from event_capture.platform.serving import refusal_line
from event_capture.schemas.http_limits import RETRY_AFTER_SECONDS
from event_capture.schemas.responses import FieldError


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectorRequest:
    method: str
    path: str
    mimetype: str
    content_length: int | None
    content_encoding: str | None
    authorization: str | None
    # ElevenLabs' webhook signature header, for the post-call route.
    signature: str | None = None
    # A browser's Origin header (cors.py); None from server SDKs and webhooks.
    origin: str | None = None
    # The caller's address (limits.client_address) and User-Agent: the edge's limits and the
    # crawler filter. Neither is logged.
    address: str = "unknown"
    user_agent: str | None = None
    # The body (at most MAX_BATCH_BYTES + 1), or why it could not be read; or what reads it,
    # called only once the edge has let the request through.
    body: bytes | HttpError | Callable[[], bytes | HttpError]

    def read_body(self) -> bytes | HttpError:
        return self.body() if callable(self.body) else self.body


POST_CALL_ROUTE = "elevenlabs_post_call"
# The log line's rule for a known crawler's request (bots.py): counted, never stored.
CRAWLER_RULE = log.CRAWLER_IGNORED
# ElevenLabs posts to the URL configured for the webhook; under any prefix, like /v1/...
_POST_CALL = re.compile(r"(?:^|/)elevenlabs/post-call/?$")

NOT_FOUND = HttpError(
    status=404,
    rule="path_unknown",
    message="POST to /v1/batch, or /v1/" + ", /v1/".join(ROUTES[1:]) + " (under any prefix)",
    position="path",
)


def _unauthorized(rule: str, position: str) -> HttpError:
    reason = "is missing" if rule == "write_key_missing" else "is not valid"
    return HttpError(
        status=401,
        rule=rule,
        message=f"the write key {reason}: send it as the Basic-auth user name or as writeKey",
        position=position,
        headers=(("WWW-Authenticate", 'Basic realm="collector"'),),
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _request_id() -> str:
    return uuid.uuid4().hex[:16]


def _size(call: Any) -> int:
    text = json.dumps(call, ensure_ascii=False, separators=(",", ":"))
    return len(text.encode("utf-8", "surrogatepass"))


# Built once (json.dumps with options builds an encoder per call). ASCII-only, it writes 6 or
# 12 characters for a character of 2 to 4 UTF-8 bytes: never fewer than _size counts.
_ASCII_JSON = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def _too_large(call: Any, body_bytes: int | None) -> bool:
    """Whether a call is over MAX_CALL_BYTES. A call, even with the batch's context merged in,
    is made of parts of the body, so none is when the body as sent (``body_bytes``; None when
    compressed) is within the limit; otherwise only a call whose ASCII-only length is over it
    is measured exactly."""
    if body_bytes is not None and body_bytes <= MAX_CALL_BYTES:
        return False
    return len(_ASCII_JSON.encode(call)) > MAX_CALL_BYTES and _size(call) > MAX_CALL_BYTES


class Collector:
    def __init__(
        self,
        *,
        pipeline: Capture,
        write_keys: WriteKeys,
        retry_after_seconds: int = RETRY_AFTER_SECONDS,
        clock: Callable[[], datetime] = _now,
        request_id: Callable[[], str] = _request_id,
        elevenlabs_secrets: tuple[str, ...] = (),
        allowed_origins: AllowedOrigins = NO_ORIGINS,
        edge: Edge | None = None,
        user_id_proofs: UserIdProofs | None = None,
    ) -> None:
        # A client key's calls keep their userId only with a proof under these secrets.
        self._proofs = user_id_proofs or UserIdProofs()
        # None: no limits (the tests of everything else, a private collector in a test).
        self._edge = edge
        self._origins = allowed_origins
        self._elevenlabs = elevenlabs_secrets
        self._pipeline = pipeline
        self._keys = write_keys
        self._retry_after = retry_after_seconds
        self._clock = clock
        self._request_id = request_id

    def handle(self, request: CollectorRequest) -> Answer:
        """The answer to a request; one from a browser also carries the CORS headers."""
        origin = request.origin
        if origin is None:
            return self._handle(request)
        if not self._origins.allows(origin):
            return refuse(ORIGIN_NOT_ALLOWED, route(request.path))
        if request.method == "OPTIONS" and route(request.path) is not None:
            return _preflight(origin)
        answer = self._handle(request)
        return replace(answer, headers={**answer.headers, **answer_headers(origin)})

    def _handle(self, request: CollectorRequest) -> Answer:
        if self._elevenlabs and _POST_CALL.search(request.path):
            return self._post_call(request)
        route_name = route(request.path)
        if route_name is None:
            return refuse(NOT_FOUND, None)
        refused = request_refusal(
            request.method, request.mimetype, request.content_length, request.content_encoding
        )
        if refused is not None:
            return refuse(refused, route_name)
        header_key = basic_user(request.authorization)
        write_key = self._keys.find(header_key) if header_key is not None else None
        if header_key is not None and write_key is None:
            return refuse(_unauthorized("write_key_invalid", "Authorization"), route_name)
        if is_crawler(request.user_agent):
            return _crawler(route_name)
        server = write_key is not None and write_key.key_class is KeyClass.SERVER
        if self._edge is None or server:
            return self._keyed(request, route_name, write_key)
        limited = self._edge.enter(request.address)
        if limited is not None:
            return _limited(limited, route_name, write_key)
        try:
            return self._keyed(request, route_name, write_key)
        finally:
            self._edge.leave(request.address)

    def _keyed(
        self, request: CollectorRequest, route_name: str, write_key: WriteKey | None
    ) -> Answer:
        """The request's body, key and calls, within the edge's limits."""
        encoding = request.content_encoding
        body = request.read_body()
        if isinstance(body, HttpError):
            return refuse(body, route_name)
        document = parse_json(body, encoding, limit=MAX_BATCH_BYTES)
        if isinstance(document, HttpError):
            return refuse(document, route_name)
        if write_key is None:
            key = write_key_of(document)
            if key is None:
                return refuse(_unauthorized("write_key_missing", "writeKey"), route_name)
            write_key = self._keys.find(key) if type(key) is str else None
            if write_key is None:
                return refuse(_unauthorized("write_key_invalid", "writeKey"), route_name)
        calls = calls_of(document, route_name)
        if isinstance(calls, HttpError):
            return refuse(calls, route_name)
        if self._edge is not None and write_key.key_class is KeyClass.CLIENT:
            refused = self._edge.admit_key(write_key.key_id, len(calls.calls))
            if refused is not None:
                return _limited(refused, route_name, write_key)
        arrived_via = provenance.collector(write_key.key_id)
        proofs = None if write_key.key_class is KeyClass.SERVER else self._proofs
        body_bytes = None if encoding else len(body)
        answer = self._collect(calls, route_name, body_bytes, arrived_via, proofs)
        answer.log[log.KEY_ID] = write_key.key_id
        answer.log[log.KEY_CLASS] = write_key.key_class.value
        return answer

    def _collect(
        self,
        calls: Calls,
        route_name: str,
        body_bytes: int | None,
        arrived_via: str,
        proofs: UserIdProofs | None,
    ) -> Answer:
        started = time.perf_counter()
        received_at = self._clock()
        sent_at = timestamps.parsed(calls.sent_at)
        events: list[dict[str, Any]] = []
        # For each event handed to the pipeline: its call's index and how it was mapped.
        sources: list[tuple[int, Mapped]] = []
        rejections: list[tuple[int, list[FieldError]]] = []
        ignored_calls: Counter[str] = Counter()
        ignored_events: Counter[str] = Counter()
        unproven: Counter[str] = Counter()
        for index, call in enumerate(calls.calls):
            outcome = map_call(call, sent_at=sent_at, received_at=received_at, proofs=proofs)
            if not isinstance(outcome, Refused) and outcome.unproven is not None:
                unproven[outcome.unproven.value] += 1
            if isinstance(outcome, Mapped) and _too_large(call, body_bytes):
                message = f"must be at most {MAX_CALL_BYTES} bytes"
                outcome = Refused((FieldError(field="", rule="event_too_large", message=message),))
            if isinstance(outcome, Mapped):
                events.append(outcome.event)
                sources.append((index, outcome))
            elif isinstance(outcome, Ignored):
                ignored_calls[outcome.call] += 1
                if outcome.event is not None:
                    ignored_events[outcome.event] += 1
            else:
                rejections.append((index, list(outcome.errors)))
        captured = self._pipeline.handle(events, False, arrived_via) if events else None
        for rejection in captured.rejections if captured is not None else ():
            index, mapped = sources[rejection.index]
            errors = [
                error.model_copy(update={"field": segment_field(mapped, error.field)})
                for error in rejection.errors
            ]
            rejections.append((index, errors))
        rejections.sort(key=lambda item: item[0])
        tally = _Tally(
            route=route_name,
            batched=calls.batched,
            received=len(calls.calls),
            rejections=rejections,
            ignored_calls=ignored_calls,
            ignored_events=ignored_events,
        )
        answer = tally.answer(captured, self._request_id, self._retry_after, started)
        if unproven:
            answer.log[log.USER_IDS_UNPROVEN] = dict(unproven)
        return answer

    def _post_call(self, request: CollectorRequest) -> Answer:
        """An ElevenLabs post-call webhook: verified by its signature (not a write key), its
        transcription stored as a voice interaction, audio and failures only counted."""
        started = time.perf_counter()
        refused = check_request(
            request.method, request.mimetype, request.content_length, None, limit=MAX_BATCH_BYTES
        )
        body = request.read_body() if refused is None else None
        if isinstance(body, HttpError):
            refused = body
        if refused is not None:
            return refuse(refused, POST_CALL_ROUTE)
        assert isinstance(body, bytes)
        headers = {SIGNATURE_HEADER: request.signature} if request.signature else {}
        received_at = self._clock()
        outcome = handle_post_call(
            headers, body, secrets=self._elevenlabs, now=received_at, proofs=self._proofs
        )
        if isinstance(outcome, WebhookRefusal):
            error = HttpError(
                status=outcome.status,
                rule=outcome.rule.value,
                message=f"refused: {outcome.rule.value}",
                position=SIGNATURE_HEADER if outcome.status == 401 else "body",
            )
            return refuse(error, POST_CALL_ROUTE)
        captured = (
            self._pipeline.handle(list(outcome.events), False, provenance.ELEVENLABS)
            if outcome.events
            else None
        )
        rejections = [
            (r.index, list(r.errors)) for r in (captured.rejections if captured is not None else ())
        ]
        tally = _Tally(
            route=POST_CALL_ROUTE,
            batched=False,
            received=len(outcome.events),
            rejections=rejections,
            # A verified call that carries nothing to store (audio, a failed call, an unknown
            # type, a transcription without a user) is ignored, as an identify call is.
            ignored_calls=Counter() if outcome.events else Counter({POST_CALL_ROUTE: 1}),
            ignored_events=Counter(),
        )
        answer = tally.answer(captured, self._request_id, self._retry_after, started)
        answer.log[log.WEBHOOK_COUNTS] = {str(k): v for k, v in outcome.counts.items()}
        return answer


@dataclass(frozen=True, slots=True, kw_only=True)
class _Tally:
    route: str
    batched: bool
    received: int
    rejections: list[tuple[int, list[FieldError]]]
    ignored_calls: Counter[str]
    ignored_events: Counter[str]

    def _field(self, index: int, path: str) -> str:
        if not self.batched:
            return path or "body"
        return f"batch[{index}]" + (f".{path}" if path else "")

    def answer(
        self,
        outcome: CaptureOutcome | None,
        request_id: Callable[[], str],
        retry_after: int,
        started: float,
    ) -> Answer:
        stored = outcome is None or outcome.durable
        accepted = outcome.accepted if outcome is not None else 0
        ignored = sum(self.ignored_calls.values())
        rid = outcome.request_id if outcome is not None else request_id()
        body: dict[str, Any] = {
            "request_id": rid,
            "received": self.received,
            "accepted": accepted,
            # Of the accepted, those of a user who asked not to be tracked: stored nowhere.
            "suppressed": outcome.suppressed if outcome is not None else 0,
            "rejected": len(self.rejections),
            "ignored": ignored,
            "rejections": [
                {
                    "index": index,
                    "errors": [
                        {"field": self._field(index, e.field), "rule": e.rule, "message": e.message}
                        for e in errors
                    ],
                }
                for index, errors in self.rejections
            ],
        }
        headers: dict[str, str] = {}
        if outcome is not None and not stored:
            status = 503
            headers["Retry-After"] = str(retry_after)
            message = (
                f"{outcome.not_stored} valid events could not be stored "
                f"durably; resend the batch after {retry_after} s"
            )
            body = {"code": "storage_unavailable", "message": message, **body}
        else:
            status = 200
            body = {"success": True, **body}
        rules = Counter(e.rule for _, errors in self.rejections for e in errors)
        line: dict[str, Any] = {
            log.SEVERITY: "INFO",
            log.REQUEST_ID: rid,
            log.EVENTS_ACCEPTED: 0,
            log.EVENTS_NOT_STORED: 0,
            log.BY_EVENT_TYPE: {},
            log.SINKS: {},
        }
        if outcome is not None:
            line.update({log.SEVERITY: outcome.severity(), **outcome.log_fields()})
        severity = line[log.SEVERITY]
        if status >= 500:
            severity = "ERROR"
        elif self.rejections and severity == "INFO":
            severity = "WARNING"
        line.update(
            {
                log.SEVERITY: severity,
                "message": log.COLLECTOR_MESSAGE,
                log.HTTP_STATUS: status,
                log.LATENCY_MS: round((time.perf_counter() - started) * 1000, 1),
                log.ROUTE: self.route,
                log.EVENTS_RECEIVED: self.received,
                log.EVENTS_ACCEPTED: accepted,
                log.EVENTS_REJECTED: len(self.rejections),
                # Rules only, never values: a rejected call may hold exactly what is refused.
                log.REJECTED_RULES: dict(rules),
                log.EVENTS_IGNORED: ignored,
                log.IGNORED_BY_CALL: dict(self.ignored_calls),
                log.IGNORED_BY_EVENT: dict(self.ignored_events),
            }
        )
        if status == 200 and self.rejections and len(self.rejections) >= accepted:
            line[log.MOSTLY_REJECTED] = True
        return Answer(status=status, body=body, headers=headers, log=line)


def _limited(refused: EdgeRefusal, route_name: str, key: WriteKey | None) -> Answer:
    """429 with Retry-After: the SDKs wait that long and resend, the batch intact."""
    error = HttpError(
        status=429,
        rule=refused.rule,
        message=refused.message,
        position="request",
        headers=(("Retry-After", str(refused.retry_after)),),
    )
    answer = refuse(error, route_name)
    if key is not None:
        answer.log[log.KEY_ID] = key.key_id
        answer.log[log.KEY_CLASS] = key.key_class.value
    return answer


def _crawler(route_name: str) -> Answer:
    """A known crawler's calls: counted, never read or stored, answered as taken so that
    nothing is sent again."""
    line = {
        log.SEVERITY: "INFO",
        "message": log.COLLECTOR_MESSAGE,
        log.HTTP_STATUS: 200,
        log.ROUTE: route_name,
        log.RULE: CRAWLER_RULE,
    }
    body = {"success": True, "code": CRAWLER_RULE, "message": "not stored: a known crawler"}
    return Answer(status=200, body=body, headers={}, log=line)


def _preflight(origin: str) -> Answer:
    # The route is one of the tracking API's; the log line names the preflight, not which.
    line = {
        log.SEVERITY: "INFO",
        "message": log.COLLECTOR_MESSAGE,
        log.HTTP_STATUS: 200,
        log.ROUTE: "cors_preflight",
    }
    return Answer(status=200, body={"success": True}, headers=preflight_headers(origin), log=line)


def refuse(error: HttpError, route_name: str | None = None) -> Answer:
    """Segment's error shape, ``{"code", "message"}``, which the SDKs log."""
    line = refusal_line(log.COLLECTOR_MESSAGE, error)
    if route_name is not None:
        line[log.ROUTE] = route_name
    body = {"code": error.rule, "message": error.message}
    return Answer(status=error.status, body=body, headers=dict(error.headers), log=line)
