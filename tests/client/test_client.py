"""event_capture.client.client, the capture client, against a scripted HTTP stand-in: batching,
the queue policies, events refused before sending, shutdown and fork. What each answer means
for a batch is test_delivery.py. Waits between retries are recorded, not slept."""

import logging
import os
import time

import pytest

from event_capture.client import (
    CaptureClient,
    ClientSettings,
    QueueFullPolicy,
)
from event_capture.client.delivery import Backoff
from tests.client.capture_client import Sleeps, make, search
from tests.client.stub_function import stub_function


def test_batches_respect_the_event_and_byte_caps(sleeps: Sleeps) -> None:
    settings = ClientSettings(linger_seconds=0.5, max_batch_events=200, max_batch_bytes=60_000)
    with stub_function(held=True) as stub:
        client = make(stub.url, sleeps, settings)
        sent = [search(n) for n in range(450)]
        for event in sent:
            client.track(event)
        stub.hold.set()
        assert client.flush(30)

    sizes = [len(batch) for batch in stub.requests]
    assert sum(sizes) == 450 and max(sizes) <= 200
    assert sorted(stub.event_ids) == sorted(str(e.event_id) for e in sent)
    one_event = len(sent[0].model_dump_json(exclude_none=True))
    assert all(size * (one_event + 1) <= 60_000 for size in sizes)


def test_a_full_queue_drops_the_newest_and_counts_it(sleeps: Sleeps) -> None:
    settings = ClientSettings(
        max_queue=5, max_batch_events=1, linger_seconds=0.0, block_timeout_seconds=60
    )
    with stub_function(held=True) as stub:
        client = make(stub.url, sleeps, settings)
        results = [client.track(search(n)) for n in range(20)]
        stats = client.stats()
        started = time.perf_counter()
        assert client.track(search(99)) is False
        # drop_newest ignores block_timeout_seconds (60 s here): it returns at once.
        assert time.perf_counter() - started < 30
        stub.hold.set()
        assert client.flush(10)

    assert results[:5] == [True] * 5 and results[-1] is False
    assert stats.tracked + stats.dropped_queue_full == 20
    assert 14 <= stats.dropped_queue_full <= 15  # the worker may hold one event in flight
    after = client.stats()
    assert after.delivered == stats.tracked
    assert after.delivered + after.dropped_queue_full == 21  # every call accounted for once


def test_a_full_queue_blocks_up_to_the_timeout_under_the_block_policy(sleeps: Sleeps) -> None:
    settings = ClientSettings(
        max_queue=2, max_batch_events=1, queue_full=QueueFullPolicy.BLOCK, block_timeout_seconds=0.2
    )
    with stub_function(held=True) as stub:
        client = make(stub.url, sleeps, settings)
        for n in range(3):
            client.track(search(n))
        started = time.perf_counter()
        queued = client.track(search(9))
        waited = time.perf_counter() - started
        stub.hold.set()
        client.flush(10)

    assert queued is False and 0.15 <= waited < 30
    assert client.stats().dropped_queue_full >= 1


def test_malformed_events_are_refused_cheaply_or_dropped_before_sending(sleeps: Sleeps) -> None:
    with stub_function() as stub:
        client = make(stub.url, sleeps)
        assert client.track({"event_type": "teleport", "event_id": "x"}) is False
        assert client.track("not an event") is False  # type: ignore[arg-type]
        # Passes the cheap check; the worker's full validation drops it.
        assert client.track({"event_type": "search", "event_id": "1"}) is True
        client.track(search())
        assert client.flush(10)

    assert len(stub.event_ids) == 1
    stats = client.stats()
    assert (stats.dropped_invalid, stats.delivered, stats.queued) == (3, 1, 0)
    assert stats.tracked == 2  # the dict that passed the cheap check was queued

    strict = make(stub.url, sleeps, ClientSettings(strict=True))
    with pytest.raises(ValueError, match="event_type: unknown event type 'teleport'"):
        strict.track({"event_type": "teleport", "event_id": "x"})


def test_close_delivers_what_is_queued_before_returning(sleeps: Sleeps) -> None:
    with stub_function() as stub:
        client = make(stub.url, sleeps, ClientSettings(linger_seconds=5))
        sent = [search(n) for n in range(30)]
        for event in sent:
            client.track(event)
        stats = client.close(10)

        assert sorted(stub.event_ids) == sorted(str(e.event_id) for e in sent)
    assert (stats.delivered, stats.dropped_at_shutdown, stats.queued) == (30, 0, 0)


def test_close_with_the_function_down_gives_up_at_its_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with stub_function() as stub:
        url = stub.url
    client = CaptureClient(url, ClientSettings(linger_seconds=0.01, backoff=Backoff(0.05, 0.2)))
    for n in range(3):
        client.track(search(n))
    started = time.monotonic()
    stats = client.close(1.0)

    assert time.monotonic() - started < 30  # bounded by the deadline, not by the outage
    assert stats.dropped_at_shutdown == 3 and stats.delivered == 0
    assert "undelivered" in caplog.text or "gave up" in caplog.text


def test_a_forked_child_starts_with_its_own_empty_queue_and_worker(sleeps: Sleeps) -> None:
    with stub_function() as stub:
        client = make(stub.url, sleeps)
        before = search(1)
        client.track(before)
        assert client.flush(10)
        pid = os.fork()
        if pid == 0:  # the child: its event must go out through its own worker
            logging.disable()
            client.track(search(2))
            stats = client.close(10)
            os._exit(0 if (stats.tracked, stats.delivered) == (1, 1) else 1)
        _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert len(stub.event_ids) == 2
    assert stub.event_ids.count(str(before.event_id)) == 1


def test_an_invalid_event_is_logged_by_field_rule_and_position_never_by_value(
    sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    event = search().model_dump(mode="json", exclude_none=True)
    event["filters"] = [
        {"name": "brand", "value": "x"},
        {"name": "Jane.Doe@Example.com", "value": "x"},
    ]
    event["result_count"] = "jane.doe@example.com"
    with stub_function() as stub, caplog.at_level(logging.WARNING, logger="event_capture.client"):
        client = make(stub.url, sleeps)
        client.track(event)
        client.flush(10)

    [line] = [r.getMessage() for r in caplog.records if "invalid event" in r.getMessage()]
    assert "filters[1].name: string_pattern_mismatch" in line
    assert "result_count: int_type" in line
    assert "jane" not in line.lower()
