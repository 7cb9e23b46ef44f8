"""The client against a scripted HTTP stand-in: retry rules per status class, batching, the
queue policies, shutdown, fork and asyncio. Waits between retries are recorded, not slept."""

import asyncio
import logging
import os
import time
from collections.abc import Iterator

import pytest

from event_capture.client import (
    AsyncCaptureClient,
    CaptureClient,
    ClientSettings,
    EventContext,
    QueueFullPolicy,
)
from event_capture.client.auth import TokenProvider, no_token
from event_capture.client.delivery import Backoff
from event_capture.schemas.responses import FieldError, Rejection
from event_capture.schemas.search import SearchEvent
from tests.client.stub_function import Reply, stub_function

EVENTS = EventContext(user_id="u_42", session_id="s_1", source="web")
# Lingering long enough that the events of a test share a batch; flush() cuts it short.
FAST = ClientSettings(linger_seconds=0.5, shutdown_timeout_seconds=10)


def search(n: int = 0) -> SearchEvent:
    return EVENTS.search(
        f"oat milk {n}", intent="product_lookup", intent_confidence=0.5, result_count=n
    )


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Iterator[Sleeps]:
    yield Sleeps()


def make(
    url: str,
    sleeps: Sleeps,
    settings: ClientSettings = FAST,
    token_provider: TokenProvider = no_token,
) -> CaptureClient:
    return CaptureClient(url, settings, token_provider, sleep=sleeps, rand=lambda: 1.0)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_retryable_answers_are_retried_until_delivered(status: int, sleeps: Sleeps) -> None:
    with stub_function(Reply(status), Reply(status)) as stub:
        client = make(stub.url, sleeps)
        event = search()
        client.track(event)
        assert client.flush(10)

    assert len(stub.requests) == 3
    assert stub.event_ids == [str(event.event_id)] * 3
    assert sleeps == [0.2, 0.4]  # full jitter with rand() = 1: base * 2^attempt
    stats = client.stats()
    assert (stats.delivered, stats.retries, stats.requests, stats.queued) == (1, 2, 3, 0)


def test_retry_after_is_honoured(sleeps: Sleeps) -> None:
    with stub_function(Reply(503, headers={"Retry-After": "7"})) as stub:
        client = make(stub.url, sleeps)
        client.track(search())
        assert client.flush(10)

    assert sleeps == [7.0]


@pytest.mark.parametrize("status", [403, 404, 409, 413, 422])
def test_other_client_errors_are_never_retried(
    status: int, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    with stub_function(Reply(status, {"error": "nope"})) as stub:
        client = make(stub.url, sleeps)
        client.track(search())
        client.track(search(1))
        assert client.flush(10)

    assert len(stub.requests) == 1 and sleeps == []
    assert client.stats().dropped_client_error == 2
    assert f"{status}: nope" in caplog.text


def test_rejections_in_a_207_are_logged_and_counted_not_retried(
    sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    good, bad = search(), search(1)
    # The function's own answer model, so the stand-in answers in the function's shape.
    rejection = Rejection(
        index=1,
        event_id=str(bad.event_id),
        errors=[
            FieldError(
                field="events[1].query",
                rule="string_too_long",
                message="must be at most 512 characters",
            )
        ],
    ).model_dump(mode="json")
    with stub_function(
        Reply(207, {"accepted": 1, "rejected": 1, "rejections": [rejection]})
    ) as stub:
        client = make(stub.url, sleeps)
        client.track(good)
        client.track(bad)
        with caplog.at_level(logging.WARNING, logger="event_capture.client"):
            assert client.flush(10)

    assert len(stub.requests) == 1
    stats = client.stats()
    assert (stats.delivered, stats.rejected_by_function) == (1, 1)
    [record] = [r for r in caplog.records if "rejected event" in r.getMessage()]
    assert record.getMessage() == (
        f"capture function rejected event {bad.event_id}: "
        "events[1].query: must be at most 512 characters (string_too_long)"
    )
    # For a structured log handler: the rejection as the function sent it.
    assert record.__dict__["rejection"] == rejection


def test_a_malformed_rejection_is_logged_as_far_as_it_can_be_and_the_worker_goes_on(
    sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    odd = {"event_id": "e_1", "errors": [{"field": "query"}, "not an error"]}
    body = {"accepted": 0, "rejected": 3, "rejections": [odd, {"errors": "nope"}, "junk"]}
    with stub_function(Reply(207, body)) as stub:
        client = make(stub.url, sleeps)
        client.track(search())
        with caplog.at_level(logging.WARNING, logger="event_capture.client"):
            assert client.flush(10)
        client.track(search(1))
        assert client.flush(10)

    assert len(stub.requests) == 2  # the worker survived the first answer
    assert "rejected event e_1: query: ? (?)" in caplog.text
    assert "rejected event None: no reason given" in caplog.text
    assert client.stats().rejected_by_function == 2  # "junk" names no event


def test_a_refused_token_is_renewed_once(sleeps: Sleeps) -> None:
    issued: list[str] = []

    class Tokens:
        def __call__(self) -> str:
            issued.append(f"token-{len(issued)}")
            return issued[-1]

        def invalidate(self) -> None:
            issued.append("invalidated")

    with stub_function(Reply(401), Reply(401)) as stub:
        client = make(stub.url, sleeps, token_provider=Tokens())
        client.track(search())
        assert client.flush(10)

    assert stub.tokens == ["Bearer token-0", "Bearer token-2"]
    assert "invalidated" in issued
    assert client.stats().dropped_client_error == 1  # the second 401 is final


def test_no_connection_is_retried_and_delivered_when_the_function_comes_back() -> None:
    with stub_function() as stub:
        url, port = stub.url, int(stub.url.rsplit(":", 1)[1].strip("/"))
    attempts: list[float] = []

    def short_sleep(seconds: float) -> None:
        attempts.append(seconds)
        time.sleep(0.01)

    client = CaptureClient(url, FAST, sleep=short_sleep, rand=lambda: 1.0)
    event = search()
    client.track(event)
    deadline = time.monotonic() + 60
    while len(attempts) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(attempts) >= 3 and client.stats().queued == 1

    with stub_function(port=port) as back:
        assert client.flush(60)

    assert back.event_ids == [str(event.event_id)]
    assert client.stats().delivered == 1


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


def test_the_async_client_tracks_without_blocking_and_flushes_off_the_loop() -> None:
    async def run(url: str) -> tuple[bool, int]:
        async with AsyncCaptureClient(url, ClientSettings(linger_seconds=0.01)) as client:
            client.track(search())
            flushed = await client.flush(10)
            return flushed, client.stats().delivered

    with stub_function() as stub:
        flushed, delivered = asyncio.run(run(stub.url))

    assert flushed and delivered == 1 and len(stub.event_ids) == 1


def test_the_async_client_never_uses_the_blocking_policy() -> None:
    client = AsyncCaptureClient(
        "http://127.0.0.1:9/", ClientSettings(queue_full=QueueFullPolicy.BLOCK)
    )

    assert client._client.settings.queue_full is QueueFullPolicy.DROP_NEWEST
