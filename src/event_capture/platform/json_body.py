"""A request body as a JSON document: its Content-Encoding removed within a size limit, UTF-8,
strict JSON (no NaN), nested at most ``MAX_NESTING`` levels. Nothing here raises for any input.
"""

import json
import zlib
from typing import Any

from event_capture.platform.http_error import HttpError, too_large
from event_capture.platform.request_checks import coding_of

# The deepest legitimate body is five containers ({"events": [{"items": [{...}]}]}); the cap
# leaves room for additions and stops bodies that would exhaust the parser's recursion.
MAX_NESTING = 32


def decode_body(body: bytes, content_encoding: str | None, *, limit: int) -> bytes | HttpError:
    """The body with its Content-Encoding removed, at most ``limit`` bytes once inflated."""
    coding = coding_of(content_encoding)
    if isinstance(coding, HttpError):
        return coding
    if len(body) > limit:
        return too_large(limit)
    if coding == "identity":
        return body
    return _gunzip(body, limit)


def _gunzip(body: bytes, limit: int) -> bytes | HttpError:
    # Streaming, with max_length: a gzip bomb is refused after inflating limit + 1 bytes, not
    # after inflating all of it. Several members one after the other are one stream
    # (RFC 1952 section 2.2).
    out: list[bytes] = []
    size = 0
    rest = body
    try:
        while True:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            piece = inflater.decompress(rest, limit + 1 - size)
            out.append(piece)
            size += len(piece)
            if size > limit:
                return too_large(limit, "body (inflated)")
            if not inflater.eof:
                if inflater.unconsumed_tail:
                    # Output stopped at the cap with input left: over the limit.
                    return too_large(limit, "body (inflated)")
                return _bad_gzip("the gzip stream is truncated")
            rest = inflater.unused_data
            if not rest:
                return b"".join(out)
    except zlib.error:
        return _bad_gzip("the body is not a valid gzip stream")


def _bad_gzip(reason: str) -> HttpError:
    return HttpError(
        status=400,
        rule="gzip_invalid",
        message=f"Content-Encoding is gzip but {reason}",
        position="body",
    )


def _nesting_exceeds(document: Any, cap: int) -> bool:
    """Whether a parsed document nests containers deeper than ``cap``.

    Checked after parsing, level by level over containers only: a quarter of the CPU of a scan
    of the text that must first remove every string (brackets in strings do not count). The
    parser itself stops documents nested past its recursion limit (RecursionError, below).
    """
    level = [document] if type(document) is dict or type(document) is list else []
    for _ in range(cap):
        level = [
            value
            for container in level
            for value in (container.values() if type(container) is dict else container)
            if type(value) is dict or type(value) is list
        ]
        if not level:
            return False
    return True


class _NotJsonError(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    # Python's json takes NaN and Infinity; JSON (RFC 8259) has no such values, and BigQuery
    # refuses a row that holds one.
    raise _NotJsonError(f"{name} is not a JSON value")


def _not_json(detail: str, position: str = "body") -> HttpError:
    return HttpError(
        status=400,
        rule="json_invalid",
        message=f"body is not valid JSON: {detail}",
        position=position,
    )


def _too_deep() -> HttpError:
    return HttpError(
        status=400,
        rule="nesting_too_deep",
        message=f"body: JSON must nest at most {MAX_NESTING} levels of objects and arrays",
        position="body",
    )


def parse_json(body: bytes, content_encoding: str | None = None, *, limit: int) -> Any | HttpError:
    """The body's JSON document: inflated (at most ``limit`` bytes), UTF-8, strict JSON, nested
    at most MAX_NESTING levels. Any shape; ``parse_body`` and the collector check their own."""
    decoded = decode_body(body, content_encoding, limit=limit)
    if isinstance(decoded, HttpError):
        return decoded
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError as error:
        return _not_json(
            f"must be UTF-8 ({error.reason} at byte {error.start})", f"body[byte {error.start}]"
        )
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        return _not_json(f"{error.msg} at char {error.pos}", f"body[char {error.pos}]")
    except _NotJsonError as error:
        return _not_json(str(error))
    except RecursionError:
        # Nested past the parser's own limit (about 10,000 containers on Python 3.13).
        return _too_deep()
    except ValueError:
        # Python's own limits, e.g. an integer of more than 4300 digits.
        return _not_json("a number is too long")
    if _nesting_exceeds(document, MAX_NESTING):
        return _too_deep()
    return document
