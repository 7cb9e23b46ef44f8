"""Which web pages may send to the collector from a browser (CORS), and the headers that say so.

``@segment/analytics-next`` posts every call with ``fetch`` from the page's origin to another
(the collector's), with ``Authorization: Basic`` and on a retry ``X-Retry-Count``
(``packages/browser/src/plugins/segmentio/fetch-dispatcher.ts``). Those headers are not
CORS-safelisted, so the browser first sends an ``OPTIONS`` preflight; its answer and every
answer after it must name the page's origin, or the browser withholds the answer from the SDK.

Only configured origins (``COLLECTOR_ALLOWED_ORIGINS``) are served: a request that carries
any other ``Origin`` is refused with 403 and nothing is stored, preflight or not (a
``text/plain`` POST with ``writeKey`` in the body needs no preflight). Requests without
``Origin`` (server SDKs, webhooks) are untouched.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from event_capture.platform.http_error import HttpError

# The headers the SDK sets: Content-Type (text/plain by default, application/json when
# configured), the write key as Basic auth, and the retry count on resends.
ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-Retry-Count")
ALLOWED_METHODS = ("POST",)
# How long a browser may reuse a preflight's answer; Chromium caps it at 7200 s.
PREFLIGHT_MAX_AGE_SECONDS = 600

ORIGIN_NOT_ALLOWED = HttpError(
    status=403,
    rule="origin_not_allowed",
    message="pages of this origin may not send to this collector",
    position="Origin",
)


class OriginError(ValueError):
    """A configured origin is not ``scheme://host[:port]``."""


def _origin(text: str) -> str:
    """The serialised origin of ``text`` as browsers send it in ``Origin``: lower-case, no path."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OriginError(f"{text.strip()!r} must be http(s)://host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise OriginError(f"{text.strip()!r} must be an origin only: no path, query or user")
    port = parts.port  # raises ValueError for a port that is not a number
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


@dataclass(frozen=True, slots=True)
class AllowedOrigins:
    origins: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> "AllowedOrigins":
        """Comma-separated origins (``https://shop.example.com,http://127.0.0.1:8000``); no
        wildcard, since a write key in a page is only as private as the pages that hold it."""
        try:
            origins = [_origin(item) for item in text.split(",") if item.strip()]
        except ValueError as error:
            raise OriginError(str(error)) from None
        return cls(frozenset(origins))

    def allows(self, origin: str) -> bool:
        return origin in self.origins


# The default: no browser may send (server SDKs only).
NO_ORIGINS = AllowedOrigins()


def preflight_headers(origin: str) -> dict[str, str]:
    return {
        **answer_headers(origin),
        "Access-Control-Allow-Methods": ", ".join(ALLOWED_METHODS),
        "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
    }


def answer_headers(origin: str) -> dict[str, str]:
    # Vary: a cache between the browser and the collector must not serve one origin's answer
    # to another. The browser SDK reads a 429's Retry-After only if it is exposed.
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "Retry-After",
        "Vary": "Origin",
    }
