"""The real SDKs against the collector's edge at a tight limit: each is refused with 429 and
Retry-After, backs off, and delivers every event exactly once.

One client address (the loopback) may send one request at once and one a second
(``COLLECTOR_ADDRESS_BURST`` 1, ``COLLECTOR_ADDRESS_RATE`` 1), so any SDK sending a few requests
in a row meets the limit with ``Retry-After: 1``. segment-analytics-python, @segment/analytics-node
and @segment/analytics-next (in Chromium, cross-origin, so it sees Retry-After only because the
collector exposes it) wait that long before they resend; the waits are checked against the
collector's log lines or the SDK's own attempts. rudder-sdk-python ignores Retry-After and backs
off on its own (random waits that double, eleven tries): it delivers too, since the limit frees
a request a second.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Request, Response
from rudderstack.analytics.client import Client as RudderClient  # type: ignore[import-untyped]
from segment.analytics.client import Client as SegmentClient  # type: ignore[import-untyped]

from event_capture.collector.event_ids import event_id
from event_capture.contracts import log_fields as log
from localcloud.cloud import LocalCloud
from localcloud.processes import Service
from tests.integration.js_sdks import JS, PageServer, shopper_agent

SEND_NODE = JS / "send_node_attempts.mjs"
TABLE = "product_interactions"

ADDRESS_RATE = 1.0
# A refusal by the address's rate waits for one token at most: this many whole seconds.
RETRY_AFTER = math.ceil(1 / ADDRESS_RATE)
# Timers may fire this early, clocks of two processes may disagree by this much.
TIMER_SLACK = 0.05


@dataclass(frozen=True)
class Sdk:
    key_id: str
    key: str

    @property
    def entry(self) -> dict[str, str]:
        return {"id": self.key_id, "class": "client", "key": self.key}


# A client key each, so the log lines tell the SDKs apart.
SEGMENT = Sdk("segment-python", "sp_3c8e1f7a92d04b6e85a1c0f9d27b4e63")
RUDDER = Sdk("rudder-python", "rp_7a2d9e4c10b85f3e96d1a8c7b04e25f1")
NODE = Sdk("segment-node", "sn_e41b7c2f9a0d36e58b1c4f7a92d0e63b")
BROWSER = Sdk("segment-web", "sw_09f3a6d2e7b14c58a1e6d3b9f02c7a84")


@pytest.fixture(scope="module")
def collector(
    cloud: LocalCloud, shop: PageServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    log_path = tmp_path_factory.mktemp("collector-backoff") / "collector.log"
    service = cloud.start_collector(
        write_keys=[sdk.entry for sdk in (SEGMENT, RUDDER, NODE, BROWSER)],
        log_path=log_path,
        env={
            "WORKERS": "1",
            "COLLECTOR_ADDRESS_RATE": str(ADDRESS_RATE),
            "COLLECTOR_ADDRESS_BURST": "1",
            "COLLECTOR_ALLOWED_ORIGINS": shop.origin,
        },
    )
    yield service
    service.stop()


def log_lines(service: Service, sdk: Sdk) -> list[dict[str, Any]]:
    """The collector's lines for the SDK's key, in the order written."""
    assert service.log_path is not None
    lines = Path(service.log_path).read_text().splitlines()
    parsed = [json.loads(line) for line in lines if line.startswith("{")]
    return [line for line in parsed if line.get(log.KEY_ID) == sdk.key_id]


def at(line: dict[str, Any]) -> float:
    return datetime.fromisoformat(line["time"]).timestamp()


def assert_refused_then_delivered(lines: list[dict[str, Any]], accepted: int) -> None:
    """At least one 429 by the address's rate, nothing but 200 and 429, and as many events
    accepted as the SDK sent."""
    statuses = Counter(line[log.HTTP_STATUS] for line in lines)
    assert set(statuses) <= {200, 429} and statuses[429] >= 1, statuses
    rules = {line[log.RULE] for line in lines if line[log.HTTP_STATUS] == 429}
    assert rules <= {log.ADDRESS_RATE_LIMITED, log.TOO_MANY_IN_FLIGHT}, rules
    assert sum(line[log.EVENTS_ACCEPTED] for line in lines if line[log.HTTP_STATUS] == 200) == (
        accepted
    )


def assert_stored_once(cloud: LocalCloud, message_ids: list[str]) -> None:
    ids = [event_id(m) for m in message_ids]
    copies = Counter(row["event_id"] for row in cloud.rows(TABLE, ids))
    assert copies == Counter(ids), copies


def product_calls(count: int) -> list[tuple[str, dict[str, Any]]]:
    names = ("Product Viewed", "Product Clicked", "Product Added")
    product = {"product_id": "sku_42", "category": "dairy", "position": 1}
    product |= {"session_id": "s_backoff", "name": "Oat milk", "price": 1.99}
    return [(names[n % len(names)], {**product, "quantity": n + 1}) for n in range(count)]


# --- the Python SDKs ---------------------------------------------------------------------------


def python_sends(kind: str, sdk: Sdk, url: str) -> tuple[list[str], list[Any]]:
    """Six events in batches of two with the SDK's own consumer thread, flushed; the
    messageIds and whatever the SDK reported as failed."""
    errors: list[Any] = []
    options: dict[str, Any] = {"host": url + "/collector", "upload_size": 2}
    options |= {"upload_interval": 0.1, "on_error": lambda error, batch: errors.append(error)}
    client = (SegmentClient if kind == "segment" else RudderClient)(sdk.key, **options)
    # A client key's sender, not logged in: its calls are the device's (a user id would need
    # the backend's proof).
    device = f"a_{kind}_{uuid.uuid4().hex[:8]}"
    message_ids = []
    for name, properties in product_calls(6):
        _, message = client.track(anonymous_id=device, event=name, properties=properties)
        message_ids.append(message["messageId"])
    client.flush()
    client.join()
    return message_ids, errors


def test_segment_python_waits_out_retry_after_and_delivers_every_event_once(
    cloud: LocalCloud, collector: Service
) -> None:
    message_ids, errors = python_sends("segment", SEGMENT, collector.url)

    assert errors == []
    lines = log_lines(collector, SEGMENT)
    assert_refused_then_delivered(lines, accepted=len(message_ids))
    # One consumer thread sends one batch at a time: after each 429 its next request comes
    # once Retry-After has passed.
    for refused, following in itertools.pairwise(lines):
        if refused[log.HTTP_STATUS] == 429:
            assert at(following) - at(refused) >= RETRY_AFTER - TIMER_SLACK, (refused, following)
    assert_stored_once(cloud, message_ids)


def test_rudder_python_outlasts_a_limit_of_a_request_a_second_with_its_own_backoff(
    cloud: LocalCloud, collector: Service
) -> None:
    # rudder-sdk-python reads no Retry-After: it retries a 429 after random waits of up to
    # 1, 2, 4... s, eleven tries in all, then drops the batch. Against a limit that frees a
    # request every second that is enough; against a long one (a daily cap) it gives up
    # (docs/apis/collector.md, "Limits").
    message_ids, errors = python_sends("rudder", RUDDER, collector.url)

    assert errors == []
    assert_refused_then_delivered(log_lines(collector, RUDDER), accepted=len(message_ids))
    assert_stored_once(cloud, message_ids)


# --- @segment/analytics-node -------------------------------------------------------------------


def test_segment_node_waits_out_retry_after_and_delivers_every_event_once(
    cloud: LocalCloud, collector: Service, node: str
) -> None:
    run = uuid.uuid4().hex[:8]
    device = f"a_node_{run}"
    calls: list[dict[str, Any]] = [
        {
            "anonymousId": device,
            "event": name,
            "properties": properties,
            "messageId": f"node-{run}-{n}",
        }
        for n, (name, properties) in enumerate(product_calls(6))
    ]
    # Batches of two, sent at once: the address's one request a second refuses most of them,
    # and the SDK's publisher holds every batch until Retry-After has passed.
    path = "/collector/v1/batch"
    settings = {"writeKey": NODE.key, "host": collector.url, "path": path, "flushAt": 2}
    completed = subprocess.run(
        [node, str(SEND_NODE)],
        cwd=JS,
        input=json.dumps({"settings": settings, "calls": calls}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)

    assert result["errors"] == [] and result["delivered"] == len(calls), result
    attempts: list[dict[str, Any]] = result["attempts"]
    assert {a["status"] for a in attempts} == {200, 429}, attempts
    assert {a["retryAfter"] for a in attempts if a["status"] == 429} == {str(RETRY_AFTER)}
    # Each batch's next attempt after a 429 was sent once Retry-After had passed.
    by_batch: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for attempt in sorted(attempts, key=lambda a: a["sentAt"]):
        by_batch[tuple(attempt["messageIds"])].append(attempt)
    for tries in by_batch.values():
        assert [a["status"] for a in tries][-1] == 200, tries
        for refused, again in itertools.pairwise(tries):
            waited = (again["sentAt"] - refused["answeredAt"]) / 1000
            assert waited >= RETRY_AFTER - TIMER_SLACK, tries
    lines = log_lines(collector, NODE)
    assert_refused_then_delivered(lines, accepted=len(calls))
    assert Counter(line[log.HTTP_STATUS] for line in lines) == Counter(
        a["status"] for a in attempts
    )
    assert_stored_once(cloud, [call["messageId"] for call in calls])


# --- @segment/analytics-next in Chromium -------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One POST of the page's SDK to the collector, answered; the times are the browser's
    own (Resource Timing, in s): when the request started and its answer's first byte came."""

    message_id: str
    sent_at: float
    answered_at: float
    status: int
    headers: dict[str, str]


