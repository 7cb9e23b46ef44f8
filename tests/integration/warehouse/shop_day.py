"""One small, hand-checkable shop: six users on day D (today, UTC), plus a week of history.

Every expected row in the warehouse tests is worked out from this list by hand; the comments
say which events each figure comes from. Times are D 00:mm, or D-k 00:00 for history, so
"late" (received 24 hours or more after occurring) is decided by the day, not the clock.

- u1..u5 search "oat milk" (5 users, 6 searches: u1 twice, u5 with no results) and
  "track <number>" (5 users); u1..u4 search "gluten free bread" (4 users: below k=5);
  u6 searches "apples" with an unknown intent.
- u6 also has 2 searches and 2 session events on each of D-7..D-1.
- Interactions: sessions s1 {oat, granola}, s2 {oat, granola, coffee}, s3 {coffee, granola},
  s4 {coffee: a click whose search does not exist}.
- Orders: u1 buys oat on D-20, D-10 and D (with granola); u2 buys coffee on D-6 and D-2, the
  second with a total that does not match its line item.
- Voice: u1 (en-GB) and u2 (no language) on D.
- u3's search "oat milk" is stored a second time at D 13:00, a retry arriving after insertId's
  de-duplication window would be.
- Segment's spec searches, without intent or result count: u1..u4 search "granola bars"; u5
  searches "oat milk" with an intent and no result count.
- A journey across the login, sent with no session: device ``dev-a`` searches "granola bars"
  (D 01:00), clicks granola 30 minutes later (the same derived session), adds it to the cart 31
  minutes after that (a new one) and, logged in as u7, orders it at 02:10: that order carries
  both ids, which links dev-a to u7.
- ``dev-forged``, a device linked to no one, searches "gluten free bread" (a made-up id must not
  carry the query over k).

Everything above is received at D 12:00. The two days after D (``later_days``) are received at
their own times, between the nightly runs of D+1, D+2 and D+3 (each at 01:00), for the proof
that the incremental feature tables equal the full rebuild: a session spanning midnight, events
arriving late (by minutes, hours and days), one stamped ahead of its arrival, and a retry
stored again the next day after that day's run.
"""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

OAT, GRANOLA, COFFEE = "sku_oat", "sku_granola", "sku_coffee"
CATEGORY = {OAT: "dairy", GRANOLA: "cereal", COFFEE: "coffee"}
MISSING_SEARCH = "00000000-0000-4000-8000-000000000000"


