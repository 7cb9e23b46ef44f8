"""When a failed call is worth repeating, and how long to wait: one module for every sink.

Which errors are transient follows google-cloud-bigquery's own rule (``google/cloud/bigquery/
retry.py``, ``_should_retry``, in the version pinned in functions/capture/requirements.txt):
an error that carries a structured reason is retried when that reason is in its
``_RETRYABLE_REASONS``; one without is retried when it is one of its
``_UNSTRUCTURED_RETRYABLE_TYPES``; SSL errors never are. Two additions, each for a sink the
BigQuery list does not cover:

- ``quotaExceeded``: BigQuery answers a streaming quota with it, and its error reference says
  to retry such inserts with exponential backoff.
- HTTP 408 and 504: google-cloud-storage's ``retry.py`` (``_RETRYABLE_STATUS_CODES``) retries
  them, and the archive and dead-letter writes go to Cloud Storage.

Types are matched by name, not imported: importing google-cloud and requests to classify an
error would put their import time into every cold start.

Waits are exponential with full jitter (a uniform random time up to the exponential cap),
which spreads the retries of many instances that failed together, inside a total deadline.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# google-cloud-bigquery's _RETRYABLE_REASONS, plus quotaExceeded (see above).
TRANSIENT_REASONS = frozenset(
    {"rateLimitExceeded", "backendError", "internalError", "badGateway", "quotaExceeded"}
)
# Its _UNSTRUCTURED_RETRYABLE_TYPES as HTTP codes: TooManyRequests, InternalServerError,
# BadGateway, ServiceUnavailable; then google-cloud-storage's 408 and 504.
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 408, 504})
# Its _UNSTRUCTURED_RETRYABLE_TYPES that are not HTTP answers, by (module, class name).
TRANSIENT_TYPES = frozenset(
    {
        ("requests.exceptions", "ChunkedEncodingError"),
        ("requests.exceptions", "ConnectionError"),
        ("requests.exceptions", "Timeout"),
        ("google.auth.exceptions", "TransportError"),
    }
)


def _reason(error: BaseException) -> str | None:
    """``errors[0]["reason"]`` of a google.api_core error, as the BigQuery rule reads it."""
    errors = getattr(error, "errors", None)
    if isinstance(errors, list | tuple) and errors and isinstance(errors[0], dict):
        reason = errors[0].get("reason")
        return reason if isinstance(reason, str) else None
    return None


def is_transient(error: BaseException) -> bool:
    """True when the same call may succeed if made again after a wait."""
    classes = type(error).__mro__
    if any(cls.__name__ == "SSLError" for cls in classes):
        return False  # a certificate or TLS setup problem does not pass with time
    reason = _reason(error)
    if reason is not None:
        return reason in TRANSIENT_REASONS
    # Builtin ConnectionError is in the BigQuery list; TimeoutError is what http.client and
    # sockets raise where requests would raise its Timeout.
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    if getattr(error, "code", None) in TRANSIENT_STATUS:
        return True
    return any((cls.__module__, cls.__name__) in TRANSIENT_TYPES for cls in classes)


def describe(error: BaseException) -> str:
    """``Type: first line of the message``, short enough for a log field."""
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:300]


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    initial_seconds: float = 0.1
    max_seconds: float = 4.0
    multiplier: float = 2.0

    def cap(self, attempt: int) -> float:
        """Upper bound of the wait before retry number ``attempt`` (1-based)."""
        return min(self.max_seconds, self.initial_seconds * self.multiplier ** (attempt - 1))


DEFAULT_BACKOFF = BackoffPolicy()


@dataclass(frozen=True, slots=True)
class Timing:
    """Where a sink reads the time and how it waits: the real clock, or a test's."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random

    def deadline(self, seconds: float) -> "Deadline":
        return Deadline(seconds, self.clock, self.sleep, self.rand)


REAL_TIME = Timing()


@dataclass(slots=True)
class Deadline:
    """A total time budget; waits never run past it."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def remaining(self) -> float:
        return max(0.0, self.seconds - (self.clock() - self.started))

    def backoff(self, policy: BackoffPolicy, attempt: int) -> bool:
        """Wait before retry ``attempt``; False when the wait would overrun the deadline."""
        wait = self.rand() * policy.cap(attempt)
        if wait >= self.remaining():
            return False
        self.sleep(wait)
        return True
