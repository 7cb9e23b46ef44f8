"""Sessions derived where the sender gave none, stitching across the login, and the journeys
view, on ``shop_day``'s dev-a (linked to u7 by its order) and dev-forged (linked to no one)."""

import datetime as dt

from event_capture.warehouse.catalog import ACTIVITY_TABLES, SESSIONIZED_VIEW
from tests.integration.warehouse.conftest import Warehouse
from tests.integration.warehouse.shop_day import DEVICE, FORGED, LINKED_USER


def derived(key: str, at: dt.datetime) -> str:
    return f"derived:{key}:{int(at.timestamp() * 1000)}"


def test_events_sessionized_derives_a_new_session_after_more_than_30_minutes(
    warehouse: Warehouse,
) -> None:
    rows = warehouse.table(SESSIONIZED_VIEW.name, f"anonymous_id = '{DEVICE}'")
    d = dt.datetime.combine(warehouse.day, dt.time(), dt.UTC)
    first, second = (
        derived(DEVICE, d + dt.timedelta(hours=1)),
        derived(DEVICE, d + dt.timedelta(hours=2, minutes=1)),
    )

    found = sorted(
        (
            r["occurred_at"] - d,
            r["event_type"],
            r["user_id"],
            r["stitched_user_id"],
            r["session_id"],
            r["session_derived"],
        )
        for r in rows
    )
    assert found == [
        # The search, and the click exactly 30 minutes later: one session.
        (dt.timedelta(hours=1), "search", None, LINKED_USER, first, True),
        (dt.timedelta(hours=1, minutes=30), "product_click", None, LINKED_USER, first, True),
        # The cart 31 minutes after the click starts the next; the order, logged in, joins it.
        (dt.timedelta(hours=2, minutes=1), "add_to_cart", None, LINKED_USER, second, True),
        (dt.timedelta(hours=2, minutes=10), "order_placed", LINKED_USER, LINKED_USER, second, True),
    ]


def test_events_sessionized_keeps_sent_sessions_and_leaves_unlinked_devices_anonymous(
    warehouse: Warehouse,
) -> None:
    rows = warehouse.table(SESSIONIZED_VIEW.name)
    by_id = {row["event_id"]: row for row in rows}
    ids = warehouse.shop.ids

    assert len(by_id) == len(rows)
    # Every activity event once: the dedup views' rows, no link.
    dedup = sum(len(warehouse.table(f"{table}_dedup")) for table in ACTIVITY_TABLES)
    assert len(rows) == dedup
    assert {r["event_type"] for r in rows} >= {"search", "order_placed", "session_start"}
    assert "identify" not in {r["event_type"] for r in rows}
    sent = by_id[ids["oat_0"]]
    assert (sent["session_id"], sent["session_derived"], sent["stitched_user_id"]) == (
        "s1",
        False,
        "u1",
    )
    forged = by_id[ids["forged_bread"]]
    assert (forged["user_id"], forged["stitched_user_id"], forged["anonymous_id"]) == (
        None,
        None,
        FORGED,
    )
    assert forged["session_derived"] is True


def test_daily_journeys_counts_anonymous_sessions_and_the_devices_that_logged_in(
    warehouse: Warehouse,
) -> None:
    rows = {row.pop("day"): row for row in warehouse.table("daily_journeys")}

    # dev-a's two sessions before its login (linked), dev-forged's one (not).
    assert rows == {
        warehouse.day: {
            "anonymous_sessions": 3,
            "anonymous_devices": 2,
            "linked_sessions": 2,
            "linked_devices": 1,
        }
    }
