"""Each feature table's full rebuild: its query as it ran before ``user_daily``, over the whole
window of the ``_dedup`` views. Nothing deploys it: the tests prove the incremental tables equal
to it and the benchmark measures what each reads.
"""

from dataclasses import replace

from event_capture.warehouse.catalog import FEATURE_TABLES, ScheduledTable


def full_rebuild(spec: ScheduledTable) -> ScheduledTable:
    """A feature table's query as it ran before ``user_daily``, over the whole window of the
    ``_dedup`` views (``<name>_full.sql``), as a table of its own with the same columns,
    ``<name>_full``. Nothing deploys it: the tests prove the incremental table equal to it and
    the benchmark measures what each reads.
    """
    if spec not in FEATURE_TABLES:
        raise ValueError(f"{spec.name} has no full rebuild")
    return replace(spec, name=f"{spec.name}_full")
