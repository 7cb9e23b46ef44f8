"""The collector's edge against a flood and against slow bodies, on the real server.

A flood: many addresses (``X-Forwarded-For``'s last entry, as Google's front end appends it) send
single calls and full batches with one client key, faster than its limits, while the backend
sends with a server key from one of the same addresses. What each limit lets through is
bounded by its own arithmetic (burst + rate x the time measured), the key's day by its caps,
the server key is never refused, every 429 says when to come back, and every event of a 200 is
stored exactly once and nothing of a 429.

Slow bodies: one address holds connections open with bodies that never arrive; another
address is served at once, because an address has at most a few requests in flight.
"""

from __future__ import annotations

import base64
import json
import math
import random
import selectors
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from event_capture.collector.event_ids import event_id
from event_capture.contracts import log_fields as log
from localcloud.cloud import LocalCloud
from localcloud.processes import Service
from tests.integration.raw_http import read_response

SERVER_KEY = "srv_5f0c2a9e71d84b36a1c7e0b94d2f6385"
CLIENT_KEY = "web_9b3e6d1f08a24c57b8e2d9f4a6c13e70"
WRITE_KEYS = [
    {"id": "backend", "class": "server", "key": SERVER_KEY},
    {"id": "web", "class": "client", "key": CLIENT_KEY},
]
TABLE = "product_interactions"

# Small limits, so that a flood of a second or two meets each of them, however fast the
# machine: more requests per address than its burst and a rate slower than they come, a key
# burst below what a moment's address bursts let through (20 x 5), daily caps below the key's
# burst.
ADDRESS_RATE = 2.0
ADDRESS_BURST = 5
KEY_RATE = 20.0
KEY_BURST = 40
DAILY_REQUESTS = 30
DAILY_EVENTS = 300
BATCH = 25
THREADS = 8
FLOOD_ENV = {
    "WORKERS": "1",  # the limits are per instance: one process holds them
    "THREADS": str(THREADS),
    "COLLECTOR_ADDRESS_RATE": str(ADDRESS_RATE),
    "COLLECTOR_ADDRESS_BURST": str(ADDRESS_BURST),
    "COLLECTOR_CLIENT_KEY_RATE": str(KEY_RATE),
    "COLLECTOR_CLIENT_KEY_BURST": str(KEY_BURST),
    "COLLECTOR_DAILY_REQUESTS": str(DAILY_REQUESTS),
    "COLLECTOR_DAILY_EVENTS": str(DAILY_EVENTS),
}
# TEST-NET-2 addresses (RFC 5737), one per flooding client.
ADDRESSES = [f"198.51.100.{n}" for n in range(1, 21)]
REQUESTS_PER_ADDRESS = 12
SENDERS = 16
# The rules of the refusals that come before the address's bucket is drawn on, and after.
BEFORE_ADDRESS_BUCKET = (log.TOO_MANY_IN_FLIGHT, log.ADDRESS_RATE_LIMITED)
AFTER_ADDRESS_BUCKET = (log.KEY_RATE_LIMITED, log.DAILY_CAP_REACHED)


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def track_call(user: str) -> dict[str, Any]:
    properties = {"product_id": "sku_42", "category": "dairy", "position": 1}
    properties |= {"session_id": "s_edge", "name": "Oat milk", "price": 1.99}
    return {
        "type": "track",
        "event": "Product Viewed",
        # A page's visitor before a login: a client key keeps no user id without its proof.
        "anonymousId": user,
        "messageId": str(uuid.uuid4()),
        "properties": properties,
    }


@dataclass(frozen=True)
class Sent:
    """One request of the flood and its answer."""

    address: str
    key_class: str
    event_ids: tuple[str, ...]
    status: int
    code: str | None
    retry_after: str | None
    accepted: int | None
    started: float
    ended: float


