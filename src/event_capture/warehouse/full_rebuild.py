"""Each feature table computed in one go from the raw events of the whole window: what its table,
built night by night from ``user_daily``, must equal.

A feature query reads its partial table through a placeholder (``${user_daily}``). Deployed, the
placeholder names the table, of which each night rebuilds only the last few days received; in a
full rebuild it is the partial table's own query, inlined over the whole retention window of
the raw partitions (the backfill's query). The rest is the deployed SQL itself, so the tests
that prove the incremental tables equal to their full rebuild, and the benchmark that measures
what each reads, hold no copy of the feature queries. Nothing deploys a full rebuild.
"""

from dataclasses import replace

from event_capture.schemas.retention import RETENTION_DAYS
from event_capture.warehouse.catalog import FEATURE_TABLES, PARTIAL_TABLES, ScheduledTable
from event_capture.warehouse.render import Datasets, partial_query, render, replace_partition_sql


def full_rebuild(spec: ScheduledTable) -> ScheduledTable:
    """The table a feature table's full rebuild writes: ``<name>_full``, with the same columns
    and partitioning. Its script is ``full_rebuild_sql``.
    """
    if spec not in FEATURE_TABLES:
        raise ValueError(f"{spec.name} has no full rebuild")
    return replace(spec, name=f"{spec.name}_full")


def full_rebuild_sql(spec: ScheduledTable, datasets: Datasets) -> str:
    """The script that replaces ``<name>_full``'s partition of the day before ``@run_date`` with
    the feature's deployed query, each partial table it reads computed from the raw window.
    """
    whole_window = {
        partial.name: "(\n" + partial_query(partial, datasets, RETENTION_DAYS) + "\n)"
        for partial in PARTIAL_TABLES
    }
    query = render(spec.sql_file, datasets, **whole_window)
    return replace_partition_sql(full_rebuild(spec), datasets, query)
