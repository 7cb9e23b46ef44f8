"""What ``@segment/analytics-next`` sends, in process: its short routes, its ``text/plain``
bodies with ``writeKey`` inside, and CORS (the preflight, the headers on every answer, and the
refusal of origins not configured). The calls are as Chromium sent them (recorded with the
SDK 1.84.3 against a loopback server; tests/integration/test_collector_browser.py runs it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from event_capture.collector.auth import WriteKeys
from event_capture.collector.config import CONFIG_VARIABLES, load_collector_config
from event_capture.collector.contract import route
from event_capture.collector.cors import ALLOWED_HEADERS, AllowedOrigins
from event_capture.collector.function import CollectorFunction
from event_capture.collector.handler import Collector
from event_capture.ingest.config import ConfigError
from event_capture.ingest.pipeline import CapturePipeline
from tests.fakes.functions import Function, loaded
from tests.unit.collector import calls
from tests.unit.collector.test_auth import BASE
from tests.unit.collector.test_handler import (
    AUTH,
    HOSTILE,
    JSON,
    KEY,
    MARKER,
    Answer,
    requests,
    send,
)
from tests.unit.event_factory import RECEIVED_AT, iso

SHOP = "https://shop.example.com"
OTHER_SHOP = "http://127.0.0.1:8000"
PAGE = {
    "path": "/p/oat-milk",
    "referrer": "",
    "search": f"?email={MARKER}@example.com",
    "title": "Oat milk",
    "url": f"{SHOP}/p/oat-milk?email={MARKER}@example.com",
}


def browser_call(kind: str, **fields: Any) -> dict[str, Any]:
    """One call as the browser SDK posts it to /v1/<letter>: writeKey and sentAt inside."""
    call: dict[str, Any] = {
        "timestamp": iso(RECEIVED_AT),
        "integrations": {"Segment.io": True},
        "type": kind,
        "context": {
            "page": PAGE,
            "userAgent": f"Mozilla/5.0 HeadlessChrome/156 {MARKER}",
            "locale": "en-US",
            "library": {"name": "analytics.js", "version": "next-1.84.3"},
            "campaign": {"source": "x"},
            "timezone": "UTC",
        },
        "messageId": f"ajs-next-1796126158655-{uuid.uuid4()}",
        "userId": "u_8f14e45f",
        "anonymousId": str(uuid.uuid4()),
        "writeKey": KEY,
        "sentAt": iso(RECEIVED_AT),
        "_metadata": {"bundled": ["Segment.io"], "unbundled": [], "bundledIds": []},
    }
    return call | fields


def product_added() -> dict[str, Any]:
    properties = {**calls.PRODUCT, "session_id": "s_web", "cart_id": "c_1"}
    return browser_call("track", event="Product Added", properties=properties)


@pytest.fixture(scope="module")
def function() -> Iterator[Function]:
    def collector(pipeline: CapturePipeline) -> CollectorFunction:
        built = Collector(
            pipeline=pipeline,
            write_keys=WriteKeys.parse(KEY),
            clock=lambda: RECEIVED_AT,
            allowed_origins=AllowedOrigins.parse(f"{SHOP},{OTHER_SHOP}"),
        )
        return CollectorFunction(built, read_timeout_seconds=10)

    with loaded(collector) as function:
        yield function


@pytest.fixture
def fresh(function: Function) -> Function:
    function.bigquery.rows.clear()
    function.archive.rows.clear()
    return function


def beacon(
    function: Function, path: str, document: Any, origin: str | None = SHOP, **headers: str
) -> Answer:
    """A POST as the SDK's fetch makes it: text/plain, Basic auth, the page's Origin."""
    sent = {**AUTH, **headers, **({} if origin is None else {"Origin": origin})}
    return send(
        function, path=path, data=json.dumps(document), content_type="text/plain", headers=sent
    )


def preflight(function: Function, path: str, origin: str) -> Answer:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    return send(function, method="OPTIONS", path=path, headers=headers)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/t", "track"),
        ("/v1/p", "page"),
        ("/v1/i", "identify"),
        ("/v1/s", "screen"),
        ("/v1/g", "group"),
        ("/v1/a", "alias"),
        ("/v1/b", "batch"),
        ("/collector/v1/t", "track"),
        ("/collector/v1/b/", "batch"),
        # The SDK's remote metrics, sent only when sampled: not events, not served.
        ("/v1/m", None),
        ("/v1/x", None),
        ("/v1/tt", None),
        ("/v1t", None),
    ],
)
def test_the_browser_sdks_short_routes(path: str, expected: str | None) -> None:
    assert route(path) == expected


def test_a_text_plain_track_call_on_the_short_route_is_stored_as_a_web_event(
    fresh: Function,
) -> None:
    call = product_added()
    answer = beacon(fresh, "/collector/v1/t", call)

    assert (answer.status, answer.body["accepted"], answer.line["route"]) == (200, 1, "track")
    [row] = fresh.bigquery.rows
    assert (row.event_type, row.data["source"], row.data["session_id"]) == (
        "add_to_cart",
        "web",
        "s_web",
    )
    # Nothing of the page, the user agent or the campaign is kept.
    assert MARKER not in repr(fresh.bigquery.rows) and MARKER not in repr(fresh.archive.rows)


def test_the_write_key_in_the_text_plain_body_is_enough(fresh: Function) -> None:
    answer = send(
        fresh,
        path="/v1/t",
        data=json.dumps(product_added()),
        content_type="text/plain",
        headers={"Origin": SHOP},
    )
    assert (answer.status, answer.body["accepted"]) == (200, 1)
    wrong = {**product_added(), "writeKey": f"wk_{MARKER}_wrong_key_00"}
    refused = send(
        fresh, path="/v1/t", data=json.dumps(wrong), content_type="text/plain", headers={}
    )
    assert (refused.status, refused.body["code"]) == (401, "write_key_invalid")


def test_the_identify_and_page_calls_of_a_page_are_ignored_unread(fresh: Function) -> None:
    traits = {"email": f"{MARKER}@example.com"}
    for path, call in (
        ("/v1/i", browser_call("identify", traits=traits)),
        ("/v1/p", browser_call("page", name="Oat milk", properties=PAGE)),
    ):
        answer = beacon(fresh, path, call)
        assert (answer.status, answer.body["ignored"]) == (200, 1)
    assert fresh.bigquery.rows == [] and fresh.archive.rows == []


def test_a_batch_of_the_batching_strategy_on_v1_b_is_stored(fresh: Function) -> None:
    # deliveryStrategy: {strategy: "batching"} posts {writeKey, batch, sentAt} to apiHost/b,
    # each call without its own sentAt (plugins/segmentio/batched-dispatcher.ts).
    batch = [{k: v for k, v in product_added().items() if k != "sentAt"} for _ in range(3)]
    document = {"writeKey": KEY, "batch": batch, "sentAt": iso(RECEIVED_AT)}
    answer = beacon(fresh, "/v1/b", document)

    assert (answer.status, answer.body["accepted"], answer.line["route"]) == (200, 3, "batch")


def test_a_preflight_from_a_configured_origin_allows_the_sdks_post(fresh: Function) -> None:
    answer = preflight(fresh, "/collector/v1/t", SHOP)

    assert answer.status == 200
    assert answer.headers["Access-Control-Allow-Origin"] == SHOP
    assert answer.headers["Access-Control-Allow-Methods"] == "POST"
    allowed = {h.strip().lower() for h in answer.headers["Access-Control-Allow-Headers"].split(",")}
    # What the SDK sets: Authorization always, X-Retry-Count on a resend, Content-Type.
    assert allowed == {h.lower() for h in ALLOWED_HEADERS} >= {"authorization", "x-retry-count"}
    assert int(answer.headers["Access-Control-Max-Age"]) > 0
    assert answer.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in answer.headers
    assert answer.line["route"] == "cors_preflight" and fresh.bigquery.rows == []


@pytest.mark.parametrize("origin", [SHOP, OTHER_SHOP])
def test_every_answer_to_a_configured_origin_carries_its_cors_headers(
    fresh: Function, origin: str
) -> None:
    stored = beacon(fresh, "/v1/t", product_added(), origin=origin)
    wrong_key = beacon(
        fresh, "/v1/t", product_added(), origin=origin, Authorization=calls.basic("x" * 20)
    )
    not_a_batch = beacon(fresh, "/v1/b", {"batch": "x"}, origin=origin)

    # The SDK must see the status to decide on a retry: errors carry the headers too.
    assert [a.status for a in (stored, wrong_key, not_a_batch)] == [200, 401, 400]
    for answer in (stored, wrong_key, not_a_batch):
        assert answer.headers["Access-Control-Allow-Origin"] == origin
        assert answer.headers["Vary"] == "Origin"


@pytest.mark.parametrize(
    "origin", ["https://elsewhere.example", "https://shop.example.com:8443", "null", f"{SHOP}."]
)
def test_an_origin_not_configured_is_403_with_nothing_stored(fresh: Function, origin: str) -> None:
    for answer in (
        preflight(fresh, "/v1/t", origin),
        # A text/plain POST with the key in the body needs no preflight: refused all the same.
        send(
            fresh,
            path="/v1/t",
            data=json.dumps(product_added()),
            content_type="text/plain",
            headers={"Origin": origin},
        ),
    ):
        assert (answer.status, answer.body["code"]) == (403, "origin_not_allowed")
        assert not any(h.startswith("Access-Control-") for h in answer.headers)
        assert (answer.line["rule"], answer.line["position"]) == ("origin_not_allowed", "Origin")
    assert fresh.bigquery.rows == [] and fresh.archive.rows == []


def test_requests_without_origin_get_no_cors_headers(fresh: Function) -> None:
    answer = send(fresh, data=json.dumps(calls.batch(product_added())), content_type=JSON)
    assert answer.status == 401  # no key: a server SDK would send one
    assert not any(h.startswith("Access-Control-") for h in answer.headers)
    options = send(fresh, method="OPTIONS", path="/v1/t")
    assert (options.status, options.headers["Allow"]) == (405, "POST")


@pytest.mark.parametrize(
    ("text", "origins"),
    [
        ("", set()),
        (" https://Shop.Example.com/ ", {"https://shop.example.com"}),
        ("https://shop.example.com:443,http://127.0.0.1:80", {SHOP, "http://127.0.0.1"}),
        (
            "http://[::1]:8000, http://localhost:3000",
            {"http://[::1]:8000", "http://localhost:3000"},
        ),
    ],
)
def test_allowed_origins_are_read_as_browsers_send_them(text: str, origins: set[str]) -> None:
    env = {**BASE, "COLLECTOR_WRITE_KEYS": KEY, "COLLECTOR_ALLOWED_ORIGINS": text}
    assert load_collector_config(env).allowed_origins.origins == origins
    # The local cloud withholds a shell's leftover of it from the functions it starts.
    assert "COLLECTOR_ALLOWED_ORIGINS" in CONFIG_VARIABLES


@pytest.mark.parametrize(
    "text", ["*", "shop.example.com", "https://shop.example.com/app", "ftp://x", "https://a@b.c"]
)
def test_an_unusable_origin_stops_start_up_naming_the_variable(text: str) -> None:
    env = {**BASE, "COLLECTOR_WRITE_KEYS": KEY, "COLLECTOR_ALLOWED_ORIGINS": text}
    with pytest.raises(ConfigError, match=r"^COLLECTOR_ALLOWED_ORIGINS: "):
        load_collector_config(env)


@HOSTILE
@given(
    request=requests(),
    origin=st.sampled_from([None, None, SHOP, OTHER_SHOP, "null", f"https://{MARKER}.example"]),
)
def test_any_request_from_any_origin_gets_a_documented_answer_and_one_clean_log_line(
    function: Function, request: dict[str, Any], origin: str | None
) -> None:
    request = dict(request)
    function.bigquery.down = function.archive.down = request.pop("down")
    if origin is not None:
        request["headers"] = {**request["headers"], "Origin": origin}
    try:
        answer = send(function, **request)  # documented status, JSON, one line without MARKER
    finally:
        function.bigquery.down = function.archive.down = False
    allowed = answer.headers.get("Access-Control-Allow-Origin")
    assert allowed == (origin if origin in (SHOP, OTHER_SHOP) else None)
    if origin is not None and allowed is None:
        assert answer.status == 403
