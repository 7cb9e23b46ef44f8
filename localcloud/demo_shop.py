"""A month of a small grocery shop, as its pages, its backend and its capture client would have
sent it: the plan ``make demo`` (``tools/demo.py``) sends to ``make run``'s cloud.

About fifty shoppers with a device or two each, and some visitors who never log in. A shopper
browses anonymously until they log in on a device (an ``identify`` with the backend's proof
links the device for good); after that the page's calls carry the user id and its proof. What
goes where is what a real shop would do:

- the page (analytics.js under the client key): spec-only ``Products Searched`` (no intent),
  product views, clicks, cart additions and removals, ``identify`` at login;
- the app's backend, under the server key: ``Order Completed``, as Segment advises for orders;
- the app's backend through the capture client: searches its own search service classified
  (intent, confidence, result count, latency), sessions, and the voice assistant's turns.

Everything follows from one seed and the day the month ends, so two plans of the same day are
equal (event ids included: sending one twice stores nothing twice in the views). Shoppers come
back on daily rhythms, and each has staples bought again every few days, so reorder
predictions and recommendations have histories to learn from.
"""

import enum
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from event_capture.client.events import EventContext
from event_capture.schemas.envelope import EventEnvelope
from event_capture.schemas.session import Device
from event_capture.schemas.user_proof import FIELD as PROOF_FIELD
from event_capture.schemas.user_proof import INTEGRATION, user_proof

DEFAULT_SEED = 24
DEFAULT_USERS = 50
DEFAULT_DAYS = 30
# Visitors who browse and never log in, per shopper.
ANONYMOUS_VISITORS_PER_USER = 0.5
# Shoppers with an account before the month began; the others sign up during it.
EXISTING_CUSTOMERS = 0.7
CURRENCY = "EUR"
SHOP = "https://shop.example.com"


@dataclass(frozen=True, kw_only=True)
class Product:
    product_id: str
    name: str
    category: str
    cents: int
    # How often a shopper who keeps it as a staple buys it again, in days; None: bought on a
    # whim only.
    every: int | None = None


def _p(name: str, category: str, cents: int, every: int | None = None) -> Product:
    return Product(
        product_id="sku_" + name.lower().replace(" ", "_"),
        name=name,
        category=category,
        cents=cents,
        every=every,
    )


CATALOGUE = (
    _p("Oat milk", "dairy", 189, 6),
    _p("Whole milk", "dairy", 119, 5),
    _p("Greek yoghurt", "dairy", 249, 8),
    _p("Butter", "dairy", 259, 14),
    _p("Cheddar", "dairy", 399, 12),
    _p("Sourdough", "bakery", 349, 4),
    _p("Wholemeal bread", "bakery", 199, 5),
    _p("Croissants", "bakery", 299),
    _p("Bananas", "fruit", 129, 6),
    _p("Apples", "fruit", 249, 8),
    _p("Blueberries", "fruit", 299),
    _p("Avocados", "fruit", 229),
    _p("Coffee beans", "coffee", 899, 14),
    _p("Ground coffee", "coffee", 599, 12),
    _p("Tea bags", "coffee", 349, 21),
    _p("Granola", "pantry", 429, 10),
    _p("Porridge oats", "pantry", 179, 14),
    _p("Pasta", "pantry", 139, 9),
    _p("Chopped tomatoes", "pantry", 89, 9),
    _p("Olive oil", "pantry", 749),
    _p("Dish soap", "household", 249),
    _p("Laundry liquid", "household", 899),
    _p("Dark chocolate", "snacks", 219),
    _p("Sparkling water", "drinks", 69, 7),
    _p("Orange juice", "drinks", 279, 7),
)
PRODUCTS = {product.product_id: product for product in CATALOGUE}
STAPLES = tuple(product for product in CATALOGUE if product.every is not None)


@dataclass(frozen=True, kw_only=True)
class Query:
    text: str
    intent: str
    # What the shop's search finds; empty: nothing (the report's zero-result chart).
    finds: tuple[str, ...]
    weight: float


