"""The circuit breaker on an injected clock: when it opens, how it probes, how it closes."""

from __future__ import annotations

import threading

from event_capture.ingest.circuit import CircuitBreaker, CircuitState
from tests.fakes.clock import Clock


def breaker(clock: Clock, threshold: int = 3, cooldown: float = 30.0) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=threshold, cooldown_seconds=cooldown, clock=clock)


def state(b: CircuitBreaker) -> CircuitState:
    # A call, not the property: each read is a new state, which mypy would narrow away.
    return b.state


def fail(b: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        assert b.allow()
        b.record(False)


def test_it_opens_after_the_threshold_of_failures_in_a_row() -> None:
    b = breaker(Clock())

    fail(b, 2)
    assert state(b) is CircuitState.CLOSED and b.allow()
    b.record(False)

    assert state(b) is CircuitState.OPEN
    assert not b.allow()


def test_a_success_between_failures_starts_the_count_again() -> None:
    b = breaker(Clock())

    fail(b, 2)
    assert b.allow()
    b.record(True)
    fail(b, 2)

    assert state(b) is CircuitState.CLOSED


def test_after_the_cool_down_exactly_one_probe_goes_through(clock: Clock) -> None:
    b = breaker(clock)
    fail(b, 3)

    clock.now += 29.9
    assert not b.allow()
    clock.now += 0.1
    assert state(b) is CircuitState.HALF_OPEN
    assert b.allow()
    # Others keep skipping while the probe is out.
    assert not b.allow()
    assert not b.allow()


def test_a_successful_probe_closes_the_circuit(clock: Clock) -> None:
    b = breaker(clock)
    fail(b, 3)
    clock.now += 30

    assert b.allow()
    b.record(True)

    assert state(b) is CircuitState.CLOSED
    assert b.allow() and b.allow()


def test_a_failed_probe_opens_it_for_another_full_cool_down(clock: Clock) -> None:
    b = breaker(clock)
    fail(b, 3)
    clock.now += 30

    assert b.allow()
    b.record(False)

    assert state(b) is CircuitState.OPEN
    clock.now += 29
    assert not b.allow()
    clock.now += 1
    assert b.allow()


def test_a_released_probe_lets_the_next_request_probe(clock: Clock) -> None:
    b = breaker(clock)
    fail(b, 3)
    clock.now += 30

    assert b.allow()
    b.release()

    assert state(b) is CircuitState.HALF_OPEN
    assert b.allow()


def test_only_one_of_many_threads_gets_the_probe(clock: Clock) -> None:
    b = breaker(clock)
    fail(b, 3)
    clock.now += 30
    start = threading.Barrier(16)
    allowed: list[bool] = []

    def ask() -> None:
        start.wait()
        allowed.append(b.allow())

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert allowed.count(True) == 1
