"""Nightly snapshot documents from feature-table rows, and the content digest in their id.

The rows are shaped as google-cloud-bigquery returns ``SELECT *`` of the four tables: every
column of the catalog, ``snapshot_date`` and ``user_id`` included.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from event_capture.features.documents import (
    ProductDocument,
    Snapshot,
    UserDocument,
    build_snapshot,
)

DAY = dt.date(2026, 11, 27)
Row = dict[str, Any]


def profile_row(user_id: str, **overrides: Any) -> Row:
    row: Row = {
        "snapshot_date": DAY,
        "user_id": user_id,
        "searches": 12,
        "product_views": 30,
        "product_clicks": 9,
        "add_to_carts": 4,
        "orders": 2,
        "voice_interactions": 1,
        "sessions": 5,
        "first_seen": dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.UTC),
        "last_seen": dt.datetime(2026, 11, 27, 21, 5, tzinfo=dt.UTC),
        "days_since_last_seen": 0,
        "favourite_category": "dairy",
        "favourite_product": "sku_1",
        "intent_mix": [
            {"intent": "product_lookup", "share": 0.75},
            {"intent": "recipe", "share": 0.25},
        ],
        "order_currency": "EUR",
        "average_order_value": Decimal("23.40"),
    }
    row.update(overrides)
    return row


def reorder_row(user_id: str, product_id: str, **overrides: Any) -> Row:
    row: Row = {
        "snapshot_date": DAY,
        "user_id": user_id,
        "product_id": product_id,
        "orders": 3,
        "first_ordered_on": dt.date(2026, 10, 1),
        "last_ordered_on": dt.date(2026, 11, 20),
        "mean_interval_days": 7.5,
        "days_since_last": 7,
        "due_score": 0.9333,
        "next_expected_on": dt.date(2026, 11, 28),
    }
    row.update(overrides)
    return row


def user_recommendation_row(user_id: str, product_id: str, rank: int, score: int = 10) -> Row:
    return {
        "snapshot_date": DAY,
        "user_id": user_id,
        "product_id": product_id,
        "score": score,
        "rank": rank,
    }


def product_recommendation_row(product_id: str, other: str, rank: int, n: int = 5) -> Row:
    return {
        "snapshot_date": DAY,
        "product_id": product_id,
        "recommended_product_id": other,
        "co_occurrences": n,
        "rank": rank,
    }


def tables() -> dict[str, list[Row]]:
    return {
        "user_profiles": [profile_row("u1"), profile_row("u2", favourite_category=None)],
        "reorder_predictions": [
            reorder_row("u1", "sku_9"),
            reorder_row("u1", "sku_2", orders=5),
            reorder_row("u3", "sku_4"),
        ],
        "user_recommendations": [
            user_recommendation_row("u1", "sku_7", rank=2, score=8),
            user_recommendation_row("u1", "sku_5", rank=1, score=12),
            user_recommendation_row("u4", "sku_6", rank=1),
            user_recommendation_row("u1", "sku_8", rank=3, score=3),
        ],
        "product_recommendations": [
            product_recommendation_row("sku_1", "sku_3", rank=2, n=4),
            product_recommendation_row("sku_1", "sku_2", rank=1, n=9),
            product_recommendation_row("sku_2", "sku_1", rank=1, n=9),
        ],
    }


def build(rows: dict[str, list[Row]], day: dt.date = DAY) -> Snapshot:
    return build_snapshot(day, **rows)


def test_one_document_per_user_found_in_any_user_table() -> None:
    snapshot = build(tables())

    assert sorted(snapshot.users) == ["u1", "u2", "u3", "u4"]
    assert sorted(snapshot.products) == ["sku_1", "sku_2"]
    assert snapshot.snapshot_date == DAY


def test_a_users_rows_are_grouped_with_recommendations_by_rank_and_history_by_product() -> None:
    u1 = UserDocument.model_validate_json(build(tables()).users["u1"])

    assert u1.profile is not None and u1.profile.searches == 12
    assert u1.profile.average_order_value == Decimal("23.40")
    assert [(r.product_id, r.rank, r.score) for r in u1.recommendations] == [
        ("sku_5", 1, 12.0),
        ("sku_7", 2, 8.0),
        ("sku_8", 3, 3.0),
    ]
    assert [(r.product_id, r.orders) for r in u1.reorder] == [("sku_2", 5), ("sku_9", 3)]


def test_a_user_with_some_tables_only_has_the_other_parts_empty() -> None:
    users = build(tables()).users

    u2, u3, u4 = (UserDocument.model_validate_json(users[u]) for u in ("u2", "u3", "u4"))

    assert u2.profile is not None and u2.profile.favourite_category is None
    assert (u2.reorder, u2.recommendations) == ([], [])
    assert (u3.profile, [r.product_id for r in u3.reorder], u3.recommendations) == (
        None,
        ["sku_4"],
        [],
    )
    assert (u4.profile, u4.reorder, [r.product_id for r in u4.recommendations]) == (
        None,
        [],
        ["sku_6"],
    )


def test_the_document_holds_no_key_column_nor_what_the_clock_changes() -> None:
    # snapshot_date and user_id are the keys; due_score, days_since_last and next_expected_on
    # are computed at answer time from last_ordered_on.
    document = build(tables()).users["u1"]

    for column in ("snapshot_date", "user_id", "due_score", "days_since_last", "next_expected_on"):
        assert f'"{column}"' not in document


def test_a_products_similar_products_are_ordered_by_rank() -> None:
    sku_1 = ProductDocument.model_validate_json(build(tables()).products["sku_1"])

    assert [(s.product_id, s.co_occurrences, s.rank) for s in sku_1.similar] == [
        ("sku_2", 9, 1),
        ("sku_3", 4, 2),
    ]


def test_rows_may_be_read_only_mappings_with_extra_columns() -> None:
    # google-cloud-bigquery's Row is a Mapping, not a dict; a new column is ignored.
    rows = {
        name: [MappingProxyType({**row, "added_later": "x"}) for row in table]
        for name, table in tables().items()
    }

    assert build(rows) == build(tables())  # type: ignore[arg-type]


def test_no_rows_is_an_empty_snapshot_with_an_id() -> None:
    empty = build_snapshot(
        DAY,
        user_profiles=[],
        reorder_predictions=[],
        user_recommendations=[],
        product_recommendations=[],
    )

    assert (empty.users, empty.products) == ({}, {})
    assert re.fullmatch(r"2026-11-27\.[0-9a-f]{16}", empty.id)


# --- Snapshot.id -------------------------------------------------------------------------------


def test_the_id_is_the_snapshot_date_and_a_16_hex_digest() -> None:
    assert re.fullmatch(r"2026-11-27\.[0-9a-f]{16}", build(tables()).id)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.randoms(use_true_random=False))
def test_the_id_does_not_depend_on_the_order_of_the_rows(random: Any) -> None:
    shuffled = tables()
    for rows in shuffled.values():
        random.shuffle(rows)

    assert build(shuffled).id == build(tables()).id


def _set(table: str, index: int, **values: Any) -> Callable[[dict[str, list[Row]]], None]:
    def change(rows: dict[str, list[Row]]) -> None:
        rows[table][index].update(values)

    return change


def _drop(table: str, index: int) -> Callable[[dict[str, list[Row]]], None]:
    def change(rows: dict[str, list[Row]]) -> None:
        del rows[table][index]

    return change


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_set("user_profiles", 0, searches=13), id="profile-count"),
        pytest.param(_set("user_profiles", 1, favourite_category="bakery"), id="profile-null"),
        pytest.param(_set("user_profiles", 0, user_id="u9"), id="profile-user"),
        pytest.param(_set("user_profiles", 0, average_order_value=Decimal("23.41")), id="aov"),
        pytest.param(
            _set("user_profiles", 0, intent_mix=[{"intent": "product_lookup", "share": 1.0}]),
            id="intent-mix",
        ),
        pytest.param(
            _set("reorder_predictions", 0, last_ordered_on=dt.date(2026, 11, 21)), id="last"
        ),
        pytest.param(_set("reorder_predictions", 1, mean_interval_days=7.4), id="interval"),
        pytest.param(_set("user_recommendations", 0, score=9), id="score"),
        pytest.param(_set("user_recommendations", 0, rank=4), id="rank"),
        pytest.param(_set("user_recommendations", 0, product_id="sku_0"), id="recommended"),
        pytest.param(_set("product_recommendations", 0, co_occurrences=5), id="co-occurrences"),
        pytest.param(_set("product_recommendations", 2, product_id="sku_3"), id="source-product"),
        pytest.param(_drop("reorder_predictions", 2), id="row-removed"),
        pytest.param(_drop("product_recommendations", 0), id="similar-removed"),
    ],
)
def test_the_id_changes_when_any_value_changes(
    change: Callable[[dict[str, list[Row]]], None],
) -> None:
    changed = tables()
    change(changed)

    assert build(changed).id != build(tables()).id


def test_the_id_changes_with_the_snapshot_date_alone() -> None:
    assert build(tables(), DAY + dt.timedelta(days=1)).id != build(tables()).id


def test_a_column_the_documents_do_not_keep_does_not_change_the_id() -> None:
    changed = tables()
    changed["reorder_predictions"][0]["due_score"] = 5.0

    assert build(changed).id == build(tables()).id


DOCUMENTS = st.dictionaries(
    st.text("abc:._", min_size=1, max_size=4), st.text('{}"ab,\\', max_size=6), max_size=4
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(DOCUMENTS, DOCUMENTS, DOCUMENTS, DOCUMENTS)
def test_equal_content_is_an_equal_id_and_only_then(
    users_a: dict[str, str],
    products_a: dict[str, str],
    users_b: dict[str, str],
    products_b: dict[str, str],
) -> None:
    a = Snapshot(DAY, users_a, products_a)
    b = Snapshot(DAY, users_b, products_b)
    reordered = Snapshot(DAY, dict(reversed(users_a.items())), dict(reversed(products_a.items())))

    assert reordered.id == a.id
    assert (a.id == b.id) == ((users_a, products_a) == (users_b, products_b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param(({"k": "v"}, {}), ({}, {"k": "v"}), id="user-vs-product"),
        pytest.param(({"ab": "c"}, {}), ({"a": "bc"}, {}), id="key-value-boundary"),
        pytest.param(({"a": "x", "b": "y"}, {}), ({"a": "y", "b": "x"}, {}), id="swapped"),
    ],
)
def test_content_that_concatenates_alike_has_different_ids(
    a: tuple[dict[str, str], dict[str, str]], b: tuple[dict[str, str], dict[str, str]]
) -> None:
    assert Snapshot(DAY, *a).id != Snapshot(DAY, *b).id