def _q(text: str, intent: str, weight: float, *names: str) -> Query:
    finds = tuple("sku_" + name.lower().replace(" ", "_") for name in names)
    return Query(text=text, intent=intent, finds=finds, weight=weight)


# A few queries most people type, so that the search aggregates' k-distinct-users rule keeps
# them on most days; the rare ones are what that rule is for, and stay out.
QUERIES = (
    _q("oat milk", "product_lookup", 10, "Oat milk"),
    _q("milk", "category_browse", 6, "Whole milk", "Oat milk"),
    _q("coffee beans", "product_lookup", 8, "Coffee beans", "Ground coffee"),
    _q("bread", "category_browse", 7, "Sourdough", "Wholemeal bread", "Croissants"),
    _q("bananas", "product_lookup", 5, "Bananas"),
    _q("yoghurt", "product_lookup", 4, "Greek yoghurt"),
    _q("breakfast", "recipe", 4, "Granola", "Porridge oats", "Blueberries", "Croissants"),
    _q("pasta dinner", "recipe", 4, "Pasta", "Chopped tomatoes", "Olive oil", "Cheddar"),
    _q("cheap coffee", "price_check", 2, "Ground coffee"),
    _q("chocolate", "product_lookup", 3, "Dark chocolate"),
    _q("laundry", "category_browse", 2, "Laundry liquid", "Dish soap"),
    # What shoppers want and the shop does not have.
    _q("oatly barista", "product_lookup", 9),
    _q("gluten free bread", "product_lookup", 5),
    _q("opening hours", "store_info", 2),
    _q("where is my order", "order_status", 1),
)
# The query of a shopper's staples: its results are their own usual products.
REORDER_QUERY = Query(text="my usual", intent="reorder", finds=(), weight=5)
QUERY_WEIGHTS = (*QUERIES, REORDER_QUERY)
VOICE_TURNS = (
    ("add {name} to my basket", "add_to_cart"),
    ("do you have {name}", "product_lookup"),
    ("when does my order arrive", "order_status"),
    ("order my usual", "reorder"),
)

# When people shop, by hour of the day (UTC): before work, at lunch and in the evening.
HOUR_WEIGHTS = (
    (7, 3), (8, 4), (9, 2), (10, 1), (11, 2), (12, 4), (13, 3), (14, 1), (15, 1), (16, 1),
    (17, 2), (18, 4), (19, 6), (20, 6), (21, 4), (22, 2), (23, 1),
)  # fmt: skip
USER_AGENTS: dict[Device, str] = {
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/131.0.0.0 Safari/537.36",
    "mobile": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "tablet": "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
}
# analytics-next's library name, which the collector maps to the source "web".
BROWSER_LIBRARY = {"name": "analytics.js", "version": "npm:next-1.72.0"}
BACKEND_LIBRARY = {"name": "analytics-python", "version": "2.3.3"}
# A visit is over after this long without an event: sessions are at least this far apart.
SESSION_GAP = timedelta(minutes=30)


class Channel(enum.StrEnum):
    BROWSER = "browser"  # analytics.js in the shopper's page, under the client key
    BACKEND = "backend"  # the backend's Segment SDK, under the server key
    CAPTURE = "capture"  # the backend's capture client, straight to the capture function


@dataclass(frozen=True, kw_only=True)
class SegmentCall:
    """One call of a Segment batch (without ``sentAt``: the sender stamps it)."""

    channel: Channel
    # The page's device (its batches and its address); None for the backend.
    device: "Browser | None"
    visit: int
    call: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.call["event"] if self.call["type"] == "track" else self.call["type"])


@dataclass(frozen=True, kw_only=True)
class CaptureEvent:
    visit: int
    event: EventEnvelope

    channel = Channel.CAPTURE

    @property
    def kind(self) -> str:
        return self.event.event_type


Send = SegmentCall | CaptureEvent