def send(
    session: requests.Session, url: str, address: str, key: str, key_class: str, calls: int
) -> Sent:
    """A single call (calls == 1, to /v1/track) or a batch (to /v1/batch) from ``address``; the
    first X-Forwarded-For entry is the caller's own claim, which must change nothing."""
    user = f"u_edge_{uuid.uuid4().hex[:8]}"
    batch = [track_call(user) for _ in range(calls)]
    if calls == 1:
        path, body = "/collector/v1/track", {k: v for k, v in batch[0].items() if k != "type"}
    else:
        path, body = "/collector/v1/batch", {"batch": batch}
    spoofed = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(256)}"
    headers = {"Authorization": basic(key), "X-Forwarded-For": f"{spoofed}, {address}"}
    started = time.monotonic()
    answer = session.post(url + path, json=body, headers=headers, timeout=60)
    ended = time.monotonic()
    document = answer.json()
    return Sent(
        address=address,
        key_class=key_class,
        event_ids=tuple(event_id(call["messageId"]) for call in batch),
        status=answer.status_code,
        code=document.get("code"),
        retry_after=answer.headers.get("Retry-After"),
        accepted=document.get("accepted"),
        started=started,
        ended=ended,
    )


def log_lines(service: Service) -> list[dict[str, Any]]:
    assert service.log_path is not None
    lines = Path(service.log_path).read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def stored_copies(cloud: LocalCloud, ids: list[str], timeout: float = 30.0) -> Counter[str]:
    """How many rows each of ``ids`` has, once all are there (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        copies = Counter(row["event_id"] for row in cloud.rows(TABLE, ids))
        if set(ids) <= set(copies) or time.monotonic() > deadline:
            return copies
        time.sleep(0.2)


@pytest.fixture
def flooded(cloud: LocalCloud, tmp_path: Path) -> Iterator[Service]:
    service = cloud.start_collector(
        write_keys=WRITE_KEYS, log_path=tmp_path / "collector.log", env=FLOOD_ENV
    )
    try:
        yield service
    finally:
        service.stop()


def flood(url: str) -> tuple[list[Sent], list[Sent]]:
    """The client key's requests (singles and batches, the addresses interleaved) from many
    threads, and the server key's, sent from the first address for as long as the flood
    lasts."""
    jobs = [
        (address, 1 if n % 2 else BATCH)
        for address in ADDRESSES
        for n in range(REQUESTS_PER_ADDRESS)
    ]
    random.shuffle(jobs)
    local = threading.local()
    sessions: list[requests.Session] = []

    def client(job: tuple[str, int]) -> Sent:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            sessions.append(local.session)
        address, calls = job
        return send(local.session, url, address, CLIENT_KEY, "client", calls)

    done = threading.Event()
    server: list[Sent] = []

    def backend() -> None:
        with requests.Session() as session:
            while not done.is_set() or len(server) < 5:
                server.append(send(session, url, ADDRESSES[0], SERVER_KEY, "server", 2))

    backend_thread = threading.Thread(target=backend)
    backend_thread.start()
    try:
        with ThreadPoolExecutor(SENDERS) as pool:
            clients = list(pool.map(client, jobs))
    finally:
        done.set()
        backend_thread.join()
        for session in sessions:
            session.close()
    return clients, server


def test_a_flood_on_a_client_key_is_bounded_by_its_limits_and_loses_nothing_accepted(
    cloud: LocalCloud, flooded: Service
) -> None:
    clients, server = flood(flooded.url)

    # Only 200 and 429: a refusal is never a 5xx, a 408 or a lost connection.
    assert {s.status for s in clients} <= {200, 429}, Counter(s.status for s in clients)
    refused = [s for s in clients if s.status == 429]
    accepted = [s for s in clients if s.status == 200]
    by_rule = Counter(s.code for s in refused)
    assert set(by_rule) <= {*BEFORE_ADDRESS_BUCKET, *AFTER_ADDRESS_BUCKET}, by_rule
    # Each limit was met (otherwise the bounds below would prove nothing).
    for rule in (log.ADDRESS_RATE_LIMITED, log.KEY_RATE_LIMITED, log.DAILY_CAP_REACHED):
        assert by_rule[rule] > 0, by_rule

    # Every 429 says when to resend: whole seconds, at most what the SDKs honour (300); a
    # rate's at most a token's wait, rounded up.
    for sent in refused:
        assert sent.retry_after is not None and sent.retry_after.isdigit(), sent
        seconds = int(sent.retry_after)
        assert 1 <= seconds <= 300, sent
        if sent.code == log.ADDRESS_RATE_LIMITED:
            assert seconds == math.ceil(1 / ADDRESS_RATE), sent
        elif sent.code == log.KEY_RATE_LIMITED:
            assert seconds == math.ceil(1 / KEY_RATE), sent

    # Each address's bucket: what got past it (accepted, or refused by a later rule) is at most
    # its burst plus its rate times the time between its first request and its last answer.
    for address in ADDRESSES:
        mine = [s for s in clients if s.address == address]
        elapsed = max(s.ended for s in mine) - min(s.started for s in mine)
        passed = [s for s in mine if s.status == 200 or s.code in AFTER_ADDRESS_BUCKET]
        bound = ADDRESS_BURST + ADDRESS_RATE * elapsed
        assert len(passed) <= bound, (address, len(passed), elapsed)

    # The key's bucket, over the whole flood: what got past it was accepted or met the cap.
    elapsed = max(s.ended for s in clients) - min(s.started for s in clients)
    past_key = [s for s in clients if s.status == 200 or s.code == log.DAILY_CAP_REACHED]
    assert len(past_key) <= KEY_BURST + KEY_RATE * elapsed, (len(past_key), elapsed)

    # The key's day: at most its caps, and refused only once a request would not fit them.
    requests_today = len(accepted)
    events_today = sum(len(s.event_ids) for s in accepted)
    assert requests_today <= DAILY_REQUESTS and events_today <= DAILY_EVENTS
    for sent in refused:
        if sent.code == log.DAILY_CAP_REACHED:
            assert (
                requests_today + 1 > DAILY_REQUESTS
                or events_today + len(sent.event_ids) > DAILY_EVENTS
            ), (requests_today, events_today, len(sent.event_ids))

    # The server key: never refused, from the flooded address, all the while.
    assert server and [s.status for s in server] == [200] * len(server)
    assert server[0].started < max(s.ended for s in clients) < server[-1].ended

    # Accepted means stored, exactly once; refused means nothing stored.
    for sent in (*accepted, *server):
        assert sent.accepted == len(sent.event_ids), sent
    kept = [i for s in (*accepted, *server) for i in s.event_ids]
    copies = stored_copies(cloud, kept)
    assert copies == Counter(kept), {i: n for i, n in copies.items() if n != 1}
    assert cloud.rows(TABLE, [i for s in refused for i in s.event_ids]) == []

    # The log: a line per request, the refusals by the same rules, the keys by id and class.
    lines = [line for line in log_lines(flooded) if line.get(log.ROUTE) in ("track", "batch")]
    assert len(lines) == len(clients) + len(server)
    refusals = Counter(line[log.RULE] for line in lines if line[log.HTTP_STATUS] == 429)
    assert refusals == by_rule
    keys = Counter((line[log.KEY_ID], line[log.KEY_CLASS], line[log.HTTP_STATUS]) for line in lines)
    assert keys == Counter(
        {
            ("backend", "server", 200): len(server),
            ("web", "client", 200): len(accepted),
            ("web", "client", 429): len(refused),
        }
    )


# --- slow bodies ------------------------------------------------------------------------------

SLOW_THREADS = 8
# More slow connections than threads: without the in-flight limit, every thread is taken.
SLOW_CONNECTIONS = SLOW_THREADS + 2
IN_FLIGHT = 4
READ_TIMEOUT = 3.0
SLOW_ADDRESS = "198.51.100.200"
OTHER_ADDRESS = "198.51.100.201"


def slow_env(in_flight: int) -> dict[str, str]:
    return {
        "WORKERS": "1",
        "THREADS": str(SLOW_THREADS),
        "COLLECTOR_ADDRESS_IN_FLIGHT": str(in_flight),
        "COLLECTOR_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
    }


def stalled_request(service: Service) -> socket.socket:
    """Headers announcing a 1000-byte batch, its first bytes, then nothing: the connection
    stays open."""
    head = "\r\n".join(
        [
            "POST /collector/v1/batch HTTP/1.1",
            "Host: collector",
            "Content-Type: application/json",
            "Content-Length: 1000",
            f"Authorization: {basic(CLIENT_KEY)}",
            f"X-Forwarded-For: {SLOW_ADDRESS}",
        ]
    )
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=60)
    sock.sendall(head.encode() + b"\r\n\r\n" + b'{"batch": [')
    return sock


def response(sock: socket.socket) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Status, headers and JSON body of one response."""
    status, headers, body = read_response(sock)
    return status, headers, json.loads(body)


