"""One POST of a batch to the capture function, and what its answer means for the batch.

| answer | meaning | the client |
| --- | --- | --- |
| 200 | every event stored | done |
| 207 | stored, except the events listed as rejected | logs the rejections, done |
| 401 | token refused (expired on the way) | new token, one more try |
| 429, 5xx, no connection | not stored (503: no durable sink now) | retries, honouring Retry-After |
| other 4xx | the request itself is wrong | logs, drops; never retried |

A rejection names the event (``index``, ``event_id``) and, for each broken rule, ``field``,
``rule`` and ``message``: ``schemas.responses.Rejection``, the model the function answers with.
A malformed one is read as far as it can be (``?`` for what is missing): it is logged, never
raised.
"""

import http.client
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from event_capture.client.proxy import Route
from event_capture.client.version import USER_AGENT
from event_capture.schemas.responses import FieldError, Rejection

RETRYABLE_STATUSES = frozenset({429}) | frozenset(range(500, 600))


class Verdict(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REAUTHENTICATE = "reauthenticate"
    DROP = "drop"


@dataclass(frozen=True)
class Answer:
    verdict: Verdict
    status: int | None = None
    retry_after: float | None = None
    rejections: list[Rejection] = field(default_factory=list)
    accepted: int = 0
    error: str | None = None


def judge(status: int, headers: dict[str, str], body: bytes, sent: int) -> Answer:
    """What an answer means for a batch of ``sent`` events."""
    parsed = _json(body)
    listed = parsed.get("rejections")
    rejections = (
        [_rejection(r) for r in listed if isinstance(r, dict)] if isinstance(listed, list) else []
    )
    if status in (200, 207):
        accepted = parsed.get("accepted")
        if not isinstance(accepted, int):
            accepted = sent - len(rejections)
        return Answer(Verdict.DELIVERED, status, rejections=rejections, accepted=accepted)
    if status == 401:
        return Answer(Verdict.REAUTHENTICATE, status, error="401: token refused")
    if status in RETRYABLE_STATUSES:
        return Answer(
            Verdict.RETRY, status, retry_after=retry_after(headers), error=_error(status, parsed)
        )
    return Answer(Verdict.DROP, status, rejections=rejections, error=_error(status, parsed))


def retry_after(headers: dict[str, str]) -> float | None:
    """Seconds from a Retry-After header: a number, or an HTTP date."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(raw) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Backoff:
    """Full jitter: a random wait in [0, min(cap, base * 2^attempt)], at least Retry-After."""

    base_seconds: float = 0.2
    cap_seconds: float = 30.0

    def delay(
        self, attempt: int, retry_after: float | None, rand: Callable[[], float] = random.random
    ) -> float:
        jittered = rand() * min(self.cap_seconds, self.base_seconds * 2.0**attempt)
        if retry_after is None:
            return jittered
        # Never sooner than the function asked; a Retry-After of hours is capped, not obeyed.
        return max(jittered, min(retry_after, self.cap_seconds * 4))


class HttpTransport:
    """One keep-alive connection to the function, or to the proxy on the way, reopened after
    any error. Every request carries ``User-Agent: event-capture-client/<version> (python
    <version>)``.

    The way is read from the environment when the transport is created (``proxy.Route``):
    plain http is sent to the proxy as an absolute-URI request; https goes through a CONNECT
    tunnel, so TLS still runs end to end with the function. With no proxy variables set it
    connects directly.
    """

    def __init__(self, url: str, timeout_seconds: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url: must be http:// or https:// with a host, got {url!r}")
        self._route = Route.to(url)
        self._timeout = timeout_seconds
        self._target = self._route.target(parts.path or "/")
        self._connection: http.client.HTTPConnection | None = None

    def post(self, body: bytes, token: str | None) -> tuple[int, dict[str, str], bytes]:
        """Raises OSError (and http.client errors) when there is no answer."""
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(self._route.request_headers())
        connection = self._connection or self._connect()
        try:
            connection.request("POST", self._target, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.getheader("connection", "").lower() == "close":
            self.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> http.client.HTTPConnection:
        host, port = self._route.first_hop
        cls = http.client.HTTPSConnection if self._route.https else http.client.HTTPConnection
        connection = cls(host, port, timeout=self._timeout)
        self._route.tunnel(connection)
        self._connection = connection
        return connection


def _rejection(raw: dict[str, Any]) -> Rejection:
    # Built without validation: a rejection the model would refuse is still worth logging.
    index, errors = raw.get("index"), raw.get("errors")
    return Rejection.model_construct(
        # A rejection with no index is still a rejection of some event in the batch.
        index=index if isinstance(index, int) else None,  # type: ignore[arg-type]
        event_id=_text(raw.get("event_id")),
        errors=[
            FieldError(
                field=_text(error.get("field")) or "?",
                rule=_text(error.get("rule")) or "?",
                message=_text(error.get("message")) or "?",
            )
            for error in (errors if isinstance(errors, list) else [])
            if isinstance(error, dict)
        ],
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _json(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _error(status: int, parsed: dict[str, Any]) -> str:
    message = parsed.get("error")
    return f"{status}: {message}" if message else f"{status}"
