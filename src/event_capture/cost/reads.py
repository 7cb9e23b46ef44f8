"""What a warehouse script reads: each table and the partitions its filter selects, found in the
rendered SQL. That is what BigQuery scans (and bills) for it; ``sizes`` counts those rows and
bytes on the emulator, which neither prunes partitions nor reports bytes billed.
"""

import re
from dataclasses import dataclass

from event_capture.warehouse.catalog import (
    EVENT_TABLES,
    SCHEDULED_TABLES,
    VIEWS,
)
from event_capture.warehouse.render import Datasets, table_name, view_sql


@dataclass(frozen=True)
class Read:
    """A table a script reads, and the condition on its partitioning column that bounds the
    partitions read (None: all of them).
    """

    table: str
    partitions: str | None


# A backquoted table after FROM or JOIN (not a DELETE's target), and the WHERE right after it,
# which the SQL files keep on one line when it bounds the partitions.
_READ = re.compile(
    r"(?<!DELETE )\b(?:FROM|JOIN)\s+`(?P<table>[^`]+)`(?:\s+AS\s+\w+)?"
    r"(?:,\s*UNNEST\([^)]*\)\s+AS\s+\w+)?"
    r"(?:\s+WHERE\s+(?:\w+\.)?(?P<column>\w+)\s+(?P<bound>[^\n]+))?"
)


def reads(script: str, datasets: Datasets) -> list[Read]:
    """Every table ``script`` reads, once per bound, a view standing for what its own SQL reads:
    what BigQuery scans (and bills) for it. Partition pruning needs the bound on the partitioning
    column itself; a filter on any other column reads every partition.
    """
    views = {f"{datasets.of(view.dataset)}.{view.name}": view for view in VIEWS}
    partitioning = {f"{datasets.events}.{table}": "received_at" for table in EVENT_TABLES} | {
        table_name(spec, datasets): spec.partition_field for spec in SCHEDULED_TABLES
    }
    found: list[Read] = []
    for match in _READ.finditer(script):
        table = match["table"]
        if table in views:
            expanded = reads(view_sql(views[table], datasets), datasets)
        else:
            bounded = match["column"] is not None and match["column"] == partitioning.get(table)
            bound = f"{match['column']} {match['bound'].rstrip(';')}" if bounded else None
            expanded = [Read(table, bound)]
        found += [read for read in expanded if read not in found]
    return found
