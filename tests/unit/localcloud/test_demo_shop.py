"""The demo shop's plan (``make demo``): the same plan from the same seed and day, shaped like a
small shop's month, and every call one the collector and the capture function take as sent."""

import datetime as dt
import itertools
from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from event_capture.collector.identity import UserIdProofs
from event_capture.collector.mapping import Mapped, map_call
from event_capture.ingest.validation import validate_events
from event_capture.schemas.search import SearchEvent
from event_capture.schemas.session import SessionEvent
from localcloud.demo_shop import (
    DEFAULT_USERS,
    CaptureEvent,
    Channel,
    SegmentCall,
    ShopPlan,
    plan_shop,
)

SECRET = "a_test_secret_of_at_least_32_characters"
END = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def plan() -> ShopPlan:
    return plan_shop(end=END, secret=SECRET)


def test_same_seed_and_day_same_plan(plan: ShopPlan) -> None:
    again = plan_shop(end=END, secret=SECRET)
    assert again.sends == plan.sends
    other = plan_shop(end=END, secret=SECRET, seed=7)
    assert other.sends != plan.sends


def test_a_month_of_about_fifty_users_in_daily_rhythms(plan: ShopPlan) -> None:
    assert len(plan.users) == DEFAULT_USERS
    visitors = [s for s in plan.shoppers if s.user_id is None]
    assert visitors, "some visitors never log in"
    moments = [_when(send) for send in plan.sends]
    assert min(moments) >= END - dt.timedelta(days=30)
    assert max(moments) < END
    assert moments == sorted(moments)
    assert len({moment.date() for moment in moments}) == 30
    hours = Counter(moment.hour for moment in moments)
    assert hours[19] + hours[20] > 10 * (hours[3] + hours[4])  # evenings, not nights


def test_sessions_are_apart_by_more_than_the_gap(plan: ShopPlan) -> None:
    starts: dict[str, list[dt.datetime]] = defaultdict(list)
    for send in plan.sends:
        if isinstance(send, CaptureEvent) and send.event.event_type == "session_start":
            assert send.event.user_id is not None
            starts[send.event.user_id].append(send.event.occurred_at)
    assert len(starts) > DEFAULT_USERS * 0.8
    for moments in starts.values():
        gaps = [b - a for a, b in itertools.pairwise(moments)]
        assert all(gap > dt.timedelta(minutes=30) for gap in gaps)


def test_logins_link_devices_with_the_backends_proof(plan: ShopPlan) -> None:
    links = plan.links()
    logins = Counter(_when(send).date() for send in plan.sends if send.kind == "identify")
    assert len({user for _, user in links}) > DEFAULT_USERS / 2
    assert len(logins) >= 15, "new customers and new devices log in all month"
    proofs = UserIdProofs((SECRET,))
    page = [s for s in plan.sends if isinstance(s, SegmentCall) and s.channel is Channel.BROWSER]
    proven = [send.call for send in page if "userId" in send.call]
    assert proven, "the page's calls carry the user id once logged in"
    assert all(proofs.verdict(call, call["userId"]) is None for call in proven)


def test_orders_repeat_and_add_up(plan: ShopPlan) -> None:
    days: dict[tuple[str, str], set[str]] = defaultdict(set)
    for order in plan.orders():
        lines = order["properties"]["products"]
        total = sum(Decimal(str(line["price"])) * line["quantity"] for line in lines)
        assert Decimal(str(order["properties"]["total"])) == total
        for line in lines:
            days[order["userId"], line["product_id"]].add(order["timestamp"][:10])
    repeated = [pair for pair, ordered_on in days.items() if len(ordered_on) >= 3]
    assert len(repeated) > DEFAULT_USERS
    assert len({user for user, _ in repeated}) > DEFAULT_USERS * 0.8


def test_searches_with_and_without_the_apps_fields(plan: ShopPlan) -> None:
    searches = [
        s.event
        for s in plan.sends
        if isinstance(s, CaptureEvent) and isinstance(s.event, SearchEvent)
    ]
    spec_only = [s for s in plan.sends if s.kind == "Products Searched"]
    assert len(searches) > 500 and len(spec_only) > 500
    assert {search.intent for search in searches} >= {"product_lookup", "reorder", "recipe"}
    zero = Counter(search.query.strip().lower() for search in searches if search.result_count == 0)
    assert zero.most_common(1)[0][1] > 100
    counts = plan.counts()
    assert 5 <= counts["voice_interaction"] <= 100
    assert counts["Product Removed"] > 0


def test_the_collector_and_the_capture_function_take_every_send(plan: ShopPlan) -> None:
    received = END
    proofs = UserIdProofs((SECRET,))
    events = []
    for send in plan.sends:
        if isinstance(send, CaptureEvent):
            events.append(send.event.model_dump(mode="json", exclude_none=True))
            continue
        trusted = send.channel is Channel.BACKEND
        # Without sentAt the call's timestamp is kept as sent.
        mapped = map_call(
            send.call, sent_at=None, received_at=received, proofs=None if trusted else proofs
        )
        assert isinstance(mapped, Mapped), (send.call, mapped)
        assert mapped.unproven is None
        events.append(mapped.event)
    rows, rejections = validate_events(events, received)
    assert rejections == []
    assert len(rows) == len(plan.sends)
    sessions = [
        s.event
        for s in plan.sends
        if isinstance(s, CaptureEvent) and isinstance(s.event, SessionEvent)
    ]
    assert all(session.session_id for session in sessions)


def _when(send: SegmentCall | CaptureEvent) -> dt.datetime:
    if isinstance(send, CaptureEvent):
        return send.event.occurred_at
    return dt.datetime.fromisoformat(send.call["timestamp"])
