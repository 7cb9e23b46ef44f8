"""The live-activity entry: what the capture pipeline pushes to a user's Redis list for each
accepted event, and how the features function reads it back. Written and read here only.

An entry is compact JSON, a few of the event's fields: enough to drive "recently viewed",
"search again" and "reorder" without copying whole events (an order's line items can be
kilobytes) into memory-priced storage. The list itself is ``redis_keys.activity_key``.
"""

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

FIELDS = (
    "event_id",
    "event_type",
    "occurred_at",
    "product_id",
    "category",
    "query",
    "intent",
    "order_id",
    "total",
    "currency",
    "detected_intent",
)


def encode(event: Mapping[str, Any]) -> str:
    """The entry of one stored event (its row as validation wrote it)."""
    entry = {key: event[key] for key in FIELDS if key in event}
    if "items" in event:
        # An order's products, without quantities and prices: what "ordered since the
        # snapshot" needs (the features function's live part).
        entry["product_ids"] = [item["product_id"] for item in event["items"]]
    return json.dumps(entry, separators=(",", ":"))


@dataclass(frozen=True)
class Entry:
    event_type: str
    occurred_at: dt.datetime
    product_ids: tuple[str, ...] = ()
    query: str | None = None


def parse(raw: Iterable[bytes | str]) -> list[Entry]:
    """The entries that can be read; a malformed one (a cache is not a record) is skipped."""
    entries = []
    for item in raw:
        try:
            data: dict[str, Any] = json.loads(item)
            occurred_at = dt.datetime.fromisoformat(data["occurred_at"])
            event_type = str(data["event_type"])
        except (ValueError, KeyError, TypeError):
            continue
        if occurred_at.tzinfo is None:
            continue
        query = data.get("query")
        entries.append(
            Entry(
                event_type, occurred_at, _products(data), query if isinstance(query, str) else None
            )
        )
    return entries


def _products(data: dict[str, Any]) -> tuple[str, ...]:
    """An order's ``product_ids`` or an interaction's ``product_id``; anything else is none."""
    many, one = data.get("product_ids"), data.get("product_id")
    if isinstance(many, list):
        return tuple(p for p in many if isinstance(p, str))
    return (one,) if isinstance(one, str) else ()
