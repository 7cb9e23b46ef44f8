"""collector.timestamps: when a call happened, its client timestamp corrected for the client's
clock skew as Segment does."""

from __future__ import annotations

from datetime import timedelta

from event_capture.collector.timestamps import occurred_at
from tests.unit.collector import calls
from tests.unit.collector.test_mapping import mapped
from tests.unit.event_factory import RECEIVED_AT, iso

R = RECEIVED_AT


def test_timestamps_are_corrected_for_the_client_clock_skew() -> None:
    # The client's clock is an hour fast: it stamped the call, queued it 3 s, then sent it.
    fast = R + timedelta(hours=1)
    corrected = occurred_at(iso(fast - timedelta(seconds=3)), iso(fast), R)
    assert corrected == (R - timedelta(seconds=3)).isoformat()
    # The call's own sentAt wins over the batch's; originalTimestamp over timestamp.
    call = calls.track(
        "Product Viewed",
        calls.PRODUCT,
        originalTimestamp=iso(fast - timedelta(seconds=5)),
        sentAt=iso(fast),
    )
    assert (
        mapped(call, sent_at=iso(R)).event["occurred_at"] == (R - timedelta(seconds=5)).isoformat()
    )
    # Without a timestamp: the server's clock; without a sentAt: the timestamp as sent.
    assert occurred_at(None, iso(fast), R) == R.isoformat()
    assert occurred_at("2026-11-28T10:00:00Z", None, R) == "2026-11-28T10:00:00Z"
