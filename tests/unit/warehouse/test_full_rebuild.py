"""The full rebuilds: each the deployed feature query, its partial table computed from the raw
window in one go."""

import re

import pytest

from event_capture.cost.reads import reads
from event_capture.schemas.retention import RETENTION_DAYS
from event_capture.warehouse.catalog import (
    ACTIVITY_TABLES,
    FEATURE_TABLES,
    IDENTITY_LINKS,
    SCHEDULED_TABLES,
    USER_DAILY,
    VIEW_SINCE,
    ScheduledTable,
    received_since,
)
from event_capture.warehouse.full_rebuild import full_rebuild, full_rebuild_sql
from event_capture.warehouse.render import (
    SESSION_CONTEXT_DAYS,
    Datasets,
    partial_query,
    scheduled_sql,
)

DATASETS = Datasets("p.events", "p.analytics")
RAW = {f"p.events.{table}" for table in ACTIVITY_TABLES}
LINKS = f"p.events.{IDENTITY_LINKS}"


def test_a_full_rebuild_has_no_placeholder_left() -> None:
    for spec in FEATURE_TABLES:
        sql = full_rebuild_sql(spec, DATASETS)
        assert "${" not in sql
        names = re.findall(r"`([^`]*)`", sql)
        assert all(re.fullmatch(r"p\.events\.\w+", name) for name in names), names


@pytest.mark.parametrize("spec", FEATURE_TABLES, ids=lambda spec: spec.name)
def test_a_full_rebuild_is_the_deployed_script_with_user_daily_computed_in_place(
    spec: ScheduledTable,
) -> None:
    inlined = "(\n" + partial_query(USER_DAILY, DATASETS, RETENTION_DAYS) + "\n)"
    script = full_rebuild_sql(spec, DATASETS)

    assert inlined in script
    deployed = script.replace(inlined, "`p.events.user_daily`").replace(
        f"`p.events.{spec.name}_full`", f"`p.events.{spec.name}`"
    )
    assert deployed == scheduled_sql(spec, DATASETS)


def test_a_full_rebuild_reads_the_raw_window_and_no_partial_table() -> None:
    for spec in FEATURE_TABLES:
        found = reads(full_rebuild_sql(spec, DATASETS), DATASETS)
        assert {r.table for r in found} >= RAW, spec.name
        assert "p.events.user_daily" not in {r.table for r in found}, spec.name
        # The window and the day before it, where a derived session may start; and the links.
        assert {r.partitions for r in found if r.table in RAW} == {
            f"received_at >= {received_since(RETENTION_DAYS + SESSION_CONTEXT_DAYS)}"
        }
        assert {r.partitions for r in found if r.table == LINKS} == {f"received_at >= {VIEW_SINCE}"}


def test_only_a_feature_table_has_a_full_rebuild() -> None:
    for spec in SCHEDULED_TABLES:
        if spec not in FEATURE_TABLES:
            with pytest.raises(ValueError, match=spec.name):
                full_rebuild(spec)
    assert [full_rebuild(spec).name for spec in FEATURE_TABLES] == [
        f"{spec.name}_full" for spec in FEATURE_TABLES
    ]
