"""contracts.archive_layout: where the archive and the dead letters put a request's rows."""

from __future__ import annotations

from event_capture.contracts.archive_layout import object_name
from tests.unit import event_factory as factory


def test_object_names_are_hive_partitioned_by_the_receive_time() -> None:
    name = object_name("dead-letter/orders", factory.RECEIVED_AT, "req1")

    assert name == "dead-letter/orders/dt=2026-11-28/hour=16/20261128T163733-req1.ndjson"