def answered_within(socks: list[socket.socket], count: int, timeout: float) -> list[socket.socket]:
    """Those of ``socks`` with an answer waiting once ``count`` of them have one, or once
    ``timeout`` s have passed (0: those that have one now)."""
    ready: list[socket.socket] = []
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            selector.register(sock, selectors.EVENT_READ)
        while True:
            left = max(0.0, deadline - time.monotonic())
            for key, _ in selector.select(left):
                answered = key.fileobj
                assert isinstance(answered, socket.socket)
                selector.unregister(answered)
                ready.append(answered)
            if len(ready) >= count or left == 0:
                return ready


def one_call(service: Service) -> tuple[requests.Response, float, str]:
    """A valid single call from another address: the answer, how long it took, its event."""
    call = {k: v for k, v in track_call(f"u_edge_{uuid.uuid4().hex[:8]}").items() if k != "type"}
    headers = {"Authorization": basic(CLIENT_KEY), "X-Forwarded-For": OTHER_ADDRESS}
    started = time.monotonic()
    answer = requests.post(
        service.url + "/collector/v1/track", json=call, headers=headers, timeout=60
    )
    return answer, time.monotonic() - started, event_id(call["messageId"])


def start_slow(cloud: LocalCloud, tmp_path: Path, in_flight: int) -> Service:
    return cloud.start_collector(
        write_keys=WRITE_KEYS, log_path=tmp_path / "collector.log", env=slow_env(in_flight)
    )


