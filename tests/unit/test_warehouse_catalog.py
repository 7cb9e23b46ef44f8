"""The warehouse catalog: every SQL file is used, and rendering fills every placeholder."""

import re

import pytest

from event_capture.warehouse.catalog import (
    DATA_QUALITY,
    SCHEDULED_TABLES,
    SQL_DIR,
    VIEWS,
    Datasets,
    render,
    scheduled_sql,
    view_sql,
)

DATASETS = Datasets("p.events", "p.analytics")
# Read by name rather than through a View or ScheduledTable.
HELPERS = {"dedup.sql", "replace_partition.sql", "data_quality_alert.sql"}


def test_every_sql_file_is_a_view_a_scheduled_table_or_a_named_helper() -> None:
    used = {view.sql_file for view in VIEWS} | {spec.sql_file for spec in SCHEDULED_TABLES}

    assert {path.name for path in SQL_DIR.glob("*.sql")} == used | HELPERS


def test_rendered_sql_has_no_placeholder_left() -> None:
    rendered = [view_sql(view, DATASETS) for view in VIEWS] + [
        scheduled_sql(spec, DATASETS) for spec in SCHEDULED_TABLES
    ]

    for sql in rendered:
        assert "${" not in sql
        names = re.findall(r"`([^`]*)`", sql)
        assert names, sql[:80]
        assert all(re.fullmatch(r"p\.(events|analytics)\.\w+", name) for name in names), names


def test_an_unknown_placeholder_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(KeyError, match="table"):
        render("dedup.sql", DATASETS)  # dedup.sql needs the table it reads


def test_scheduled_scripts_replace_the_day_before_their_run_date() -> None:
    for spec in SCHEDULED_TABLES:
        script = scheduled_sql(spec, DATASETS)
        assert script.startswith("-- A scheduled run"), spec.name
        assert (
            f"DELETE FROM `{'p.events' if spec.dataset == 'events' else 'p.analytics'}"
            f".{spec.name}`\nWHERE {spec.partition_field} = DATE_SUB(@run_date, INTERVAL 1 DAY);"
        ) in script
        columns = ", ".join(c.name for c in spec.columns)
        assert f"({columns})" in script
    assert "data_quality_failed" in scheduled_sql(DATA_QUALITY, DATASETS)


def test_k_is_rendered_into_the_search_aggregate() -> None:
    sql = render("search_daily.sql", Datasets("p.events", "p.analytics", min_users=12))

    assert "HAVING COUNT(DISTINCT s.user_id) >= 12" in sql
