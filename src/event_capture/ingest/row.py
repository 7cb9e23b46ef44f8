"""A validated event as every sink stores it, and the request it came in."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Row:
    """A validated, enriched event, ready for any sink."""

    index: int
    event_id: str
    event_type: str
    table: str
    user_id: str
    data: dict[str, Any]
    # The row serialized once: the archive line, the dead-letter payload and the byte size
    # used to keep BigQuery requests under their limit all come from it.
    json: str


@dataclass(frozen=True, slots=True)
class Request:
    """What the sinks know of the request: object names and partitions come from it."""

    id: str
    received_at: datetime


def group_by_table(rows: Iterable[Row]) -> dict[str, list[Row]]:
    """Rows per destination table, each list in request order."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.table, []).append(row)
    return groups