@dataclass(frozen=True, kw_only=True)
class Browser:
    anonymous_id: str
    device: Device
    # Each device's own address (a documentation range, RFC 5737), as the collector's edge
    # sees a shopper's browser: the per-address limits are then per shopper, as deployed.
    address: str
    # Whether the page sends its searches through the app's search service (which classifies
    # them) or as Segment's spec call alone.
    app_search: bool

    @property
    def user_agent(self) -> str:
        return USER_AGENTS[self.device]


@dataclass(kw_only=True)
class Shopper:
    user_id: str | None  # None: a visitor who never logs in
    browsers: list[Browser]
    activity: float  # chance of a visit on a weekday
    joined: date = date.min  # the first day they visit
    staples: dict[str, int]  # product -> own interval in days
    voice: bool
    hours: list[int]
    # What the simulation remembers.
    linked: set[str] = field(default_factory=set)
    last_bought: dict[str, date] = field(default_factory=dict)
    cart: dict[str, int] = field(default_factory=dict)
    sessions: int = 0


@dataclass(frozen=True, kw_only=True)
class ShopPlan:
    start: datetime
    end: datetime
    shoppers: list[Shopper]
    sends: list[Send]

    @property
    def users(self) -> list[str]:
        return [s.user_id for s in self.shoppers if s.user_id is not None]

    def counts(self) -> Counter[str]:
        """Sends per event name (Segment's) or event type (the capture client's)."""
        return Counter(send.kind for send in self.sends)

    def links(self) -> set[tuple[str, str]]:
        """(anonymous id, user id) of every identify."""
        return {
            (send.call["anonymousId"], send.call["userId"])
            for send in self.sends
            if isinstance(send, SegmentCall) and send.call["type"] == "identify"
        }

    def orders(self) -> list[dict[str, Any]]:
        return [
            send.call
            for send in self.sends
            if isinstance(send, SegmentCall) and send.kind == "Order Completed"
        ]


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _money(cents: int) -> float:
    # Segment's spec sends prices as JSON numbers; two decimals read back exactly.
    return float(Decimal(cents) / 100)


