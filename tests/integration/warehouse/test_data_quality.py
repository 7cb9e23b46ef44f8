"""The daily data-quality run on ``shop_day``: its rows, its failure message, its re-runs."""

import datetime as dt

import pytest
from google.api_core.exceptions import BadRequest
from google.cloud import bigquery

from event_capture.warehouse.catalog import DATA_QUALITY
from event_capture.warehouse.render import render
from localcloud.warehouse import run_scheduled
from tests.integration.warehouse.conftest import DATASETS, Warehouse

FAMILIES = ("orders", "product_interactions", "searches", "sessions", "voice_interactions")
# (rule, family, field) -> (value, threshold, passed, rows_checked), worked out from shop_day.
EXPECTED = {
    # Events that occurred on D against the median of D-7..D-1 (empty days count as 0): only
    # searches and sessions have a history (2 a day); sessions had none on D.
    ("volume_vs_7_day_median", "searches", None): (11.5, 0.5, True, 23),
    ("volume_vs_7_day_median", "sessions", None): (0.0, 0.5, False, 0),
    ("volume_vs_7_day_median", "product_interactions", None): (None, 0.5, True, 12),
    ("volume_vs_7_day_median", "orders", None): (None, 0.5, True, 2),
    ("volume_vs_7_day_median", "voice_interactions", None): (None, 0.5, True, 2),
    # Copies received on D: 38 searches (one stored twice), the rest once.
    ("duplicate_event_id_rate", "searches", None): (1 / 38, 0.01, False, 38),
    ("duplicate_event_id_rate", "product_interactions", None): (0.0, 0.01, True, 12),
    ("duplicate_event_id_rate", "orders", None): (0.0, 0.01, True, 6),
    ("duplicate_event_id_rate", "sessions", None): (0.0, 0.01, True, 14),
    ("duplicate_event_id_rate", "voice_interactions", None): (0.0, 0.01, True, 2),
    # Received on D, occurred a day or more before: the history, and 4 of the 6 orders.
    ("late_arrival_rate", "searches", None): (14 / 38, 0.05, False, 38),
    ("late_arrival_rate", "sessions", None): (1.0, 0.05, False, 14),
    ("late_arrival_rate", "orders", None): (4 / 6, 0.05, False, 6),
    ("late_arrival_rate", "product_interactions", None): (0.0, 0.05, True, 12),
    ("late_arrival_rate", "voice_interactions", None): (0.0, 0.05, True, 2),
    ("null_rate", "searches", "latency_ms"): (0.0, 0.05, True, 37),
    ("null_rate", "product_interactions", "category"): (0.0, 0.05, True, 12),
    ("null_rate", "voice_interactions", "language"): (0.5, 0.05, False, 2),  # v2 has none
    ("order_total_mismatch_rate", "orders", "total"): (1 / 6, 0.0, False, 6),  # o3: 9.50 != 9.00
    # Clicks naming a search: p2, p5, anon_click and p10, whose search does not exist.
    ("orphan_click_rate", "product_interactions", "search_event_id"): (1 / 4, 0.05, False, 4),
    # "weather", among the 32 searches that carry an intent (the 5 "granola bars" have none).
    ("unknown_intent_rate", "searches", "intent"): (1 / 32, 0.05, True, 32),
}
FAILED = [key for key, (_, _, passed, _) in EXPECTED.items() if not passed]


Key = tuple[str, str, str | None]


def results(warehouse: Warehouse) -> dict[Key, tuple[object, ...]]:
    rows = warehouse.snapshot(DATA_QUALITY)
    found: dict[Key, tuple[object, ...]] = {
        (r["rule"], r["family"], r["field"]): (
            r["value"],
            r["threshold"],
            r["passed"],
            r["rows_checked"],
        )
        for r in rows
    }
    assert len(found) == len(rows), "one row per rule, family and field"
    return found


def test_every_rule_measures_the_day_against_its_threshold(warehouse: Warehouse) -> None:
    found = results(warehouse)

    assert found.keys() == EXPECTED.keys()
    for key, (value, threshold, passed, rows_checked) in EXPECTED.items():
        assert found[key] == (pytest.approx(value), threshold, passed, rows_checked), key


def test_a_failed_rule_fails_the_run_with_every_failed_rule_named(warehouse: Warehouse) -> None:
    named = ", ".join(
        f"{rule} {family}{'.' + field if field else ''}" for rule, family, field in sorted(FAILED)
    )

    assert warehouse.quality_failures == [f"data_quality_failed: {named}"]


def test_a_rerun_replaces_the_days_results_instead_of_adding_to_them(
    warehouse: Warehouse,
) -> None:
    with pytest.raises(BadRequest, match="data_quality_failed"):
        run_scheduled(
            warehouse.client, DATA_QUALITY, DATASETS, warehouse.day + dt.timedelta(days=1)
        )

    assert results(warehouse).keys() == EXPECTED.keys()


def test_a_day_whose_rules_all_passed_does_not_fail(warehouse: Warehouse) -> None:
    passed_day = warehouse.day + dt.timedelta(days=30)
    warehouse.query(
        f"INSERT INTO `{DATASETS.analytics}.data_quality` "
        "(check_date, rule, family, field, value, threshold, passed, rows_checked) "
        f"VALUES (DATE '{passed_day.isoformat()}', 'null_rate', 'searches', 'latency_ms', "
        "0.0, 0.05, TRUE, 3)"
    )
    job = warehouse.client.query(
        render("data_quality_alert.sql", DATASETS),
        job_config=bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter("run_date", "DATE", passed_day + dt.timedelta(days=1))
            ]
        ),
    )

    assert [row["outcome"] for row in job.result()] == ["data_quality_passed"]
