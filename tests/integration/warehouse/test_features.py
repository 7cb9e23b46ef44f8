"""The ML feature tables for day D, on ``shop_day``."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from event_capture.warehouse.catalog import (
    PRODUCT_RECOMMENDATIONS,
    REORDER_PREDICTIONS,
    USER_PROFILES,
    USER_RECOMMENDATIONS,
)
from tests.integration.warehouse.conftest import Warehouse
from tests.integration.warehouse.shop_day import COFFEE, GRANOLA, OAT


def by_user(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row.pop("user_id"): row for row in rows}


def test_user_profiles_count_activity_and_pick_favourites(warehouse: Warehouse) -> None:
    profiles = by_user(warehouse.snapshot(USER_PROFILES))
    d = warehouse.day

    def at(days_before: int, minute: int) -> dt.datetime:
        return dt.datetime.combine(d - dt.timedelta(days=days_before), dt.time(), dt.UTC) + (
            dt.timedelta(minutes=minute)
        )

    # dev-forged, linked to no one, has no profile.
    assert set(profiles) == {"u1", "u2", "u3", "u4", "u5", "u6", "u7"}
    # u1: oat_0, oat_1, track, bread, granola bars (no intent); views p1, p4; click p2; cart
    # p3; orders o_a, o_b, o1; voice v1; sessions s1 and s1-old. Dairy (p1-p3) beats cereal (p4).
    assert profiles["u1"] == {
        "searches": 5,
        "product_views": 2,
        "product_clicks": 1,
        "add_to_carts": 1,
        "orders": 3,
        "voice_interactions": 1,
        "sessions": 2,
        "first_seen": at(20, 0),
        "last_seen": at(0, 52),  # "granola bars"
        "days_since_last_seen": 0,
        "favourite_category": "dairy",
        "favourite_product": OAT,
        "intent_mix": [
            {"intent": "product_lookup", "share": 0.4},
            {"intent": "category_browse", "share": 0.2},
            {"intent": "order_status", "share": 0.2},
            {"intent": "reorder", "share": 0.2},
        ],
        "order_currency": "EUR",
        "average_order_value": Decimal("4.33"),  # (3.00 + 3.00 + 7.00) / 3
    }
    # u2: a three-way tie on categories and products goes to the first by name.
    assert profiles["u2"]["favourite_category"] == "cereal"
    assert profiles["u2"]["favourite_product"] == COFFEE
    assert profiles["u2"]["average_order_value"] == Decimal("9.25")  # (9.00 + 9.50) / 2
    assert profiles["u2"]["first_seen"] == at(6, 0)
    # u5 only searched: no favourites, no orders.
    assert {
        k: profiles["u5"][k] for k in ("orders", "favourite_product", "average_order_value")
    } == {
        "orders": 0,
        "favourite_product": None,
        "average_order_value": None,
    }
    # u6: 14 history searches and one today; 7 history sessions plus s6.
    assert profiles["u6"]["searches"] == 15
    assert profiles["u6"]["sessions"] == 8
    assert profiles["u6"]["intent_mix"] == [
        {"intent": "category_browse", "share": pytest.approx(14 / 15)},
        {"intent": "weather", "share": pytest.approx(1 / 15)},
    ]


def test_a_profile_counts_what_the_user_did_before_logging_in_on_a_linked_device(
    warehouse: Warehouse,
) -> None:
    profile = by_user(warehouse.snapshot(USER_PROFILES))["u7"]
    d = dt.datetime.combine(warehouse.day, dt.time(), dt.UTC)

    # dev-a's anonymous search, click and cart, and the order u7 placed from it: two derived
    # sessions (the cart came 31 minutes after the click). Without the link, u7 would have
    # the order alone.
    assert profile == {
        "searches": 1,
        "product_views": 0,
        "product_clicks": 1,
        "add_to_carts": 1,
        "orders": 1,
        "voice_interactions": 0,
        "sessions": 2,
        "first_seen": d + dt.timedelta(hours=1),
        "last_seen": d + dt.timedelta(hours=2, minutes=10),
        "days_since_last_seen": 0,
        "favourite_category": "cereal",
        "favourite_product": GRANOLA,
        "intent_mix": [],
        "order_currency": "EUR",
        "average_order_value": Decimal("4.00"),
    }


def test_reorder_predictions_for_products_ordered_on_two_days_or_more(
    warehouse: Warehouse,
) -> None:
    d = warehouse.day
    rows = {
        (r.pop("user_id"), r.pop("product_id")): r for r in warehouse.snapshot(REORDER_PREDICTIONS)
    }

    assert rows == {
        # Oat milk on D-20, D-10 and D: every 10 days, due again on D+10.
        ("u1", OAT): {
            "orders": 3,
            "first_ordered_on": d - dt.timedelta(days=20),
            "last_ordered_on": d,
            "mean_interval_days": 10.0,
            "days_since_last": 0,
            "due_score": 0.0,
            "next_expected_on": d + dt.timedelta(days=10),
        },
        # Coffee on D-6 and D-2: every 4 days, half-way to the next one.
        ("u2", COFFEE): {
            "orders": 2,
            "first_ordered_on": d - dt.timedelta(days=6),
            "last_ordered_on": d - dt.timedelta(days=2),
            "mean_interval_days": 4.0,
            "days_since_last": 2,
            "due_score": 0.5,
            "next_expected_on": d + dt.timedelta(days=2),
        },
    }


def test_product_recommendations_rank_co_occurrence_in_sessions_and_orders(
    warehouse: Warehouse,
) -> None:
    rows = {
        (r["product_id"], r["rank"]): (r["recommended_product_id"], r["co_occurrences"])
        for r in warehouse.snapshot(PRODUCT_RECOMMENDATIONS)
    }

    # Oat and granola share sessions s1, s2 and order o1; granola and coffee s2 and s3; oat and
    # coffee only s2.
    assert rows == {
        (OAT, 1): (GRANOLA, 3),
        (OAT, 2): (COFFEE, 1),
        (GRANOLA, 1): (OAT, 3),
        (GRANOLA, 2): (COFFEE, 2),
        (COFFEE, 1): (GRANOLA, 2),
        (COFFEE, 2): (OAT, 1),
    }


def test_user_recommendations_leave_out_what_the_user_just_bought(warehouse: Warehouse) -> None:
    rows = {
        (r["user_id"], r["rank"]): (r["product_id"], r["score"])
        for r in warehouse.snapshot(USER_RECOMMENDATIONS)
    }

    assert rows == {
        # u1 bought oat and granola on D: only coffee is left (1 with oat + 2 with granola).
        ("u1", 1): (COFFEE, 3),
        # u2 bought coffee on D-6 and D-2: granola (3 + 2) and oat (3 + 1).
        ("u2", 1): (GRANOLA, 5),
        ("u2", 2): (OAT, 4),
        # u3 bought nothing: oat (1 + 3), then coffee and granola tied at 2, by name.
        ("u3", 1): (OAT, 4),
        ("u3", 2): (COFFEE, 2),
        ("u3", 3): (GRANOLA, 2),
        # u4 clicked coffee only.
        ("u4", 1): (GRANOLA, 2),
        ("u4", 2): (OAT, 1),
        # u7 clicked, carted (before logging in) and bought granola.
        ("u7", 1): (OAT, 3),
        ("u7", 2): (COFFEE, 2),
    }