@dataclass
class ShopDay:
    day: date
    events: list[dict[str, Any]] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)
    # By event name: when the capture function receives it, if not at D 12:00.
    received: dict[str, datetime] = field(default_factory=dict)
    # (table, event name, received at): a second copy stored without an insertId.
    copies: list[tuple[str, str, datetime]] = field(default_factory=list)

    @property
    def noon(self) -> datetime:
        return self.moment(0, 12)

    def moment(self, days_after: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(self.day + timedelta(days=days_after), time(hour, minute), UTC)

    def received_at(self, event: dict[str, Any]) -> datetime:
        names = {event_id: name for name, event_id in self.ids.items()}
        return self.received.get(names[event["event_id"]], self.noon)

    def at(self, days_before: int, minute: int = 0) -> str:
        moment = datetime.combine(self.day - timedelta(days=days_before), time(), UTC)
        return (moment + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")

    def add(
        self,
        name: str,
        event_type: str,
        user: str | None,
        session: str | None,
        occurred: str,
        anonymous: str | None = None,
        **fields: Any,
    ) -> str:
        event_id = str(uuid.uuid4())
        self.ids[name] = event_id
        ids = {"user_id": user, "anonymous_id": anonymous, "session_id": session}
        self.events.append(
            {
                "event_id": event_id,
                "event_type": event_type,
                **{key: value for key, value in ids.items() if value is not None},
                "occurred_at": occurred,
                "source": "web",
                **fields,
            }
        )
        return event_id

    def search(
        self,
        name: str,
        user: str | None,
        session: str | None,
        occurred: str,
        query: str,
        intent: str | None,
        results: int | None = 12,
        anonymous: str | None = None,
    ) -> str:
        """A search; without an intent or a result count, the fields are left out, as
        Segment's spec search leaves them."""
        fields: dict[str, Any] = {"query": query, "latency_ms": 40}
        if intent is not None:
            fields |= {"intent": intent, "intent_confidence": 0.9}
        if results is not None:
            fields["result_count"] = results
        return self.add(name, "search", user, session, occurred, anonymous, **fields)

    def interaction(
        self,
        name: str,
        event_type: str,
        user: str | None,
        session: str | None,
        minute: int,
        product: str,
        search: str | None = None,
        anonymous: str | None = None,
    ) -> None:
        fields: dict[str, Any] = {"product_id": product, "category": CATEGORY[product]}
        if search is not None:
            fields["search_event_id"] = search
        if event_type == "add_to_cart":
            fields["quantity"] = 2
        self.add(name, event_type, user, session, self.at(0, minute), anonymous, **fields)

    def order(
        self,
        name: str,
        user: str,
        session: str | None,
        occurred: str,
        lines: list[tuple[str, int, str]],
        total: str,
        anonymous: str | None = None,
    ) -> None:
        items = [{"product_id": p, "quantity": q, "unit_price": price} for p, q, price in lines]
        self.add(
            name,
            "order_placed",
            user,
            session,
            occurred,
            anonymous,
            order_id=f"order-{name}",
            items=items,
            total=total,
            currency="EUR",
        )


def shop_day(day: date) -> ShopDay:
    shop = ShopDay(day)
    oat_queries = ["oat milk", "Oat Milk", "oat  milk", " OAT MILK", "oat milk ", "oat milk"]
    oat_users = ["u1", "u1", "u2", "u3", "u4", "u5"]
    for i, (user, query) in enumerate(zip(oat_users, oat_queries, strict=True)):
        results = 0 if user == "u5" else 12
        session = f"s{user[1:]}"
        shop.search(f"oat_{i}", user, session, shop.at(0, 1 + i), query, "product_lookup", results)
    for i in range(1, 6):
        number = "1234567" if i % 2 else "7654321"
        query = f"track {number}" if i % 2 else f"Track {number}"
        shop.search(f"track_u{i}", f"u{i}", f"s{i}", shop.at(0, 9 + i), query, "order_status")
    for i in range(1, 5):
        shop.search(
            f"bread_u{i}",
            f"u{i}",
            f"s{i}",
            shop.at(0, 19 + i),
            "gluten free bread",
            "category_browse",
        )
    shop.search("apples_u6", "u6", "s6", shop.at(0, 30), "apples", "weather")
    for k in range(1, 8):
        for j in range(2):
            shop.search(
                f"history_{k}_{j}", "u6", f"s6-h{k}", shop.at(k), "apples", "category_browse"
            )
        start = shop.at(k)
        shop.add(
            f"session_start_{k}",
            "session_start",
            "u6",
            f"s6-h{k}",
            start,
            started_at=start,
            device="mobile",
        )
        shop.add(
            f"session_end_{k}",
            "session_end",
            "u6",
            f"s6-h{k}",
            start,
            started_at=start,
            ended_at=start,
            device="mobile",
        )

    oat_u1, oat_u2 = shop.ids["oat_0"], shop.ids["oat_2"]
    shop.interaction("p1", "product_view", "u1", "s1", 31, OAT)
    shop.interaction("p2", "product_click", "u1", "s1", 32, OAT, oat_u1)
    shop.interaction("p3", "add_to_cart", "u1", "s1", 33, OAT, oat_u1)
    shop.interaction("p4", "product_view", "u1", "s1", 34, GRANOLA)
    shop.interaction("p5", "product_click", "u2", "s2", 35, OAT, oat_u2)
    shop.interaction("p6", "product_view", "u2", "s2", 36, GRANOLA)
    shop.interaction("p7", "product_view", "u2", "s2", 37, COFFEE)
    shop.interaction("p8", "product_view", "u3", "s3", 38, COFFEE)
    shop.interaction("p9", "product_view", "u3", "s3", 39, GRANOLA)
    shop.interaction("p10", "product_click", "u4", "s4", 40, COFFEE, MISSING_SEARCH)

    shop.order("o_a", "u1", "s1-old", shop.at(20), [(OAT, 2, "1.50")], "3.00")
    shop.order("o_b", "u1", "s1-old", shop.at(10), [(OAT, 2, "1.50")], "3.00")
    shop.order("o1", "u1", "s1", shop.at(0, 45), [(OAT, 2, "1.50"), (GRANOLA, 1, "4.00")], "7.00")
    shop.order("o2", "u2", "s2-old", shop.at(6), [(COFFEE, 1, "9.00")], "9.00")
    shop.order("o3", "u2", "s2-old", shop.at(2), [(COFFEE, 1, "9.00")], "9.50")

    shop.add(
        "v1",
        "voice_interaction",
        "u1",
        "s1",
        shop.at(0, 50),
        transcript="add oat milk",
        detected_intent="reorder",
        duration_ms=1200,
        language="en-GB",
    )
    shop.add(
        "v2",
        "voice_interaction",
        "u2",
        "s2",
        shop.at(0, 51),
        transcript="coffee beans",
        detected_intent="product_lookup",
        duration_ms=900,
    )
    shop.copies.append(("searches", "oat_3", shop.noon + timedelta(hours=1)))
    spec_searches(shop)
    journey(shop)
    later_days(shop)
    return shop


def spec_searches(shop: ShopDay) -> None:
    for i in range(1, 5):
        shop.search(
            f"granola_u{i}", f"u{i}", f"s{i}", shop.at(0, 51 + i), "granola bars", None, None
        )
    shop.search("oat_no_count", "u5", "s5", shop.at(0, 56), "oat milk", "product_lookup", None)


DEVICE, FORGED, LINKED_USER = "dev-a", "dev-forged", "u7"


def journey(shop: ShopDay) -> None:
    """dev-a's session-less visit before and after its login as u7, and a forged device."""
    search = shop.search(
        "anon_search", None, None, shop.at(0, 60), "granola bars", None, None, DEVICE
    )
    # Exactly 30 minutes later: the same derived session.
    shop.interaction(
        "anon_click", "product_click", None, None, 90, GRANOLA, search, anonymous=DEVICE
    )
    # 31 minutes later: a new one.
    shop.interaction("anon_cart", "add_to_cart", None, None, 121, GRANOLA, search, DEVICE)
    shop.order("o7", LINKED_USER, None, shop.at(0, 130), [(GRANOLA, 1, "4.00")], "4.00", DEVICE)
    shop.search(
        "forged_bread",
        None,
        None,
        shop.at(0, 62),
        "gluten free bread",
        "category_browse",
        anonymous=FORGED,
    )


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def later_days(shop: ShopDay) -> None:
    """D+1 and D+2, each event received at its own time (no searches: the views' tests count
    searches of D). Runs happen at D+1, D+2 and D+3 01:00.
    """

    def event(
        name: str,
        event_type: str,
        user: str,
        session: str,
        occurred: datetime,
        received: datetime,
        **fields: Any,
    ) -> None:
        shop.add(name, event_type, user, session, _stamp(occurred), **fields)
        shop.received[name] = received

    def product(product_id: str, **fields: Any) -> dict[str, Any]:
        return {"product_id": product_id, "category": CATEGORY[product_id], **fields}

    def at(days_after: int, hour: int, minute: int = 0) -> datetime:
        return shop.moment(days_after, hour, minute)

    # D+1, received as they occur, after the run of D+1: u1 views granola and reorders oat.
    event("n1_view", "product_view", "u1", "s1-next", at(1, 10), at(1, 10), **product(GRANOLA))
    event(
        "n1_order",
        "order_placed",
        "u1",
        "s1-next",
        at(1, 10, 5),
        at(1, 10, 5),
        order_id="order-n1",
        items=[{"product_id": OAT, "quantity": 2, "unit_price": "1.50"}],
        total="3.00",
        currency="EUR",
    )
    # u2's phone is 20 hours ahead: a coffee view of "D+2 08:00" arrives on D+1. It belongs to
    # D+2's snapshot, not D+1's.
    event("n1_ahead", "product_view", "u2", "s2-next", at(2, 8), at(1, 12), **product(COFFEE))
    # u3's session s3-night spans midnight: oat viewed and carted before it, coffee after
    # (received 00:10, before the run of D+2, yet occurred on D+2). The cart is stored again at
    # D+2 03:00, after that run: the run of D+3 must move it to D+2, counting it once.
    event(
        "n1_night_view",
        "product_view",
        "u3",
        "s3-night",
        at(1, 23, 50),
        at(1, 23, 50),
        **product(OAT),
    )
    event(
        "n1_night_cart",
        "add_to_cart",
        "u3",
        "s3-night",
        at(1, 23, 55),
        at(1, 23, 55),
        **product(OAT, quantity=1),
    )
    shop.copies.append(("product_interactions", "n1_night_cart", at(2, 3)))
    event(
        "n2_night_view",
        "product_view",
        "u3",
        "s3-night",
        at(2, 0, 10),
        at(2, 0, 10),
        **product(COFFEE),
    )
    # u1's session ends at D+1 23:59 and arrives 21 minutes late, before the run of D+2: the
    # snapshot of D+1 counts it although it was received on D+2.
    event(
        "n1_end",
        "session_end",
        "u1",
        "s1-next",
        at(1, 23, 59),
        at(2, 0, 20),
        started_at=_stamp(at(1, 10)),
        ended_at=_stamp(at(1, 23, 59)),
        device="mobile",
    )
    # D+2, after the run of D+2: u2's voice request of D+1 20:00 arrives 13 hours late, u2
    # reorders coffee with granola, and u6's session start of D-3 arrives five days late (the
    # session s6-h3 is already counted).
    event(
        "n1_voice_late",
        "voice_interaction",
        "u2",
        "s2-next",
        at(1, 20),
        at(2, 9),
        transcript="reorder coffee",
        detected_intent="reorder",
        duration_ms=700,
        language="en-GB",
    )
    event(
        "n2_order",
        "order_placed",
        "u2",
        "s2-next",
        at(2, 11),
        at(2, 11),
        order_id="order-n2",
        items=[
            {"product_id": COFFEE, "quantity": 1, "unit_price": "9.00"},
            {"product_id": GRANOLA, "quantity": 1, "unit_price": "4.00"},
        ],
        total="13.00",
        currency="EUR",
    )
    event(
        "n2_old_start",
        "session_start",
        "u6",
        "s6-h3",
        at(-3, 0),
        at(2, 12),
        started_at=_stamp(at(-3, 0)),
        device="mobile",
    )
