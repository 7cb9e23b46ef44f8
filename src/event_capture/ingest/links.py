"""Device-to-account links made by the events themselves: a stored event that carries both an
``anonymous_id`` and a ``user_id`` links that device to that user, as an ``identify`` does.

Every user id that reaches the pipeline is trusted (the capture function is behind IAM; the
collector keeps a public caller's user id only with the backend's proof), so the link is too.
It is stored as an ``identify`` row of the link table beside the events that made it, with the
same durability: the warehouse stitches from that one small table instead of scanning every
event table's ids each night.

A logged-in browser sends both ids on every call, so links repeat. Their event id is derived
from the pair and the day received (the views keep one per day), and an instance remembers
the pairs it stored today, so it writes a link about once a day per pair, not per request.
"""

import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date, datetime

from event_capture.ingest.row import Row
from event_capture.ingest.validation import validate_events
from event_capture.schemas.identity_link import IdentityLink

LINK_EVENT_TYPE = "identify"
_NAMESPACE = uuid.UUID("0b0c6a4e-6f57-4b8e-9a53-4c1d2f7e8a90")
# Pairs an instance remembers per day; a forgotten one is written again, which the views
# absorb.
REMEMBERED_PAIRS = 10_000


def link_event_id(anonymous_id: str, user_id: str, day: date) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{anonymous_id}\n{user_id}\n{day.isoformat()}"))


class LinkRecorder:
    """The link rows a request's rows make, less those this instance already stored today."""

    def __init__(self, remembered: int = REMEMBERED_PAIRS) -> None:
        self._stored: OrderedDict[tuple[str, str, date], None] = OrderedDict()
        self._remembered = remembered
        # Requests run on several threads of an instance.
        self._lock = threading.Lock()

    def rows_for(
        self, rows: Sequence[Row], received_at: datetime, arrived_via: str | None
    ) -> list[Row]:
        day = received_at.date()
        wanted: dict[tuple[str, str, date], Row] = {}
        # An identify in the request is the link itself: another row for its pair is a repeat.
        given: set[tuple[str, str, date]] = set()
        for row in rows:
            if row.user_id is None or row.anonymous_id is None:
                continue
            pair = (row.anonymous_id, row.user_id, day)
            if row.table == IdentityLink.TABLE:
                given.add(pair)
            elif pair not in wanted:
                wanted[pair] = row
        with self._lock:
            wanted = {
                pair: row
                for pair, row in wanted.items()
                if pair not in self._stored and pair not in given
            }
        if not wanted:
            return []
        events = []
        for (anonymous_id, user_id, _), row in wanted.items():
            data = row.data
            events.append(
                {
                    "event_id": link_event_id(anonymous_id, user_id, day),
                    "event_type": LINK_EVENT_TYPE,
                    "user_id": user_id,
                    "anonymous_id": anonymous_id,
                    "occurred_at": data["occurred_at"],
                    "source": data["source"],
                }
            )
        links, _ = validate_events(events, received_at, False, arrived_via)
        # Validation bounds occurred_at by the request's clock, as it did for the event.
        return links

    def remember(self, links: Sequence[Row], received_at: datetime) -> None:
        """Called once the links are durable: the rows made by ``rows_for`` and the request's
        own (an ``identify`` stores its link under its own event id, and any event with both
        ids is one with its link); rows without both ids are passed over."""
        day = received_at.date()
        with self._lock:
            for link in links:
                if link.anonymous_id is None or link.user_id is None:
                    continue
                pair = (link.anonymous_id, link.user_id, day)
                self._stored[pair] = None
                self._stored.move_to_end(pair)
            while len(self._stored) > self._remembered:
                self._stored.popitem(last=False)
