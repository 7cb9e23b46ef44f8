"""contracts.archive_layout: where the archive and the dead letters put a request's rows."""

from __future__ import annotations

from event_capture.contracts.archive_layout import object_name
from tests.unit import event_factory as factory


def test_object_names_are_hive_partitioned_by_the_receive_time() -> None:
    name = object_name("dead-letter/orders", factory.RECEIVED_AT, "req1")

    assert name == "dead-letter/orders/dt=2026-11-28/hour=16/20261128T163733-req1.ndjson"


def test_no_line_can_be_written_by_both_an_instance_and_the_backfill() -> None:
    # An instance writes a line at most MAX_LINE_AGE_SECONDS after it was received, plus one
    # write (a request's whole budget at most); the backfill must look at none younger.
    from event_capture.contracts.archive_layout import (
        BACKFILL_SETTLE_SECONDS,
        FLUSH_SECONDS,
        MAX_LINE_AGE_SECONDS,
    )
    from event_capture.contracts.capture_config import CaptureConfig
    from event_capture.contracts.timing import MAX_REQUEST_DEADLINE_SECONDS

    assert BACKFILL_SETTLE_SECONDS > MAX_LINE_AGE_SECONDS + MAX_REQUEST_DEADLINE_SECONDS
    # The interval leaves a line time for a few attempts before it is too old to write.
    largest = CaptureConfig.model_fields["archive_flush_seconds"].metadata
    assert FLUSH_SECONDS * 2 <= MAX_LINE_AGE_SECONDS
    assert any(getattr(rule, "le", None) == MAX_LINE_AGE_SECONDS / 2 for rule in largest)