def holding(service: Service, test: Callable[[list[socket.socket]], None]) -> None:
    slow = [stalled_request(service) for _ in range(SLOW_CONNECTIONS)]
    try:
        test(slow)
    finally:
        for sock in slow:
            sock.close()


def test_slow_bodies_from_one_address_leave_another_address_served_at_once(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    service = start_slow(cloud, tmp_path, IN_FLIGHT)

    def test(slow: list[socket.socket]) -> None:
        # A refusal of the address's requests beyond its in-flight limit, before its body is
        # read: from then on, as many as the limit are held until the read timeout.
        first = answered_within(slow, 1, timeout=READ_TIMEOUT / 2)
        assert first, "no request of the slow address was refused"

        answer, waited, stored = one_call(service)

        assert answer.status_code == 200, answer.text
        assert waited < 1.0, waited
        answers = {sock: response(sock) for sock in answered_within(slow, SLOW_CONNECTIONS, 0)}
        # The held bodies were still being waited for when that answer came.
        assert len(answers) == SLOW_CONNECTIONS - IN_FLIGHT
        for status, headers, body in answers.values():
            assert (status, body["code"], headers.get("retry-after")) == (
                429,
                log.TOO_MANY_IN_FLIGHT,
                "1",
            )
        for sock in slow:
            if sock not in answers:
                status, _, body = response(sock)
                assert (status, body["code"]) == (408, "body_read_timeout")
        assert [row["event_id"] for row in cloud.rows(TABLE, [stored])] == [stored]

    try:
        holding(service, test)
    finally:
        service.stop()
    assert "Traceback" not in Path(str(service.log_path)).read_text()


def test_without_the_in_flight_limit_slow_bodies_take_every_thread(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    # The negative control: with as many requests in flight per address as connections, the
    # same slow bodies hold every thread, and the other address waits for the read timeout.
    service = start_slow(cloud, tmp_path, SLOW_CONNECTIONS)

    def test(slow: list[socket.socket]) -> None:
        assert answered_within(slow, 1, timeout=0) == []
        answer, waited, _ = one_call(service)
        assert answer.status_code == 200, answer.text
        assert waited >= 1.0, waited

    try:
        holding(service, test)
    finally:
        service.stop()
