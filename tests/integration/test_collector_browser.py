"""The real ``@segment/analytics-next`` in headless Chromium against the collector on the local
cloud: a shop page on another origin sends a product view and an add-to-cart (``text/plain``
bodies to the short routes, after a CORS preflight), and both land in the typed table once.

The page (``js/page.html``) and the SDK's UMD build from ``js/node_modules`` are served by a
loopback server in the test; no other name resolves, and any request elsewhere fails the test.
Chromium is Debian's, driven by Playwright; ``make test`` installs both, never a downloaded
browser.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, Response

from event_capture.collector.event_ids import event_id
from localcloud.cloud import LocalCloud
from localcloud.processes import Service
from tests.integration.js_sdks import PageServer, shopper_agent
from tests.integration.test_collector_sdks import KEY, log_lines

PRODUCT = {"product_id": "sku_42", "category": "dairy", "position": 1, "session_id": "s_web"}
CALLS = [
    {"event": "Product Viewed", "properties": {**PRODUCT, "name": "Oat milk", "price": 1.99}},
    {"event": "Product Added", "properties": {**PRODUCT, "quantity": 2, "cart_id": "c_1"}},
]


@pytest.fixture(scope="module")
def collector(
    cloud: LocalCloud, shop: PageServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    log = tmp_path_factory.mktemp("collector-browser") / "collector.log"
    service = cloud.start_collector(
        write_keys=[KEY], log_path=log, env={"COLLECTOR_ALLOWED_ORIGINS": shop.origin}
    )
    yield service
    service.stop()


@dataclass
class Traffic:
    """Every answer the page got: (method, path, status, content type); and what it tried to
    reach beyond the loopback."""

    requests: list[tuple[str, str, int, str]] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)


def open_shop(browser: Browser, origin: str) -> tuple[Page, Traffic]:
    page = browser.new_page(user_agent=shopper_agent(browser))
    traffic = Traffic()

    def sent(request: Request) -> None:
        if urlsplit(request.url).hostname != "127.0.0.1":
            traffic.elsewhere.append(request.url)

    def answered(response: Response) -> None:
        # A response's event comes before the SDK's fetch resolves, so before send() returns.
        request = response.request
        content_type = request.headers.get("content-type", "")
        path = urlsplit(request.url).path
        traffic.requests.append((request.method, path, response.status, content_type))

    # Watched, not routed: with page.route, Playwright answers CORS preflights itself.
    page.on("request", sent)
    page.on("response", answered)
    page.goto(origin + "/")
    return page, traffic


def send(page: Page, collector: Service, user: str) -> list[str]:
    # The SDK's apiHost is host and path without a scheme; it appends /t, /i, ... to it.
    api_host = urlsplit(collector.url).netloc + "/collector/v1"
    arguments = {"writeKey": KEY, "apiHost": api_host, "userId": user, "calls": CALLS}
    message_ids: list[str] = page.evaluate("(args) => sendToCollector(args)", arguments)
    return message_ids


def test_the_browser_sdk_lands_a_product_view_and_an_add_to_cart_once(
    cloud: LocalCloud, collector: Service, shop: PageServer, browser: Browser
) -> None:
    page, traffic = open_shop(browser, shop.origin)
    user = f"u_web_{uuid.uuid4().hex[:8]}"
    message_ids = send(page, collector, user)
    page.close()

    rows = cloud.rows("product_interactions", [event_id(m) for m in message_ids])
    assert sorted(row["event_type"] for row in rows) == ["add_to_cart", "product_view"]
    for row in rows:
        assert (row["product_id"], row["category"], row["position"]) == ("sku_42", "dairy", 1)
        # A client key's userId without the backend's proof is not kept: the rows are the
        # browser's (test_collector_identity.py proves a login).
        assert (row["user_id"], row["session_id"], row["source"]) == (None, "s_web", "web")
        assert row["anonymous_id"] == rows[0]["anonymous_id"] is not None
    assert next(r for r in rows if r["event_type"] == "add_to_cart")["quantity"] == 2
    # One text/plain POST per call to its short route, after a CORS preflight (which Chromium
    # does not show to Playwright: the collector's log has it).
    assert [(m, p, s, t) for m, p, s, t in traffic.requests if p.startswith("/collector")] == [
        ("POST", "/collector/v1/i", 200, "text/plain"),
        ("POST", "/collector/v1/t", 200, "text/plain"),
        ("POST", "/collector/v1/t", 200, "text/plain"),
    ]
    assert traffic.elsewhere == []
    routes = Counter(line["route"] for line in log_lines(collector))
    assert (routes["identify"], routes["track"]) == (1, 2) and routes["cors_preflight"] >= 1


def test_a_page_of_an_origin_not_configured_gets_nothing_stored(
    cloud: LocalCloud, collector: Service, browser: Browser
) -> None:
    # The negative control: the same page from another origin is refused at the preflight.
    with PageServer() as stranger:
        page, traffic = open_shop(browser, stranger.origin)
        user = f"u_web_stranger_{uuid.uuid4().hex[:8]}"
        message_ids = send(page, collector, user)
        page.close()

    assert cloud.rows("product_interactions", [event_id(m) for m in message_ids]) == []
    assert not any(m == "POST" for m, p, _, _ in traffic.requests if p.startswith("/collector"))
    assert traffic.elsewhere == []
    refusals = [line for line in log_lines(collector) if line.get("rule") == "origin_not_allowed"]
    assert refusals and {line["http_status"] for line in refusals} == {403}
