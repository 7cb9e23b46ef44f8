"""platform.request_checks: what a JSON function refuses before it reads a body (the method,
the content type and coding, the announced size), with which status and rule."""

from __future__ import annotations

import pytest

from event_capture.platform import request_checks
from event_capture.platform.http_error import HttpError

LIMIT = 1_000_000


def _error(result: HttpError | None) -> HttpError:
    assert isinstance(result, HttpError), result
    return result


def check_request(
    method: str, mimetype: str, content_length: int | None, content_encoding: str | None = None
) -> HttpError | None:
    return request_checks.check_request(
        method, mimetype, content_length, content_encoding, limit=LIMIT
    )


def test_post_with_json_is_allowed() -> None:
    assert check_request("POST", "application/json", 1234) is None
    assert check_request("POST", "application/json", None) is None


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "post"])
def test_other_methods_get_405_with_allow_header(method: str) -> None:
    error = _error(check_request(method, "application/json", 10))

    assert error.status == 405
    assert dict(error.headers) == {"Allow": "POST"}
    assert method in error.message


def test_method_is_checked_before_content_type() -> None:
    assert _error(check_request("GET", "", None)).status == 405


@pytest.mark.parametrize(
    ("mimetype", "shown"),
    [
        ("text/plain", "'text/plain'"),
        ("application/x-www-form-urlencoded", "'application/x-www-form-urlencoded'"),
        ("application/x-ndjson", "'application/x-ndjson'"),
        ("", "'none'"),
    ],
)
def test_non_json_content_type_gets_415(mimetype: str, shown: str) -> None:
    error = _error(check_request("POST", mimetype, 10))

    assert error.status == 415
    assert "application/json" in error.message
    assert shown in error.message
    assert error.headers == ()


def test_content_length_over_the_limit_gets_413() -> None:
    error = _error(check_request("POST", "application/json", LIMIT + 1))

    assert error.status == 413
    assert "1000000 bytes" in error.message


def test_content_length_at_the_limit_is_allowed() -> None:
    assert check_request("POST", "application/json", LIMIT) is None


def test_content_type_is_checked_before_size() -> None:
    assert _error(check_request("POST", "text/plain", LIMIT * 5)).status == 415


@pytest.mark.parametrize("encoding", [None, "", "identity", "gzip", "GZIP", " x-gzip "])
def test_identity_and_gzip_are_taken(encoding: str | None) -> None:
    assert check_request("POST", "application/json", 10, encoding) is None


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd", "gzip, gzip", "compress", "*"])
def test_any_other_content_encoding_is_415_naming_the_accepted_ones(encoding: str) -> None:
    error = _error(check_request("POST", "application/json", 10, encoding))

    assert (error.status, error.rule) == (415, "content_encoding_unsupported")
    assert "gzip or identity" in error.message
    assert error.position == "Content-Encoding"


def test_content_type_is_checked_before_content_encoding() -> None:
    assert _error(check_request("POST", "text/plain", 10, "br")).rule == "content_type_unsupported"
