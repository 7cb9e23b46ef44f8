"""When a failed call is worth repeating, and how long to wait: one module for every sink.

Each backend's rule is its own client library's, in the versions pinned in
functions/capture/requirements.txt:

- BigQuery: google-cloud-bigquery's ``retry.py`` (``_should_retry``). An error that carries a
  structured reason is retried when the reason is in its ``_RETRYABLE_REASONS``; one without a
  reason when it is one of its ``_UNSTRUCTURED_RETRYABLE_TYPES``; SSL errors never. One
  addition: ``quotaExceeded``, which BigQuery answers to a streaming quota and its error
  reference says to retry with exponential backoff.
- Cloud Storage (the archive, the dead-letter area, replay): google-cloud-storage's
  ``retry.py`` (``_should_retry``): its ``_RETRYABLE_TYPES``, and any API error whose HTTP status
  is in its ``_RETRYABLE_STATUS_CODES`` (408, 429, 500, 502, 503, 504), whatever its reason.

- The Storage Write API (gRPC): the status codes google-cloud-bigquery-storage retries
  (``services/big_query_write/transports/base.py``: UNAVAILABLE for AppendRows;
  DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED and UNAVAILABLE for CreateWriteStream), and INTERNAL,
  which a reset HTTP/2 stream surfaces as. google.api_core's errors carry them as
  ``grpc_status_code``, raw gRPC errors as ``code()``.

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
# BadGateway, ServiceUnavailable.
TRANSIENT_STATUS = frozenset({429, 500, 502, 503})
# Its _UNSTRUCTURED_RETRYABLE_TYPES that are not HTTP answers, by (module, class name).
TRANSIENT_TYPES = frozenset(
    {
        ("requests.exceptions", "ChunkedEncodingError"),
        ("requests.exceptions", "ConnectionError"),
        ("requests.exceptions", "Timeout"),
        ("google.auth.exceptions", "TransportError"),
    }
)
# The Write API's transient gRPC status codes, by name (see above).
TRANSIENT_GRPC_CODES = frozenset(
    {"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "INTERNAL"}
)
# google-cloud-storage's _RETRYABLE_STATUS_CODES, and its _RETRYABLE_TYPES beyond the above.
STORAGE_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
STORAGE_TRANSIENT_TYPES = TRANSIENT_TYPES | frozenset(
    {
        ("http.client", "BadStatusLine"),
        ("http.client", "IncompleteRead"),
        ("http.client", "ResponseNotReady"),
        ("urllib3.exceptions", "PoolError"),
        ("urllib3.exceptions", "ProtocolError"),
        ("urllib3.exceptions", "SSLError"),
        ("urllib3.exceptions", "TimeoutError"),
    }
)


def error_reason(error: BaseException) -> str | None:
    """``errors[0]["reason"]`` of a google.api_core error, as the BigQuery rule reads it."""
    errors = getattr(error, "errors", None)
    if isinstance(errors, list | tuple) and errors and isinstance(errors[0], dict):
        reason = errors[0].get("reason")
        return reason if isinstance(reason, str) else None
    return None


def grpc_code(error: BaseException) -> str | None:
    """The gRPC status code's name of a google.api_core error or a raw gRPC error, else None."""
    code = getattr(error, "grpc_status_code", None)
    if code is None:
        method = getattr(error, "code", None)
        code = method() if callable(method) else None
    name = getattr(code, "name", None)
    return name if isinstance(name, str) else None


def _named(error: BaseException, names: frozenset[tuple[str, str]]) -> bool:
    return any((cls.__module__, cls.__name__) in names for cls in type(error).__mro__)


def is_transient(error: BaseException) -> bool:
    """BigQuery's rule: True when the same call may succeed if made again after a wait."""
    classes = type(error).__mro__
    if any(cls.__name__ == "SSLError" for cls in classes):
        return False  # a certificate or TLS setup problem does not pass with time
    reason = error_reason(error)
    if reason is not None:
        return reason in TRANSIENT_REASONS
    # Builtin ConnectionError is in the BigQuery list; TimeoutError is what http.client and
    # sockets raise where requests would raise its Timeout.
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    if getattr(error, "code", None) in TRANSIENT_STATUS:
        return True
    if grpc_code(error) in TRANSIENT_GRPC_CODES:
        return True
    return _named(error, TRANSIENT_TYPES)


def is_transient_storage(error: BaseException) -> bool:
    """Cloud Storage's rule: as google-cloud-storage retries its own calls."""
    if isinstance(error, ConnectionError | TimeoutError) or _named(error, STORAGE_TRANSIENT_TYPES):
        return True
    return getattr(error, "code", None) in STORAGE_TRANSIENT_STATUS


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
