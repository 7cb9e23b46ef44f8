"""One POST of a batch to the capture function, and what its answer means for the batch.

| answer | meaning | the client |
| --- | --- | --- |
| 200 | every event stored | done |
| 207 | stored, except the events listed as rejected | logs the rejections, done |
| 401 | token refused (expired on the way) | new token, one more try |
| 429, 5xx, no connection | not stored (503: no durable sink now) | retries, honouring Retry-After |
| other 4xx | the request itself is wrong | logs, drops; never retried |
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
    rejections: list[dict[str, Any]] = field(default_factory=list)
    accepted: int = 0
    error: str | None = None


def judge(status: int, headers: dict[str, str], body: bytes, sent: int) -> Answer:
    """What an answer means for a batch of ``sent`` events."""
    parsed = _json(body)
    listed = parsed.get("rejections")
    rejections = [r for r in listed if isinstance(r, dict)] if isinstance(listed, list) else []
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
    """One keep-alive connection to the function, reopened after any error."""

    def __init__(self, url: str, timeout_seconds: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url: must be http:// or https:// with a host, got {url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = parts.path or "/"
        self._timeout = timeout_seconds
        self._connection: http.client.HTTPConnection | None = None

    def post(self, body: bytes, token: str | None) -> tuple[int, dict[str, str], bytes]:
        """Raises OSError (and http.client errors) when there is no answer."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connection = self._connection or self._connect()
        try:
            connection.request("POST", self._path, body=body, headers=headers)
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
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        self._connection = cls(self._host, self._port, timeout=self._timeout)
        return self._connection


def _json(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _error(status: int, parsed: dict[str, Any]) -> str:
    message = parsed.get("error")
    return f"{status}: {message}" if message else f"{status}"
