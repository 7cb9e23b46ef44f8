"""The live rules: what the events captured since the snapshot change in a user's answer.

Pure functions over entries (``live_activity.Entry``) and the nightly document; the snapshot of
2026-11-27 covers events up to the end of that day (UTC), so "since" starts 2026-11-28 00:00Z.
Reading the entries is tests/unit/contracts/test_live_activity.py.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from event_capture.contracts.live_activity import Entry
from event_capture.features import live
from event_capture.features.documents import ProductDocument, ReorderHistory, UserDocument
from event_capture.features.live import Since
from event_capture.schemas.features import Recommendation, SimilarProduct

UTC = dt.UTC
SNAPSHOT_DATE = dt.date(2026, 11, 27)
START = dt.datetime(2026, 11, 28, tzinfo=UTC)
BEFORE = START - dt.timedelta(microseconds=1)
TODAY = dt.date(2026, 11, 30)


def at(day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def view(moment: dt.datetime, *products: str) -> Entry:
    return Entry("product_view", moment, products)


def click(moment: dt.datetime, *products: str) -> Entry:
    return Entry("product_click", moment, products)


def cart(moment: dt.datetime, *products: str) -> Entry:
    return Entry("add_to_cart", moment, products)


def order(moment: dt.datetime, *products: str) -> Entry:
    return Entry("order_placed", moment, products)


def search(moment: dt.datetime, query: str | None) -> Entry:
    return Entry("search", moment, (), query)


# --- recent_items ------------------------------------------------------------------------------


def test_recent_items_are_most_recent_first_each_once_and_limited() -> None:
    entries = [  # newest first, as the activity list holds them
        view(at(28, 12), "p3"),
        click(at(28, 11), "p1"),
        cart(at(28, 10), "c1"),
        view(at(28, 9), "p3"),
        order(at(28, 8), "o1", "o2"),
        view(at(28, 7), "p2"),
        cart(at(28, 6), "c1"),
        view(at(28, 5), "p4"),
        search(at(28, 4), "oat milk"),
        search(at(28, 3), "bread"),
        search(at(28, 2), "oat milk"),
        search(at(28, 1), None),
        search(at(28, 0), ""),
    ]

    recent = live.recent_items(entries, limit=3)

    assert recent.viewed == ["p3", "p1", "p2"]  # views and clicks; p4 is the 4th
    assert recent.carted == ["c1"]
    assert recent.ordered == ["o1", "o2"]
    assert recent.searched == ["oat milk", "bread"]


def test_removals_sessions_and_voice_are_not_recent_items() -> None:
    entries = [
        Entry("remove_from_cart", at(28), ("r1",)),
        Entry("session_start", at(28)),
        Entry("voice_interaction", at(28), (), "add milk"),
    ]

    recent = live.recent_items(entries, limit=10)

    assert recent.viewed == recent.carted == recent.ordered == recent.searched == []


EVENT_TYPES = st.sampled_from(
    ["product_view", "product_click", "add_to_cart", "order_placed", "search", "session_start"]
)
ENTRIES = st.lists(
    st.builds(
        Entry,
        EVENT_TYPES,
        st.just(at(28)),
        st.lists(st.sampled_from("abcdefg"), max_size=3).map(tuple),
        st.one_of(st.none(), st.sampled_from(["", "milk", "bread", "eggs", "tea"])),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(ENTRIES, st.integers(1, 6))
def test_recent_items_are_the_first_distinct_values_never_more_than_limit(
    entries: list[Entry], limit: int
) -> None:
    recent = live.recent_items(entries, limit)

    streams = {
        "viewed": [p for e in entries if e.event_type in live.VIEWED for p in e.product_ids],
        "carted": [p for e in entries if e.event_type == "add_to_cart" for p in e.product_ids],
        "ordered": [p for e in entries if e.event_type == "order_placed" for p in e.product_ids],
        "searched": [e.query for e in entries if e.event_type == "search" and e.query],
    }
    for name, stream in streams.items():
        got = getattr(recent, name)
        assert len(got) <= limit
        assert len(set(got)) == len(got)
        assert got == list(dict.fromkeys(stream))[:limit], name


# --- Since.of ----------------------------------------------------------------------------------


def test_since_starts_at_the_end_of_the_snapshot_day_utc() -> None:
    entries = [
        cart(START, "at-start"),
        order(START + dt.timedelta(hours=5), "after"),
        cart(BEFORE, "just-before"),
        # 23:30 on the snapshot day in UTC, though 00:30 the next day where it was sent.
        order(dt.datetime(2026, 11, 28, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))), "cet"),
    ]

    since = Since.of(entries, SNAPSHOT_DATE)

    assert since.start == START
    assert since.carted_or_ordered == {"at-start", "after"}
    assert since.ordered_on == {"after": dt.date(2026, 11, 28)}


def test_an_order_is_dated_by_its_utc_day_and_the_newest_wins() -> None:
    late_evening_west = dt.datetime(2026, 11, 28, 22, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    # Newest first, as the activity list holds them.
    entries = [order(at(29, 4), "q"), order(late_evening_west, "p"), order(at(28, 9), "p")]

    since = Since.of(entries, SNAPSHOT_DATE)

    assert since.ordered_on == {"p": dt.date(2026, 11, 29), "q": dt.date(2026, 11, 29)}


def test_views_and_searches_since_change_nothing_that_is_left_out() -> None:
    since = Since.of([view(at(29), "v"), search(at(29), "milk")], SNAPSHOT_DATE)

    assert since.carted_or_ordered == frozenset()
    assert since.ordered_on == {}


def test_without_a_snapshot_every_entry_is_since() -> None:
    entries = [cart(at(1), "old-cart"), order(dt.datetime(2020, 1, 1, tzinfo=UTC), "old-order")]

    since = Since.of(entries, None)

    assert since.start is None
    assert since.carted_or_ordered == {"old-cart", "old-order"}
    assert since.ordered_on == {"old-order": dt.date(2020, 1, 1)}


# --- recommendations ---------------------------------------------------------------------------


def document(*products: str) -> UserDocument:
    return UserDocument(
        recommendations=[
            Recommendation(product_id=p, score=100.0 - rank, rank=rank)
            for rank, p in enumerate(products, start=1)
        ]
    )


def test_recommendations_leave_out_what_was_carted_or_ordered_since_and_rank_again() -> None:
    nightly = document("a", "b", "c", "d", "e")
    entries = [cart(at(28, 1), "b"), order(at(29), "d"), cart(BEFORE, "a"), order(at(26), "c")]

    kept = live.recommendations(nightly, Since.of(entries, SNAPSHOT_DATE), limit=10)

    assert kept == [
        Recommendation(product_id="a", score=99.0, rank=1),
        Recommendation(product_id="c", score=97.0, rank=2),
        Recommendation(product_id="e", score=95.0, rank=3),
    ]


def test_recommendations_are_limited_after_leaving_out() -> None:
    nightly = document("a", "b", "c", "d")

    kept = live.recommendations(nightly, Since.of([cart(at(28), "a")], SNAPSHOT_DATE), limit=2)

    assert [(r.product_id, r.rank) for r in kept] == [("b", 1), ("c", 2)]


# --- reorder_due -------------------------------------------------------------------------------


def history(product: str, last: dt.date, interval: float, orders: int = 3) -> ReorderHistory:
    return ReorderHistory(
        product_id=product, orders=orders, last_ordered_on=last, mean_interval_days=interval
    )


def test_an_order_since_the_snapshot_resets_the_clock() -> None:
    item = history("milk", dt.date(2026, 11, 20), interval=7.0, orders=4)
    since = Since.of([order(at(29, 8), "milk")], SNAPSHOT_DATE)

    [due] = live.reorder_due([item], since, TODAY, limit=10)

    assert due.last_ordered_on == dt.date(2026, 11, 29)
    assert due.orders == 5
    assert due.ordered_since_snapshot is True
    assert due.due_score == round(1 / 7, 4)
    assert due.due is False
    assert due.next_expected_on == dt.date(2026, 12, 6)


def test_an_order_before_the_snapshot_end_does_not_reset_the_clock() -> None:
    item = history("milk", dt.date(2026, 11, 20), interval=7.0, orders=4)
    since = Since.of([order(BEFORE, "milk"), order(at(29), "other")], SNAPSHOT_DATE)

    [due] = live.reorder_due([item], since, TODAY, limit=10)

    assert due.last_ordered_on == dt.date(2026, 11, 20)
    assert due.orders == 4
    assert due.ordered_since_snapshot is False
    assert due.due_score == round(10 / 7, 4)
    assert due.due is True
    assert due.next_expected_on == dt.date(2026, 11, 27)


@pytest.mark.parametrize(
    ("today", "score", "due"),
    [
        (dt.date(2026, 11, 20), 0.0, False),
        (dt.date(2026, 11, 29), 0.9, False),
        (dt.date(2026, 11, 30), 1.0, True),
        (dt.date(2026, 12, 5), 1.5, True),
    ],
)
def test_the_due_score_is_counted_to_today(today: dt.date, score: float, due: bool) -> None:
    item = history("tea", dt.date(2026, 11, 20), interval=10.0)

    [answer] = live.reorder_due([item], Since.of([], SNAPSHOT_DATE), today, limit=10)

    assert (answer.due_score, answer.due) == (score, due)


def test_a_zero_interval_is_never_due() -> None:
    [answer] = live.reorder_due(
        [history("x", dt.date(2026, 1, 1), interval=0.0)], Since.of([], SNAPSHOT_DATE), TODAY, 10
    )

    assert (answer.due_score, answer.due) == (0.0, False)


def test_the_most_overdue_come_first_ties_by_product_and_the_limit_cuts_the_rest() -> None:
    items = [
        history("a-soon", dt.date(2026, 11, 28), interval=10.0),  # 0.2
        history("b-due", dt.date(2026, 11, 20), interval=5.0),  # 2.0
        history("c-mid", dt.date(2026, 11, 25), interval=10.0),  # 0.5
        history("a-due", dt.date(2026, 11, 20), interval=5.0),  # 2.0
    ]

    answer = live.reorder_due(items, Since.of([], SNAPSHOT_DATE), TODAY, limit=3)

    assert [(r.product_id, r.due_score) for r in answer] == [
        ("a-due", 2.0),
        ("b-due", 2.0),
        ("c-mid", 0.5),
    ]


# --- similar_to_recent -------------------------------------------------------------------------


def similar(*pairs: tuple[str, int]) -> ProductDocument:
    return ProductDocument(
        similar=[
            SimilarProduct(product_id=p, co_occurrences=n, rank=rank)
            for rank, (p, n) in enumerate(pairs, start=1)
        ]
    )


def test_similar_to_recent_sums_over_the_sources_and_ranks_from_one() -> None:
    documents = [similar(("x", 5), ("y", 2)), similar(("y", 4), ("z", 3)), None]

    answer = live.similar_to_recent(["s1", "s2", "s3"], documents, Since.of([], None), 10)

    assert answer == [
        SimilarProduct(product_id="y", co_occurrences=6, rank=1),
        SimilarProduct(product_id="x", co_occurrences=5, rank=2),
        SimilarProduct(product_id="z", co_occurrences=3, rank=3),
    ]


def test_similar_to_recent_leaves_out_the_sources_and_what_was_carted_or_ordered_since() -> None:
    documents = [
        similar(("s2", 9), ("carted", 8), ("ordered", 7), ("old-cart", 1)),
        similar(("s1", 9)),
    ]
    since = Since.of(
        [cart(at(28), "carted"), order(at(29), "ordered"), cart(BEFORE, "old-cart")], SNAPSHOT_DATE
    )

    answer = live.similar_to_recent(["s1", "s2"], documents, since, 10)

    assert [(s.product_id, s.rank) for s in answer] == [("old-cart", 1)]


def test_similar_to_recent_breaks_ties_by_product_and_is_limited() -> None:
    documents = [similar(("b", 2), ("a", 2), ("c", 2))]

    answer = live.similar_to_recent(["s"], documents, Since.of([], None), 2)

    assert [(s.product_id, s.rank) for s in answer] == [("a", 1), ("b", 2)]


def test_similar_sources_are_the_three_most_recently_viewed() -> None:
    recent = live.recent_items([view(at(28, 5 - i), p) for i, p in enumerate("abcde")], 10)

    assert live.similar_sources(recent) == ["a", "b", "c"]
