"""event_capture.client.delivery: what each answer of the capture function means for a batch (the
retry rules per status class, Retry-After, 207 rejections, a refused token, no connection),
through a client on a scripted HTTP stand-in. Waits between retries are recorded, not slept."""

import logging
import time

import pytest

from event_capture.client import CaptureClient
from event_capture.schemas.responses import FieldError, Rejection
from tests.client.capture_client import FAST, Sleeps, make, search
from tests.client.stub_function import Reply, stub_function


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
