"""A validated event as every sink stores it, and the request it came in."""

import json
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
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
    # The account, when a trusted sender named it; the device otherwise (at least one is set).
    user_id: str | None
    # The row serialized once, by validation: the insertAll body, the archive line, the
    # dead-letter payload and the byte size that keeps inserts under their limit all use it.
    json: str
    anonymous_id: str | None = None

    @property
    def data(self) -> dict[str, Any]:
        """The row as a dict, parsed from ``json`` for the few sinks and tools that read fields;
        the capture path's writes never need it."""
        value: dict[str, Any] = json.loads(self.json)
        return value


@dataclass(frozen=True, slots=True)
class Request:
    """What the sinks know of the request: object names and partitions come from it."""

    id: str
    received_at: datetime
    # When the request's time budget runs out, on the sinks' monotonic clock; no sink waits
    # past it. None: only each sink's own deadline applies.
    expires_at: float | None = None

    def seconds_left(self, cap: float, now: float) -> float:
        """A sink's deadline: its own cap, cut to what is left of the request's budget."""
        return cap if self.expires_at is None else max(0.0, min(cap, self.expires_at - now))

    def until(self, expires_at: float) -> "Request":
        """The same request with an earlier end (BigQuery's share of the budget)."""
        end = expires_at if self.expires_at is None else min(expires_at, self.expires_at)
        return Request(self.id, self.received_at, end)


def group_by_table(rows: Iterable[Row]) -> dict[str, list[Row]]:
    """Rows per destination table, each list in request order."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.table, []).append(row)
    return groups


def per_table[T](
    rows: Iterable[Row], write: Callable[[str, list[Row]], T], executor: Executor | None
) -> list[T]:
    """``write`` once per table, in parallel on ``executor`` when there are several tables, so
    one slow table never holds up the others; results in table order."""
    groups = list(group_by_table(rows).items())
    if executor is None or len(groups) < 2:
        return [write(table, table_rows) for table, table_rows in groups]
    # The first table is written on the calling thread, which would otherwise only wait: one
    # thread fewer contending for the GIL.
    futures = [executor.submit(write, table, table_rows) for table, table_rows in groups[1:]]
    first = write(*groups[0])
    return [first, *(future.result() for future in futures)]
