"""The de-duplicated views and the dashboard views, on ``shop_day``."""

import datetime as dt

from tests.integration.warehouse.conftest import DATASETS, DUPLICATED, Warehouse
from tests.integration.warehouse.shop_day import COFFEE, GRANOLA, OAT


def test_dedup_view_keeps_one_row_per_event_id_the_copy_received_last(
    warehouse: Warehouse,
) -> None:
    event_id = warehouse.shop.ids[DUPLICATED]
    raw = warehouse.query(
        f"SELECT received_at FROM `{DATASETS.events}.searches` "
        f"WHERE received_at > TIMESTAMP('2000-01-01') AND event_id = '{event_id}'"
    )
    deduped = warehouse.table("searches_dedup", f"event_id = '{event_id}'")

    assert len(raw) == 2
    assert [row["received_at"] for row in deduped] == [max(r["received_at"] for r in raw)]
    # 23 searches on D and 14 in the history, once each.
    assert len(warehouse.table("searches_dedup")) == 37


def test_every_family_has_a_dedup_view_with_the_raw_tables_columns(warehouse: Warehouse) -> None:
    for family in ("searches", "product_interactions", "orders", "sessions", "voice_interactions"):
        view = warehouse.client.get_table(f"{DATASETS.events}.{family}_dedup")
        table = warehouse.client.get_table(f"{DATASETS.events}.{family}")
        assert [f.name for f in view.schema] == [f.name for f in table.schema], family


def test_daily_funnel_counts_users_who_took_every_step_so_far(warehouse: Warehouse) -> None:
    rows = {row.pop("day"): row for row in warehouse.table("daily_funnel")}
    d = warehouse.day

    # D: u1..u6, u7 (on dev-a, before its login) and dev-forged searched; u1, u2, u4 and u7
    # clicked; u1 and u7 carted and ordered (u7's order after the login: one person with the
    # device's steps). Sessions s1..s6, dev-a's two derived ones and dev-forged's.
    assert rows.pop(d) == {
        "searchers": 8,
        "clickers": 4,
        "carters": 2,
        "buyers": 2,
        "search_to_click": 0.5,
        "click_to_cart": 0.5,
        "cart_to_order": 1.0,
        "sessions": 9,
    }
    history: dict[str, float | None] = {
        "searchers": 1,
        "clickers": 0,
        "carters": 0,
        "buyers": 0,
        "search_to_click": 0.0,
        "sessions": 1,
    }
    no_search: dict[str, float | None] = {
        "searchers": 0,
        "clickers": 0,
        "carters": 0,
        "buyers": 0,
        "search_to_click": None,
        "sessions": 1,
    }
    expected = {d - dt.timedelta(days=k): history for k in range(1, 8)}
    # u2's orders on D-6 and D-2 (session s2-old) beside u6's searches.
    expected |= {d - dt.timedelta(days=k): {**history, "sessions": 2} for k in (6, 2)}
    # u1's orders on D-20 and D-10 came without a search that day, and the later days' orders
    # and cart (u1 and u3 on D+1, two sessions; u2 on D+2) too.
    expected |= {d - dt.timedelta(days=k): no_search for k in (10, 20, -2)}
    expected[d + dt.timedelta(days=1)] = {**no_search, "sessions": 2}
    assert rows == {
        day: {**row, "click_to_cart": None, "cart_to_order": None} for day, row in expected.items()
    }


def test_top_products_ranks_views_carts_and_orders(warehouse: Warehouse) -> None:
    rows = {row.pop("product_id"): row for row in warehouse.table("top_products")}

    assert rows == {
        # views p1, n1_night_view; clicks p2, p5; carts p3, n1_night_cart (stored twice, counted
        # once); orders o_a, o_b, o1, order-n1 with 2 units each
        OAT: {
            "views": 2,
            "clicks": 2,
            "carts": 2,
            "orders": 4,
            "units": 8,
            "view_rank": 3,
            "cart_rank": 1,
            "order_rank": 1,
        },
        # views p4, p6, p9, n1_view; dev-a's click and cart; orders o1, order-n2, order-o7
        # with 1 unit each
        GRANOLA: {
            "views": 4,
            "clicks": 1,
            "carts": 1,
            "orders": 3,
            "units": 3,
            "view_rank": 1,
            "cart_rank": 2,
            "order_rank": 2,
        },
        # views p7, p8, n1_ahead, n2_night_view; click p10; orders o2, o3, order-n2
        COFFEE: {
            "views": 4,
            "clicks": 1,
            "carts": 0,
            "orders": 3,
            "units": 3,
            "view_rank": 1,
            "cart_rank": 3,
            "order_rank": 2,
        },
    }
