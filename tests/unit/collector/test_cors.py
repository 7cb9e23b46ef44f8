"""collector.cors: which web pages may send to the collector from a browser. The preflight, the
headers on every answer to a configured origin, the refusal of any other, and the origins as
COLLECTOR_ALLOWED_ORIGINS gives them. The browser SDK's calls themselves are test_handler.py's.
"""

from __future__ import annotations

import json

import pytest

from event_capture.collector.config import CONFIG_VARIABLES, load_collector_config
from event_capture.collector.cors import ALLOWED_HEADERS
from event_capture.ingest.config import ConfigError
from tests.fakes.functions import Function
from tests.unit.collector import calls
from tests.unit.collector.served import (
    JSON,
    KEY,
    OTHER_SHOP,
    SHOP,
    beacon,
    preflight,
    product_added,
    send,
)
from tests.unit.collector.test_config import BASE


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