def test_segment_next_in_a_browser_waits_out_retry_after_and_delivers_every_event_once(
    cloud: LocalCloud, collector: Service, shop: PageServer, browser: Browser
) -> None:
    # A shopper's Chrome: headless Chromium's own user agent is dropped as a crawler.
    page = browser.new_page(user_agent=shopper_agent(browser))
    sent: set[str] = set()
    attempts: list[Attempt] = []

    def calls_of(request: Request) -> str | None:
        if request.method != "POST" or not urlsplit(request.url).path.startswith("/collector/"):
            return None
        message_id: str = json.loads(request.post_data or "{}")["messageId"]
        return message_id

    def sending(request: Request) -> None:
        if (message_id := calls_of(request)) is not None:
            sent.add(message_id)

    def answered(response: Response) -> None:
        if (message_id := calls_of(response.request)) is not None:
            timing = response.request.timing
            started, first_byte = timing["startTime"], timing["responseStart"]
            attempts.append(
                Attempt(
                    message_id=message_id,
                    sent_at=started / 1000,
                    answered_at=(started + first_byte) / 1000,
                    status=response.status,
                    headers=response.headers,
                )
            )

    page.on("request", sending)
    page.on("response", answered)
    try:
        page.goto(shop.origin + "/")
        api_host = urlsplit(collector.url).netloc + "/collector/v1"
        user = f"u_web_{uuid.uuid4().hex[:8]}"
        calls = [{"event": name, "properties": props} for name, props in product_calls(3)]
        arguments = {"writeKey": BROWSER.key, "apiHost": api_host, "userId": user, "calls": calls}
        # The SDK resolves a call before its delivery once the first attempt fails: wait for
        # a 200 to every call it sent (the identify call's too).
        message_ids: list[str] = page.evaluate("(args) => sendToCollector(args)", arguments)
        deadline = time.monotonic() + 45
        while {a.message_id for a in attempts if a.status == 200} != sent:
            assert time.monotonic() < deadline, attempts
            page.wait_for_timeout(100)
    finally:
        page.close()

    by_call: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in sorted(attempts, key=lambda a: a.sent_at):
        by_call[attempt.message_id].append(attempt)
    assert set(message_ids) < set(by_call), (message_ids, list(by_call))
    refusals = [a for a in attempts if a.status == 429]
    assert refusals, attempts
    for refused in refusals:
        assert refused.headers.get("retry-after") == str(RETRY_AFTER)
        # Cross-origin, the page's script sees Retry-After only because it is exposed.
        exposed = refused.headers.get("access-control-expose-headers", "")
        assert "retry-after" in exposed.lower(), refused.headers
    for tries in by_call.values():
        assert [a.status for a in tries].count(200) == 1 and tries[-1].status == 200, tries
        for refused, again in itertools.pairwise(tries):
            assert again.sent_at - refused.answered_at >= RETRY_AFTER - TIMER_SLACK, tries
    # The identify call is counted, not stored; each track call is stored once.
    lines = log_lines(collector, BROWSER)
    assert_refused_then_delivered(lines, accepted=len(message_ids))
    assert_stored_once(cloud, message_ids)
