"""The capture client against the real local cloud: a functions-framework server on the
emulators, stopped and restarted to show that queued events survive an outage, and the real
function's rejections as the client logs them."""

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from event_capture.client import CaptureClient, ClientSettings, EventContext
from event_capture.client.delivery import Backoff
from event_capture.schemas.search import SearchEvent
from localcloud.cloud import LocalCloud
from localcloud.processes import Service

# Quick retries: an outage in these tests lasts as long as a function restart.
SETTINGS = ClientSettings(linger_seconds=0.05, backoff=Backoff(0.05, 1.0))


@pytest.fixture(scope="module")
def function(cloud: LocalCloud) -> Iterator[Service]:
    service = cloud.start_function()
    try:
        yield service
    finally:
        service.stop()


def searches(user: str, count: int) -> list[SearchEvent]:
    context = EventContext(user_id=user, session_id="s_client", source="server")
    return [
        context.search(
            f"oat milk {n}", intent="product_lookup", intent_confidence=0.9, result_count=n
        )
        for n in range(count)
    ]


def stored_ids(cloud: LocalCloud, events: list[SearchEvent]) -> list[str]:
    return sorted(
        row["event_id"] for row in cloud.rows("searches", [str(e.event_id) for e in events])
    )


def test_tracked_events_land_in_bigquery_exactly_once_and_close_flushes(
    cloud: LocalCloud, function: Service
) -> None:
    client = CaptureClient(f"http://127.0.0.1:{function.port}/", SETTINGS)
    events = searches("u_client_once", 120)
    for event in events:
        assert client.track(event)

    stats = client.close(120)

    assert (stats.delivered, stats.queued, stats.dropped_at_shutdown) == (120, 0, 0)
    assert stored_ids(cloud, events) == sorted(str(e.event_id) for e in events)


def test_with_the_function_down_events_wait_in_the_queue_and_arrive_after(
    cloud: LocalCloud, function: Service
) -> None:
    client = CaptureClient(
        f"http://127.0.0.1:{function.port}/",
        ClientSettings(
            linger_seconds=0.05, backoff=Backoff(0.05, 1.0), max_queue=20, max_batch_events=10
        ),
    )
    function.stop()
    try:
        events = searches("u_client_outage", 40)
        queued = [event for event in events if client.track(event)]
        assert not client.flush(2)  # nothing can be delivered yet
        during = client.stats()
    finally:
        function.start()

    assert client.flush(180)
    after = client.stats()
    client.close(10)

    assert during.retries > 0 and during.delivered == 0
    # A full queue drops the newest: the first events are kept, in order, the rest counted.
    assert during.dropped_queue_full == 40 - len(queued) > 0
    assert queued == events[: len(queued)]
    assert after.delivered == len(queued)
    assert stored_ids(cloud, events) == sorted(str(e.event_id) for e in queued)


def test_a_rejection_by_the_real_function_is_logged_with_its_field_and_rule(
    cloud: LocalCloud, function: Service, caplog: pytest.LogCaptureFixture
) -> None:
    # Only the function knows the time it received the batch, so only it refuses an event
    # from the future: the client's own validation lets this one through.
    good, bad = searches("u_client_rejected", 2)
    bad = bad.model_copy(update={"occurred_at": datetime.now(UTC) + timedelta(days=3)})
    # A long linger keeps both events in one batch, so the bad one is events[1].
    client = CaptureClient(f"http://127.0.0.1:{function.port}/", ClientSettings(linger_seconds=2.0))
    with caplog.at_level(logging.WARNING, logger="event_capture.client"):
        assert client.track(good) and client.track(bad)
        assert client.flush(120)
    stats = client.close(10)

    assert (stats.delivered, stats.rejected_by_function, stats.requests) == (1, 1, 1)
    [record] = [r for r in caplog.records if r.getMessage().startswith("capture function rejected")]
    # Field and rule exactly as the function names them on the wire (ingest.validation).
    assert record.getMessage() == (
        f"capture function rejected event {bad.event_id}: "
        "events[1].occurred_at: must not be more than 24 hours in the future (occurred_in_future)"
    )
    assert record.__dict__["rejection"] == {
        "index": 1,
        "event_id": str(bad.event_id),
        "errors": [
            {
                "field": "events[1].occurred_at",
                "rule": "occurred_in_future",
                "message": "must not be more than 24 hours in the future",
            }
        ],
    }
    assert stored_ids(cloud, [good, bad]) == [str(good.event_id)]
