"""collector.limits: token buckets, requests in flight and daily caps, each on an injected clock."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from event_capture.collector.limits import (
    MAX_RETRY_AFTER_SECONDS,
    DailyCaps,
    Edge,
    InFlight,
    TokenBuckets,
    client_address,
    retry_after,
)

NOON = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_admits_its_burst_then_says_how_long_until_the_next() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)

    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)


def test_each_key_has_a_bucket_of_its_own() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, clock=Clock())

    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    assert buckets.take("b") == 0.0


def test_a_refused_request_costs_nothing_and_waits_only_for_what_is_missing() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=1, clock=clock)
    buckets.take("a")

    clock.now += 0.25
    assert buckets.take("a") == pytest.approx(0.75)
    clock.now += 0.75
    assert buckets.take("a") == 0.0


def test_idle_buckets_are_dropped_in_the_course_of_later_checks() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=10.0, burst=10, clock=clock)
    for address in range(1_000):
        buckets.take(address)
    assert len(buckets) == 1_000

    clock.now += 1.5  # full again after burst / rate = 1 s
    buckets.take("late")

    assert len(buckets) == 1


def test_under_threads_a_bucket_admits_exactly_its_burst() -> None:
    buckets = TokenBuckets(rate=1e-9, burst=1_000)
    admitted = []

    def hammer() -> None:
        admitted.append(sum(buckets.take("k") == 0.0 for _ in range(500)))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(admitted) == 1_000


def test_in_flight_holds_an_address_to_its_limit_until_one_leaves() -> None:
    in_flight = InFlight(2)

    assert in_flight.enter("a") and in_flight.enter("a")
    assert not in_flight.enter("a")
    assert in_flight.enter("b")
    in_flight.leave("a")
    assert in_flight.enter("a")


def test_a_day_caps_requests_and_events_and_refuses_a_batch_that_does_not_fit_whole() -> None:
    now = [NOON]
    caps = DailyCaps(requests=3, events=10, clock=lambda: now[0])

    assert caps.admit("web", 6) == 0.0
    until_midnight = caps.admit("web", 5)
    assert until_midnight == 12 * 3600
    assert caps.admit("web", 4) == 0.0  # the refused batch counted nothing
    assert caps.admit("ios", 10) == 0.0  # another key, another count
    assert caps.admit("web", 0) == 0.0
    assert caps.admit("web", 0) > 0  # the fourth request
    now[0] = NOON + dt.timedelta(days=1)
    assert caps.admit("web", 10) == 0.0


def test_no_cap_is_no_cap() -> None:
    caps = DailyCaps(requests=0, events=0, clock=lambda: NOON)

    assert all(caps.admit("web", 500) == 0.0 for _ in range(1_000))


@pytest.mark.parametrize(
    ("seconds", "header"),
    [(0.001, 1), (1.0, 1), (1.2, 2), (43_200.0, MAX_RETRY_AFTER_SECONDS)],
)
def test_retry_after_is_whole_seconds_the_sdks_honour(seconds: float, header: int) -> None:
    assert retry_after(seconds) == header


@pytest.mark.parametrize(
    ("forwarded", "peer", "address"),
    [
        ("203.0.113.7", "10.0.0.1", "203.0.113.7"),
        # A caller's own entries come first; Google's front end appends what it saw.
        ("1.2.3.4, 198.51.100.2", "10.0.0.1", "198.51.100.2"),
        ("1.2.3.4, 198.51.100.2, ", "10.0.0.1", "198.51.100.2"),
        (None, "127.0.0.1", "127.0.0.1"),
        ("", None, "unknown"),
    ],
)
def test_the_callers_address_is_the_last_forwarded_entry(
    forwarded: str | None, peer: str | None, address: str
) -> None:
    assert client_address(forwarded, peer) == address


def edge(**overrides: float) -> Edge:
    settings: dict[str, float] = {
        "address_rate": 1.0,
        "address_burst": 2,
        "in_flight": 1,
        "key_rate": 1.0,
        "key_burst": 2,
        "daily_requests": 0,
        "daily_events": 0,
    }
    settings.update(overrides)
    return Edge(
        address_rate=settings["address_rate"],
        address_burst=int(settings["address_burst"]),
        in_flight=int(settings["in_flight"]),
        key_rate=settings["key_rate"],
        key_burst=int(settings["key_burst"]),
        daily_requests=int(settings["daily_requests"]),
        daily_events=int(settings["daily_events"]),
        clock=Clock(),
        day_clock=lambda: NOON,
    )


def test_the_edge_refuses_a_second_request_in_flight_then_an_address_over_its_rate() -> None:
    limits = edge()

    assert limits.enter("a") is None
    refused = limits.enter("a")
    assert refused is not None and (refused.rule, refused.retry_after) == ("too_many_in_flight", 1)
    limits.leave("a")
    assert limits.enter("a") is None
    limits.leave("a")
    over = limits.enter("a")
    assert over is not None and (over.rule, over.retry_after) == ("address_rate_limited", 1)
    assert limits.enter("b") is None  # another address


def test_the_edge_refuses_a_key_over_its_rate_then_past_its_day() -> None:
    limits = edge(key_burst=100, daily_requests=2)

    assert limits.admit_key("web", 3) is None
    assert limits.admit_key("web", 3) is None
    capped = limits.admit_key("web", 3)
    assert capped is not None and capped.rule == "daily_cap_reached"
    assert capped.retry_after == MAX_RETRY_AFTER_SECONDS

    slow = edge(key_burst=1)
    assert slow.admit_key("web", 1) is None
    rated = slow.admit_key("web", 1)
    assert rated is not None and rated.rule == "key_rate_limited"
