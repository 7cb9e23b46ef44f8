"""contracts.live_activity: the activity entries the capture sink writes to Redis, read back by
the features function; a malformed entry is skipped, never an error."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from event_capture.contracts import live_activity
from event_capture.contracts.live_activity import Entry

UTC = dt.UTC


def at(day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def raw(**fields: Any) -> str:
    return json.dumps(fields)


def test_each_shape_the_capture_sink_writes_is_read() -> None:
    entries = live_activity.parse(
        [
            raw(
                event_type="order_placed",
                occurred_at="2026-11-28T10:00:00Z",
                product_ids=["a", "b"],
            ),
            raw(event_type="product_view", occurred_at="2026-11-28T09:00:00+01:00", product_id="c"),
            raw(
                event_type="search", occurred_at="2026-11-28T07:00:00.5Z", query="oat milk"
            ).encode(),
        ]
    )

    assert entries == [
        Entry("order_placed", at(28, 10), ("a", "b")),
        Entry("product_view", at(28, 8), ("c",)),
        Entry("search", at(28, 7) + dt.timedelta(milliseconds=500), (), "oat milk"),
    ]


def test_an_entry_without_products_or_with_a_non_string_query_has_none() -> None:
    [entry] = live_activity.parse(
        [raw(event_type="search", occurred_at="2026-11-28T07:00:00Z", query=5)]
    )

    assert entry == Entry("search", at(28, 7), (), None)


@pytest.mark.parametrize(
    "item",
    [
        pytest.param("{not json", id="not-json"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param("[1, 2]", id="json-list"),
        pytest.param('"a string"', id="json-string"),
        pytest.param("null", id="json-null"),
        pytest.param(raw(event_type="product_view", product_id="a"), id="no-occurred_at"),
        pytest.param(raw(occurred_at="2026-11-28T07:00:00Z", product_id="a"), id="no-event_type"),
        pytest.param(
            raw(event_type="product_view", occurred_at="2026-11-28T07:00:00", product_id="a"),
            id="naive-timestamp",
        ),
        pytest.param(
            raw(event_type="product_view", occurred_at="2026-11-28", product_id="a"), id="date-only"
        ),
        pytest.param(
            raw(event_type="product_view", occurred_at="yesterday", product_id="a"), id="not-a-time"
        ),
        pytest.param(
            raw(event_type="product_view", occurred_at=1764316800, product_id="a"),
            id="epoch-number",
        ),
    ],
)
def test_a_malformed_entry_is_skipped_and_the_others_kept(item: str | bytes) -> None:
    good = raw(event_type="product_view", occurred_at="2026-11-28T07:00:00Z", product_id="ok")

    entries = live_activity.parse([good, item, good])

    assert entries == [Entry("product_view", at(28, 7), ("ok",))] * 2


@pytest.mark.parametrize(
    "products",
    [
        pytest.param({"product_ids": 5}, id="product_ids-int"),
        pytest.param({"product_ids": True}, id="product_ids-bool"),
        pytest.param({"product_ids": "sku_1"}, id="product_ids-string"),
        pytest.param({"product_id": None}, id="product_id-null"),
    ],
)
def test_an_entry_with_malformed_products_yields_no_product(products: dict[str, Any]) -> None:
    item = raw(event_type="order_placed", occurred_at="2026-11-28T07:00:00Z", **products)

    entries = live_activity.parse([item])

    assert [p for e in entries for p in e.product_ids] == []
