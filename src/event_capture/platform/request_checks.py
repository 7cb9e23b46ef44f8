"""What a JSON-over-POST function refuses before it reads a body: the method, the content type
and coding, the announced size. Nothing here raises for any input."""

from event_capture.platform.http_error import HttpError, too_large

# Content-Encoding values taken (RFC 9110 section 8.4.1: x-gzip is gzip); anything else is 415.
_IDENTITY = frozenset({"", "identity"})
_GZIP = frozenset({"gzip", "x-gzip"})
ACCEPTED_ENCODINGS = "gzip or identity"


def check_request(
    method: str,
    mimetype: str,
    content_length: int | None,
    content_encoding: str | None = None,
    *,
    limit: int,
) -> HttpError | None:
    """Refuse what can be refused before reading the body (``limit``: the body's bytes)."""
    if method != "POST":
        return HttpError(
            status=405,
            rule="method_not_allowed",
            message=f"method {method} not allowed; use POST",
            position="method",
            headers=(("Allow", "POST"),),
        )
    if mimetype != "application/json":
        return HttpError(
            status=415,
            rule="content_type_unsupported",
            message=f"content type must be application/json, got {mimetype or 'none'!r}",
            position="Content-Type",
        )
    coding = coding_of(content_encoding)
    if isinstance(coding, HttpError):
        return coding
    if content_length is not None and content_length > limit:
        return too_large(limit, "Content-Length")
    return None


def coding_of(content_encoding: str | None) -> str | HttpError:
    """``identity`` or ``gzip``; one coding only (a stack of codings is not taken)."""
    value = (content_encoding or "").strip().lower()
    if value in _IDENTITY:
        return "identity"
    if value in _GZIP:
        return "gzip"
    return HttpError(
        status=415,
        rule="content_encoding_unsupported",
        message=f"Content-Encoding must be {ACCEPTED_ENCODINGS}, got {content_encoding!r}",
        position="Content-Encoding",
    )
