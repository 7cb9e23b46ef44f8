"""schemas.session: a session start or end refused by rule, with the field path, rule and message
a client sees; its URLs stored without query, fragment or credentials."""

from __future__ import annotations

from datetime import timedelta

import pytest

from event_capture.ingest.validation import validate_events
from tests.unit import event_factory as factory

# The shared rejection tests, run on this module's REJECTIONS (tests/unit/conftest.py).
from tests.unit.schemas.rejections import (  # noqa: F401
    Case,
    test_rejection_in_a_batch_names_path_rule_and_message,
    test_rejection_of_a_single_event_has_no_events_prefix,
    without,
)

R = factory.RECEIVED_AT

REJECTIONS: list[Case] = [
    (
        "epoch-for-ended-at",
        lambda r: factory.session(r, "session_end", ended_at=int(r.timestamp())),
        "ended_at",
        "timestamp_type",
        "ISO 8601",
    ),
    (
        "naive-started-at",
        lambda r: factory.session(r, started_at="2026-11-28T16:00:00.000"),
        "started_at",
        "timezone_aware",
        "UTC offset",
    ),
    (
        "url-too-long",
        lambda r: factory.session(r, referrer="https://example.com/" + "p" * 2048),
        "referrer",
        "string_too_long",
        "must be at most 2048 characters",
    ),
    # Only web pages and app paths: other schemes run code, hold content or name a person.
    (
        "landing-page-javascript",
        lambda r: factory.session(r, landing_page="javascript:alert(document.cookie)"),
        "landing_page",
        "url_scheme",
        "must be an http or https URL or an app path",
    ),
    (
        "referrer-data",
        lambda r: factory.session(r, referrer="data:text/html,<b>jane@example.com</b>"),
        "referrer",
        "url_scheme",
        "http or https",
    ),
    (
        "referrer-mailto",
        lambda r: factory.session(r, referrer="mailto:jane@example.com"),
        "referrer",
        "url_scheme",
        "http or https",
    ),
    (
        "referrer-protocol-relative",
        lambda r: factory.session(r, referrer="//evil.example/x"),
        "referrer",
        "url_scheme",
        "http or https",
    ),
    # A timestamp is stored as its UTC instant, which BigQuery keeps from year 1 to 9999.
    (
        "started-at-before-year-1-in-utc",
        lambda r: factory.session(r, started_at="0001-01-01T00:30:00+01:00"),
        "started_at",
        "timestamp_out_of_range",
        "0001-01-01T00:00:00Z",
    ),
    (
        "ended-at-after-9999-in-utc",
        lambda r: factory.session(r, "session_end", ended_at="9999-12-31T23:30:00-01:00"),
        "ended_at",
        "timestamp_out_of_range",
        "9999-12-31T23:59:59.999999Z",
    ),
    (
        "referrer-port-not-a-number",
        lambda r: factory.session(r, referrer="https://www.example.com:secret/"),
        "referrer",
        "url_invalid",
        "must be a URL",
    ),
    (
        "referrer-unclosed-ipv6",
        lambda r: factory.session(r, referrer="http://[::1/x"),
        "referrer",
        "url_invalid",
        "must be a URL",
    ),
    (
        "session-end-without-ended-at",
        lambda r: without(factory.session(r, "session_end"), "ended_at"),
        "ended_at",
        "missing",
        "is required",
    ),
    (
        "session-end-with-null-ended-at",
        lambda r: factory.session(r, "session_end", ended_at=None),
        "ended_at",
        "missing",
        "is required",
    ),
    (
        "ended-before-started",
        lambda r: factory.session(
            r,
            "session_end",
            started_at=factory.iso(r - timedelta(minutes=10)),
            ended_at=factory.iso(r - timedelta(minutes=11)),
        ),
        "ended_at",
        "ended_before_start",
        "must not precede started_at",
    ),
    (
        "device-not-in-literal",
        lambda r: factory.session(r, device="phone"),
        "device",
        "literal_error",
        "must be one of",
    ),
]


def test_url_fields_lose_query_string_and_fragment() -> None:
    event = factory.session(
        R,
        referrer="https://www.example.com/recipes/oat?utm_source=news&email=jane@example.com#top",
        landing_page="/search?q=oat+milk&token=abc123#results",
    )

    rows, rejections = validate_events([event], R)

    assert rejections == []
    assert rows[0].data["referrer"] == "https://www.example.com/recipes/oat"
    assert rows[0].data["landing_page"] == "/search"
    assert "token" not in rows[0].json
    assert "utm_source" not in rows[0].json


def test_url_fields_lose_userinfo_credentials() -> None:
    event = factory.session(
        R,
        referrer="https://jane:s3cret@shop.example.com/basket",
        landing_page="https://admin:hunter2@10.0.0.7:8080/start",
    )

    rows, rejections = validate_events([event], R)

    assert rejections == []
    assert rows[0].data["referrer"] == "https://shop.example.com/basket"
    assert rows[0].data["landing_page"] == "https://10.0.0.7:8080/start"


# Found by make fuzz (fuzz/regressions/url-*): a stored URL must be a valid URL of its own model,
# or the client's validated, scrubbed event is refused by the function.
@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("http://4111111111111111/", "http://redacted.invalid/"),
        ("https://+44 7700 900123/x", "https://redacted.invalid/x"),
        (
            "https://shop.example.com:8443/a/jane@example.com",
            "https://shop.example.com:8443/a/[EMAIL]",
        ),
        ("?email=jane@example.com", "/"),
        ("#top", "/"),
        (
            "https://shop.example.com/reset/jane.doe%40example.com;jsessionid=A1B2C3D4?t=x",
            "https://shop.example.com/reset/[EMAIL]",
        ),
        (
            "https://shop.example.com/account/%2B4915123456789/orders/123456789",
            "https://shop.example.com/account/[PHONE]/orders/[ID]",
        ),
        (
            "/reset/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl#done",
            "/reset/[TOKEN]",
        ),
    ],
)
def test_a_stored_url_is_a_valid_url_of_the_same_model(sent: str, stored: str) -> None:
    event = factory.session(R, landing_page=sent)

    rows, rejections = validate_events([event], R)

    assert rejections == []
    assert rows[0].data["landing_page"] == stored
    again, rejected = validate_events([{**event, "landing_page": stored}], R)
    assert rejected == [] and again[0].data["landing_page"] == stored
