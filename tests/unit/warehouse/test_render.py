"""The warehouse SQL rendered: every placeholder filled, each script replacing what it rebuilds
and reading only the partitions it needs."""

import re

import pytest

from event_capture.cost.reads import Read, reads
from event_capture.schemas.retention import RETENTION_DAYS
from event_capture.warehouse.catalog import (
    ACTIVITY_TABLES,
    DATA_QUALITY,
    FEATURE_TABLES,
    IDENTITY_LINKS,
    PARTIAL_SINCE_DAYS,
    PARTIAL_TABLES,
    SCHEDULED_TABLES,
    USER_DAILY,
    USER_RECOMMENDATIONS,
    VIEW_SINCE,
    VIEWS,
    received_since,
)
from event_capture.warehouse.render import (
    SESSION_CONTEXT_DAYS,
    Datasets,
    backfill_sql,
    render,
    scheduled_sql,
    view_sql,
)

DATASETS = Datasets("p.events", "p.analytics")
RAW = {f"p.events.{table}" for table in ACTIVITY_TABLES}
# Every device's user, from the links' whole window: a small table, read by the features.
LINKS = Read(f"p.events.{IDENTITY_LINKS}", f"received_at >= {VIEW_SINCE}")


def test_rendered_sql_has_no_placeholder_left() -> None:
    rendered = [view_sql(view, DATASETS) for view in VIEWS]
    rendered += [scheduled_sql(spec, DATASETS) for spec in SCHEDULED_TABLES]
    rendered.append(backfill_sql(DATASETS))

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
        if spec in PARTIAL_TABLES:
            continue
        script = scheduled_sql(spec, DATASETS)
        assert script.startswith("-- A scheduled run"), spec.name
        assert (
            f"DELETE FROM `{'p.events' if spec.dataset == 'events' else 'p.analytics'}"
            f".{spec.name}`\nWHERE {spec.partition_field} = DATE_SUB(@run_date, INTERVAL 1 DAY);"
        ) in script
        columns = ", ".join(c.name for c in spec.columns)
        assert f"({columns})" in script
    assert "data_quality_failed" in scheduled_sql(DATA_QUALITY, DATASETS)


def test_a_partial_tables_run_replaces_the_days_it_rebuilds_and_the_backfill_the_window() -> None:
    nightly = scheduled_sql(USER_DAILY, DATASETS)
    backfill = backfill_sql(DATASETS)

    replaced = "DELETE FROM `p.events.user_daily`\nWHERE received_on BETWEEN DATE_SUB(@run_date, "
    assert f"{replaced}INTERVAL 2 DAY) AND @run_date;" in nightly
    assert f"{replaced}INTERVAL {RETENTION_DAYS} DAY) AND @run_date;" in backfill
    assert {r.partitions for r in reads(backfill, DATASETS)} == {
        f"received_at >= {received_since(RETENTION_DAYS + SESSION_CONTEXT_DAYS)}"
    }


def test_the_nightly_feature_builds_read_a_few_raw_days_and_no_raw_window() -> None:
    # user_daily: the days it rebuilds and the one before (where a derived session may start)
    # of every activity table, nothing else.
    since = received_since(PARTIAL_SINCE_DAYS + SESSION_CONTEXT_DAYS)
    for partial in PARTIAL_TABLES:
        assert sorted(reads(scheduled_sql(partial, DATASETS), DATASETS), key=str) == sorted(
            (Read(table, f"received_at >= {since}") for table in RAW), key=str
        )
    # The features: user_daily's window (a week for user_recommendations) and the links, no
    # raw activity.
    window = Read("p.events.user_daily", "received_on >= DATE_SUB(@run_date, INTERVAL 90 DAY)")
    for spec in FEATURE_TABLES:
        found = reads(scheduled_sql(spec, DATASETS), DATASETS)
        assert not RAW & {r.table for r in found}, spec.name
        assert all(r.partitions for r in found), spec.name
        if spec is not USER_RECOMMENDATIONS:
            assert sorted(found, key=str) == sorted([window, LINKS], key=str), spec.name


def test_k_is_rendered_into_the_search_aggregate() -> None:
    sql = render("search_daily.sql", Datasets("p.events", "p.analytics", min_users=12))

    assert "HAVING COUNT(DISTINCT s.trusted_user_id) >= 12" in sql
