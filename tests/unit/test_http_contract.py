"""Tests for ingest.http_contract: what is refused before validation, and with which status."""

from __future__ import annotations

import json
from typing import Any

import pytest

from event_capture.ingest.http_contract import HttpError, ParsedBody, check_request, parse_body
from tests.unit import event_factory as factory

R = factory.RECEIVED_AT
LIMIT = 1_000_000


def _error(result: ParsedBody | HttpError | None) -> HttpError:
    assert isinstance(result, HttpError), result
    return result


def _parsed(result: ParsedBody | HttpError) -> ParsedBody:
    assert isinstance(result, ParsedBody), result
    return result


def _body(document: Any) -> bytes:
    return json.dumps(document).encode()


# --------------------------------------------------------------------------------------------
# check_request
# --------------------------------------------------------------------------------------------


def test_post_with_json_is_allowed() -> None:
    assert check_request("POST", "application/json", 1234) is None
    assert check_request("POST", "application/json", None) is None


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "post"])
def test_other_methods_get_405_with_allow_header(method: str) -> None:
    error = _error(check_request(method, "application/json", 10))

    assert error.status == 405
    assert dict(error.headers) == {"Allow": "POST"}
    assert method in error.message
    assert error.body() == {"error": error.message}


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


# --------------------------------------------------------------------------------------------
# parse_body
# --------------------------------------------------------------------------------------------


def test_single_event_object_is_not_a_batch() -> None:
    event = factory.search(R)

    parsed = _parsed(parse_body(_body(event)))

    assert parsed.batch is False
    assert parsed.events == [event]


def test_events_envelope_is_a_batch() -> None:
    events = factory.one_of_each(R)

    parsed = _parsed(parse_body(_body({"events": events})))

    assert parsed.batch is True
    assert parsed.events == events


def test_batch_items_are_passed_on_unvalidated() -> None:
    # Item shape is validation's job, which names each bad event by index.
    parsed = _parsed(parse_body(_body({"events": [1, "two", None, {}]})))

    assert parsed.events == [1, "two", None, {}]
    assert parsed.batch is True


def test_500_events_are_accepted_and_501_are_413() -> None:
    event = {"event_type": "search"}

    assert len(_parsed(parse_body(_body({"events": [event] * 500}))).events) == 500
    error = _error(parse_body(_body({"events": [event] * 501})))
    assert error.status == 413
    assert "500" in error.message


def test_body_over_the_limit_gets_413_even_without_content_length() -> None:
    padding = "x" * LIMIT
    body = _body({"events": [{"event_type": "search", "query": padding}]})
    assert len(body) > LIMIT

    error = _error(parse_body(body))

    assert error.status == 413
    assert "1000000 bytes" in error.message


def test_body_of_exactly_the_limit_is_read() -> None:
    prefix, suffix = b'{"events":[{"q":"', b'"}]}'
    body = prefix + b"x" * (LIMIT - len(prefix) - len(suffix)) + suffix
    assert len(body) == LIMIT

    assert _parsed(parse_body(body)).batch is True


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"{'events': []}", b'{"events": [}', b"\xff\xfe{}", b"nul"],
    ids=["empty", "truncated", "single-quotes", "broken-array", "not-utf8", "bad-literal"],
)
def test_invalid_json_gets_400(body: bytes) -> None:
    error = _error(parse_body(body))

    assert error.status == 400
    assert error.message.startswith("body is not valid JSON")


@pytest.mark.parametrize(
    "document",
    [[factory.search(R)], [], "event", 42, None, True],
    ids=["array-of-events", "empty-array", "string", "number", "null", "bool"],
)
def test_body_that_is_not_an_object_gets_400(document: Any) -> None:
    error = _error(parse_body(_body(document)))

    assert error.status == 400
    assert '{"events": [...]}' in error.message


@pytest.mark.parametrize("events", [{"0": {}}, "[]", None, 3], ids=repr)
def test_events_that_is_not_a_list_gets_400(events: Any) -> None:
    error = _error(parse_body(_body({"events": events})))

    assert error.status == 400
    assert error.message == "events: must be an array"


def test_empty_events_gets_400() -> None:
    error = _error(parse_body(_body({"events": []})))

    assert error.status == 400
    assert error.message.startswith("events:")
    assert "at least 1" in error.message


def test_extra_top_level_key_next_to_events_gets_400_naming_it() -> None:
    error = _error(parse_body(_body({"events": [factory.search(R)], "api_key": "secret"})))

    assert error.status == 400
    assert error.message.startswith("api_key:")
    assert "events" in error.message


def test_extra_key_is_reported_before_the_events_shape() -> None:
    error = _error(parse_body(_body({"events": "not a list", "batch_id": 1})))

    assert error.message.startswith("batch_id:")


def test_http_error_headers_and_body_for_refusals() -> None:
    error = _error(parse_body(b"not json"))

    assert error.headers == ()
    assert error.body() == {"error": error.message}