class _Simulation:
    def __init__(self, *, seed: int, end: datetime, days: int, users: int, secret: str) -> None:
        self.rng = random.Random(seed)
        self.end = end
        self.start = end - timedelta(days=days)
        self.days = days
        self.secret = secret
        self.sends: list[Send] = []
        self.visits = 0
        self.addresses = 0
        self.shoppers = [self._shopper(f"u_demo_{n:03d}") for n in range(users)]
        for shopper in self.shoppers:
            # Bought before the month began, at staggered days, so that not every staple
            # falls due on the first day.
            for product, every in shopper.staples.items():
                shopper.last_bought[product] = self.start.date() - timedelta(
                    days=self.rng.randint(0, every)
                )
            if self.rng.random() < EXISTING_CUSTOMERS:
                # Logged in on their first device before the month began: its calls carry the
                # user id from the first day, and only a new device makes a journey.
                shopper.linked.add(shopper.browsers[0].anonymous_id)
            else:
                # New customers arrive through the month, browse, then sign up at checkout.
                shopper.joined = self.start.date() + timedelta(
                    days=self.rng.randrange(days * 2 // 3)
                )
        visitors = round(users * ANONYMOUS_VISITORS_PER_USER)
        self.shoppers += [self._shopper(None) for _ in range(visitors)]

    # -- who ---------------------------------------------------------------------------------

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _browser(self, device: Device) -> Browser:
        self.addresses += 1
        net, host = divmod(self.addresses, 250)
        prefix = ("203.0.113", "198.51.100", "192.0.2")[net % 3]
        return Browser(
            anonymous_id=f"a_{self.rng.getrandbits(48):012x}",
            device=device,
            address=f"{prefix}.{host + 1}",
            # Most pages search through the app's search service; some mobile ones send the
            # spec call alone, so searches without the app's fields are in the charts too.
            app_search=device != "mobile" or self.rng.random() < 0.4,
        )

    def _shopper(self, user_id: str | None) -> Shopper:
        rng = self.rng
        devices: list[Device] = [rng.choice(["desktop", "mobile", "mobile"])]
        if user_id is not None and rng.random() < 0.45:
            devices.append(rng.choice(["desktop", "mobile", "tablet"]))
        staples = rng.sample(STAPLES, k=rng.randint(3, 6)) if user_id else []
        return Shopper(
            user_id=user_id,
            browsers=[self._browser(device) for device in devices],
            activity=rng.uniform(0.45, 0.85) if user_id else rng.uniform(0.03, 0.1),
            # Each keeps their own rhythm around the product's usual one.
            staples={
                p.product_id: max(3, p.every + rng.randint(-2, 3)) for p in staples if p.every
            },
            voice=user_id is not None and rng.random() < 0.2,
            hours=rng.choices(
                [hour for hour, _ in HOUR_WEIGHTS], [w for _, w in HOUR_WEIGHTS], k=3
            ),
        )

    # -- when --------------------------------------------------------------------------------

    def run(self) -> ShopPlan:
        for day in range(self.days):
            today = (self.start + timedelta(days=day)).date()
            for shopper in self.shoppers:
                for moment in self._visit_times(shopper, today):
                    self._visit(shopper, moment)
        self.sends.sort(key=lambda send: _when(send))
        return ShopPlan(start=self.start, end=self.end, shoppers=self.shoppers, sends=self.sends)

    def _visit_times(self, shopper: Shopper, today: date) -> list[datetime]:
        rng = self.rng
        if today < shopper.joined:
            return []
        chance = shopper.activity * (1.3 if today.weekday() >= 5 else 1.0)
        if self._due(shopper, today) or today == shopper.joined:
            chance = max(chance, 0.8)
        visits = (rng.random() < chance) + (rng.random() < chance * 0.3)
        moments = sorted(
            datetime.combine(today, time(rng.choice(shopper.hours)), UTC)
            + timedelta(minutes=rng.randint(0, 59), seconds=rng.randint(0, 59))
            for _ in range(visits)
        )
        # A second visit within the gap would be the same session: it becomes a later one.
        for n in range(1, len(moments)):
            moments[n] = max(moments[n], moments[n - 1] + 2 * SESSION_GAP)
        # A visit takes well under an hour: none runs past the end of the month.
        return [m for m in moments if m < self.end - timedelta(hours=1)]

    def _due(self, shopper: Shopper, today: date) -> list[str]:
        return [
            product
            for product, every in shopper.staples.items()
            if (today - shopper.last_bought[product]).days >= every
        ]

    # -- what --------------------------------------------------------------------------------

    def _visit(self, shopper: Shopper, start: datetime) -> None:
        rng = self.rng
        self.visits += 1
        visit = _Visit(self, shopper, rng.choice(shopper.browsers), start, self.visits)
        if visit.known:
            visit.login(identify=False)
        due = self._due(shopper, start.date())
        for _ in range(rng.choice([1, 1, 2, 2, 3])):
            query = REORDER_QUERY if due and rng.random() < 0.2 else self._query()
            visit.search(query, due)
        if rng.random() < 0.4:
            visit.browse()
        if shopper.voice and visit.known and rng.random() < 0.6:
            visit.voice()
        # Shoppers wait until a few staples are due, or one is long overdue, and order them
        # together; a basket alone brings some to the checkout.
        overdue = any(
            (start.date() - shopper.last_bought[p]).days >= shopper.staples[p] + 3 for p in due
        )
        wants = ((len(due) >= 2 or overdue) and rng.random() < 0.8) or (
            bool(shopper.cart) and rng.random() < 0.15
        )
        if wants and shopper.user_id is not None and not visit.known and rng.random() < 0.8:
            visit.login(identify=True)  # checkout needs an account
        if wants and visit.known and rng.random() < 0.85:
            visit.order(due)
        visit.leave()

    def _query(self) -> Query:
        return self.rng.choices(QUERY_WEIGHTS, [q.weight for q in QUERY_WEIGHTS])[0]


def _when(send: Send) -> datetime:
    if isinstance(send, CaptureEvent):
        return send.event.occurred_at
    return datetime.fromisoformat(send.call["timestamp"])


class _Visit:
    """One session of one shopper on one device: the sends it makes, in time order."""

    def __init__(
        self, sim: _Simulation, shopper: Shopper, browser: Browser, start: datetime, n: int
    ) -> None:
        self.sim, self.shopper, self.browser, self.n = sim, shopper, browser, n
        self.rng = sim.rng
        self.now = start
        self.known = browser.anonymous_id in shopper.linked
        self.context: EventContext | None = None
        self.started: datetime | None = None

    def _tick(self, low: int = 8, high: int = 90) -> datetime:
        self.now += timedelta(seconds=self.rng.randint(low, high))
        return self.now

    def _page(self, event: str, properties: dict[str, Any], path: str) -> str:
        call: dict[str, Any] = {
            "type": "track",
            "event": event,
            "properties": properties,
        }
        return self._call(call, Channel.BROWSER, path)

    def _call(self, call: dict[str, Any], channel: Channel, path: str = "/") -> str:
        message_id = str(self.sim.new_id())
        call |= {"messageId": message_id, "timestamp": _stamp(self._tick())}
        user_id = self.shopper.user_id
        if channel is Channel.BROWSER:
            call |= {
                "anonymousId": self.browser.anonymous_id,
                "context": {
                    "library": BROWSER_LIBRARY,
                    "page": {"path": path, "url": SHOP + path},
                    "userAgent": self.browser.user_agent,
                },
            }
            if self.known and user_id is not None:
                # The page's user id, with the proof its backend handed it at login.
                call |= {
                    "userId": user_id,
                    "integrations": {INTEGRATION: {PROOF_FIELD: self._proof(user_id)}},
                }
            device: Browser | None = self.browser
        else:
            call |= {"userId": user_id, "context": {"library": BACKEND_LIBRARY}}
            device = None
        self.sim.sends.append(SegmentCall(channel=channel, device=device, visit=self.n, call=call))
        return message_id

    def _proof(self, user_id: str) -> str:
        return user_proof(self.sim.secret, user_id)

    def _capture(self, build: Callable[[EventContext], EventEnvelope]) -> EventEnvelope:
        assert self.context is not None
        self._tick(1, 3)
        event = build(self.context).model_copy(update={"event_id": self.sim.new_id()})
        self.sim.sends.append(CaptureEvent(visit=self.n, event=event))
        return event

    def login(self, *, identify: bool) -> None:
        user_id = self.shopper.user_id
        assert user_id is not None
        self.shopper.sessions += 1
        session = f"s_{user_id.removeprefix('u_')}_{self.shopper.sessions:03d}"
        self.context = EventContext(
            user_id=user_id, session_id=session, source="web", clock=lambda: self.now
        )
        if identify:
            self._call(
                {
                    "type": "identify",
                    "userId": user_id,
                    "integrations": {INTEGRATION: {PROOF_FIELD: self._proof(user_id)}},
                },
                Channel.BROWSER,
                "/login",
            )
            self.shopper.linked.add(self.browser.anonymous_id)
            self.known = True
        self.started = self.now
        device = self.browser.device
        self._capture(lambda events: events.session_start(device=device, landing_page=SHOP))

    def search(self, query: Query, due: list[str]) -> None:
        rng = self.rng
        finds = query.finds
        if query is REORDER_QUERY:
            finds = tuple(due) or tuple(self.shopper.staples)
        text = query.text
        if rng.random() < 0.15:
            text = text.title() if rng.random() < 0.5 else f" {text}  "  # as people type
        if self.known and self.browser.app_search:
            intent = query.intent
            filters = (
                [("category", PRODUCTS[finds[0]].category)] if finds and rng.random() < 0.2 else []
            )
            event = self._capture(
                lambda events: events.search(
                    text,
                    intent=intent,
                    intent_confidence=round(rng.uniform(0.55, 0.99), 3),
                    result_count=len(finds) * rng.randint(3, 9),
                    filters=filters,
                    latency_ms=rng.randint(20, 240),
                )
            )
            search_id = str(event.event_id)
        else:
            search_id = self._page("Products Searched", {"query": text}, "/search")
        for position, product in enumerate(finds[: rng.randint(1, 3)]):
            self._product("Product Viewed", product, position, search_id)
        if finds and rng.random() < 0.75:
            position = rng.randrange(min(3, len(finds)))
            product = finds[position]
            self._product("Product Clicked", product, position, search_id)
            if rng.random() < 0.6 or product in due:
                self._product("Product Added", product, position, search_id)
                self.shopper.cart[product] = self.shopper.cart.get(product, 0) + rng.randint(1, 2)

    def browse(self) -> None:
        product = self.rng.choice(CATALOGUE)
        self._product("Product Viewed", product.product_id, None, None)
        if self.shopper.cart and self.rng.random() < 0.3:
            removed = self.rng.choice(sorted(self.shopper.cart))
            self._product("Product Removed", removed, None, None)
            del self.shopper.cart[removed]

    def _product(self, event: str, product: str, position: int | None, search: str | None) -> None:
        properties: dict[str, Any] = {"product_id": product, "category": PRODUCTS[product].category}
        if position is not None:
            properties["position"] = position
        if search is not None:
            properties["search_event_id"] = search
        if event in ("Product Added", "Product Removed"):
            properties["quantity"] = 1
        self._page(event, properties, f"/p/{product}")

    def voice(self) -> None:
        rng = self.rng
        template, intent = rng.choice(VOICE_TURNS)
        product = PRODUCTS[rng.choice(sorted(self.shopper.staples))]
        transcript = template.format(name=product.name.lower())
        self._capture(
            lambda events: events.voice(
                transcript,
                detected_intent=intent,
                intent_confidence=round(rng.uniform(0.6, 0.98), 2),
                duration_ms=rng.randint(900, 4200),
                language="en-GB",
            )
        )
        if intent == "add_to_cart":
            self.shopper.cart[product.product_id] = self.shopper.cart.get(product.product_id, 0) + 1

    def order(self, due: list[str]) -> None:
        basket = dict(self.shopper.cart)
        for product in due:
            basket.setdefault(product, 1)
        if not basket:
            return
        lines = [
            {"product_id": product, "quantity": quantity, "price": _money(PRODUCTS[product].cents)}
            for product, quantity in sorted(basket.items())
        ]
        total = sum(PRODUCTS[p].cents * q for p, q in basket.items())
        order_id = f"ord_{self.sim.rng.getrandbits(40):010x}"
        self._tick(60, 240)  # checkout takes a while
        self._call(
            {
                "type": "track",
                "event": "Order Completed",
                "properties": {
                    "order_id": order_id,
                    "products": lines,
                    "total": _money(total),
                    "currency": CURRENCY,
                },
            },
            Channel.BACKEND,
        )
        for product in basket:
            self.shopper.last_bought[product] = self.now.date()
        self.shopper.cart.clear()

    def leave(self) -> None:
        if self.context is None or self.started is None:
            return
        device, started = self.browser.device, self.started
        self._capture(
            lambda events: events.session_end(device=device, started_at=started, landing_page=SHOP)
        )


def plan_shop(
    *,
    end: datetime,
    secret: str,
    seed: int = DEFAULT_SEED,
    users: int = DEFAULT_USERS,
    days: int = DEFAULT_DAYS,
) -> ShopPlan:
    """The shop's ``days`` days up to ``end`` (exclusive); ``secret`` proves user ids."""
    return _Simulation(seed=seed, end=end, days=days, users=users, secret=secret).run()
