"""The warehouse catalog: every SQL file is used, and the partial tables run first."""

from event_capture.warehouse.catalog import (
    FEATURE_TABLES,
    PARTIAL_TABLES,
    SCHEDULED_TABLES,
    VIEWS,
)
from event_capture.warehouse.render import SQL_DIR

# Read by name rather than through a View or ScheduledTable.
HELPERS = {
    "dedup.sql",
    "replace_partition.sql",
    "rebuild_received_days.sql",
    "data_quality_alert.sql",
    "device_users.sql",
    "sessionize.sql",
    "stitched.sql",
}


def test_every_sql_file_is_a_view_a_scheduled_table_or_a_named_helper() -> None:
    used = {view.sql_file for view in VIEWS} | {spec.sql_file for spec in SCHEDULED_TABLES}

    assert {path.name for path in SQL_DIR.glob("*.sql")} == used | HELPERS


def test_partial_tables_run_before_the_features_summing_them() -> None:
    for partial in PARTIAL_TABLES:
        assert all(partial.schedule < spec.schedule for spec in FEATURE_TABLES)
