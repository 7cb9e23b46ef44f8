"""The feature tables built night by night from ``user_daily``, each night rebuilding only its
last few days received, equal their full rebuild (the same query over ``user_daily``'s query of
the whole raw window, in one go), row for row, on every night of ``shop_day`` (D, D+1, D+2),
and the cases that make the proof bite are there: a session spanning midnight, late and early
events, a retry stored the next day.
"""

import datetime as dt
import json

import pytest

from event_capture.warehouse.catalog import (
    FEATURE_TABLES,
    PRODUCT_RECOMMENDATIONS,
    REORDER_PREDICTIONS,
    USER_DAILY,
    USER_PROFILES,
    ScheduledTable,
)
from event_capture.warehouse.full_rebuild import full_rebuild
from tests.integration.warehouse.conftest import DATASETS, Warehouse
from tests.integration.warehouse.shop_day import COFFEE, GRANOLA, OAT


def rows_by_day(warehouse: Warehouse, spec: ScheduledTable) -> dict[dt.date, list[str]]:
    """Every snapshot the nights wrote, each row as canonical JSON, sorted."""
    first, last = warehouse.snapshot_days[0], warehouse.snapshot_days[-1]
    rows = warehouse.query(
        f"SELECT * FROM `{DATASETS.events}.{spec.name}` "
        f"WHERE snapshot_date BETWEEN DATE '{first}' AND DATE '{last}'"
    )
    found: dict[dt.date, list[str]] = {day: [] for day in warehouse.snapshot_days}
    for row in rows:
        day = row.pop("snapshot_date")
        found[day].append(json.dumps(row, sort_keys=True, default=repr))
    return {day: sorted(day_rows) for day, day_rows in found.items()}


@pytest.mark.parametrize("spec", FEATURE_TABLES, ids=lambda spec: spec.name)
def test_every_night_the_incremental_table_equals_the_full_rebuild(
    warehouse: Warehouse, spec: ScheduledTable
) -> None:
    incremental = rows_by_day(warehouse, spec)
    full = rows_by_day(warehouse, full_rebuild(spec))

    assert all(full.values()), "every night must have rows to compare"
    assert incremental == full


def test_user_daily_counts_a_retry_once_at_its_copy_received_last(warehouse: Warehouse) -> None:
    # u3's cart of D+1 23:55 was stored again at D+2 03:00, after the run of D+2 had counted it
    # on D+1: the run of D+3 rebuilt D+1 without it and counts it on D+2.
    d = warehouse.day
    rows = warehouse.table(
        USER_DAILY.name,
        f"received_on >= DATE '{d + dt.timedelta(days=1)}' AND user_id = 'u3'",
    )
    # By (day received, day occurred), counted from D.
    days = {((r["received_on"] - d).days, (r["occurred_on"] - d).days): r for r in rows}

    assert {k: r["add_to_carts"] for k, r in days.items()} == {(1, 1): 0, (2, 1): 1, (2, 2): 0}
    # Oat viewed before midnight, coffee after.
    assert {k: r["product_views"] for k, r in days.items()} == {(1, 1): 1, (2, 1): 0, (2, 2): 1}
    assert {k: r["sessions"] for k, r in days.items()} == {k: ["s3-night"] for k in days}


def test_the_nights_cover_what_the_proof_is_about(warehouse: Warehouse) -> None:
    d1, d2 = warehouse.snapshot_days[1:]
    profiles = {
        day: {r.pop("user_id"): r for r in warehouse.snapshot(USER_PROFILES, day)}
        for day in (d1, d2)
    }
    # u1's session end of D+1 23:59 arrived at D+2 00:20, before the run: D+1 sees it.
    assert profiles[d1]["u1"]["last_seen"] == dt.datetime.combine(d1, dt.time(23, 59), dt.UTC)
    # u2's coffee view stamped D+2 08:00 (received on D+1) and voice request of D+1 20:00
    # (received on D+2 09:00, after the run) count only on D+2.
    assert (profiles[d1]["u2"]["product_views"], profiles[d2]["u2"]["product_views"]) == (2, 3)
    assert (profiles[d1]["u2"]["voice_interactions"], profiles[d2]["u2"]["voice_interactions"]) == (
        1,
        2,
    )
    # u3: s3 and s3-night, once each although s3-night spans two days received.
    assert profiles[d2]["u3"]["sessions"] == 2
    assert profiles[d2]["u3"]["add_to_carts"] == 1
    # u6's session start of D-3, five days late, is in the session u6 already had.
    assert profiles[d2]["u6"]["sessions"] == profiles[d1]["u6"]["sessions"] == 8

    # s3-night holds oat and coffee across midnight: one basket, one more co-occurrence.
    pairs = {
        day: {
            (r["product_id"], r["recommended_product_id"]): r["co_occurrences"]
            for r in warehouse.snapshot(PRODUCT_RECOMMENDATIONS, day)
        }
        for day in (d1, d2)
    }
    assert pairs[d1][(OAT, COFFEE)] == 1
    assert pairs[d2][(OAT, COFFEE)] == 2
    assert pairs[d2][(COFFEE, GRANOLA)] == 3  # s2, s3, order-n2

    reorder = {
        (r["user_id"], r["product_id"]): r["orders"]
        for r in warehouse.snapshot(REORDER_PREDICTIONS, d2)
    }
    assert reorder == {("u1", OAT): 4, ("u2", COFFEE): 3}
