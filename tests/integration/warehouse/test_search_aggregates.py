"""search_daily: anonymized daily search aggregates, on ``shop_day``."""

import datetime as dt

from google.cloud import bigquery

from event_capture.warehouse.catalog import SEARCH_DAILY
from event_capture.warehouse.render import Datasets, render
from tests.integration.warehouse.conftest import DATASETS, Warehouse


def test_searches_aggregate_per_normalized_query_and_intent(warehouse: Warehouse) -> None:
    rows = sorted(warehouse.snapshot(SEARCH_DAILY), key=lambda r: r["normalized_query"])

    assert rows == [
        # Segment's spec searches: no intent (kept as NULL, not dropped), no result count (no
        # zero-result rate). u1..u4 and dev-a, linked to u7: 5 trusted users. dev-a's search
        # led to its click and cart.
        {
            "normalized_query": "granola bars",
            "intent": None,
            "searches": 5,
            "users": 5,
            "zero_result_rate": None,
            "click_through_rate": 1 / 5,
            "add_to_cart_rate": 1 / 5,
            "searches_with_result_count": 0,
        },
        # "oat milk" in five spellings: 7 searches by u1 (twice), u2..u5 (u5 twice); of the 6
        # that reported a result count, u5's first found nothing; u1's first search led to a
        # click and a cart addition, u2's to a click.
        {
            "normalized_query": "oat milk",
            "intent": "product_lookup",
            "searches": 7,
            "users": 5,
            "zero_result_rate": 1 / 6,
            "click_through_rate": 2 / 7,
            "add_to_cart_rate": 1 / 7,
            "searches_with_result_count": 6,
        },
        # "track 1234567" and "Track 7654321" are one query once the digits are masked.
        {
            "normalized_query": "track #",
            "intent": "order_status",
            "searches": 5,
            "users": 5,
            "zero_result_rate": 0.0,
            "click_through_rate": 0.0,
            "add_to_cart_rate": 0.0,
            "searches_with_result_count": 5,
        },
    ]


def test_aggregates_hold_no_user_or_session_id(warehouse: Warehouse) -> None:
    columns = {c.name for c in SEARCH_DAILY.columns}
    table = warehouse.client.get_table(f"{DATASETS.analytics}.search_daily")

    assert not {"user_id", "session_id", "event_id"} & columns
    assert {f.name for f in table.schema} == columns


def test_the_minimum_of_distinct_users_comes_from_config(warehouse: Warehouse) -> None:
    # "gluten free bread" (u1..u4, and dev-forged, linked to no one: 4 trusted users) is dropped
    # at the default k=5, although 5 ids searched it, and kept at k=4; "apples" on D (u6
    # alone) is kept by neither.
    sql = render(SEARCH_DAILY.sql_file, Datasets(DATASETS.events, DATASETS.analytics, 4))
    job = warehouse.client.query(
        sql,
        job_config=bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter(
                    "run_date", "DATE", warehouse.day + dt.timedelta(days=1)
                )
            ]
        ),
    )
    kept = {(row["normalized_query"], row["users"], row["searches"]) for row in job.result()}

    # dev-forged's search is in the total, not in k.
    assert kept == {
        ("oat milk", 5, 7),
        ("track #", 5, 5),
        ("gluten free bread", 4, 5),
        ("granola bars", 5, 5),
    }
