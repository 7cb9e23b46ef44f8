"""BigQuery's logical bytes, worked out in SQL on the tables themselves (the emulator's or any).

BigQuery bills streaming, storage and on-demand queries by logical size, which its pricing
page defines per data type ("data size calculation"): STRING and BYTES 2 bytes plus their
length (UTF-8 bytes for STRING), INT64, FLOAT64, TIMESTAMP, DATE 8, NUMERIC 16, BOOL 1, a
RECORD the sum of its fields, a REPEATED column the sum of its elements, NULL 0. The emulator
keeps the values but not that size (its numBytes is 8 bytes per column and row), so the size is
computed from the values here, the same way for a streamed row, a stored table and a script's
reads.

A script's reads: for each statement, each table it reads (``cost.reads``), the rows in the
partitions its filter selects and the bytes of the columns it names in them. The emulator
neither prunes partitions nor reports bytes billed, so they are counted in the data instead.
"""

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from google.cloud import bigquery

from event_capture.cost.reads import reads
from event_capture.warehouse.render import Datasets, scheduled_query

FIXED_BYTES = {"INTEGER": 8, "FLOAT": 8, "TIMESTAMP": 8, "DATE": 8, "NUMERIC": 16, "BOOLEAN": 1}
# Every raw read also names these, in the dedup SQL a view stands for (not in the script).
DEDUP_COLUMNS = frozenset({"event_id", "received_at"})


def size_sql(column: bigquery.SchemaField, path: str, names: frozenset[str] | None = None) -> str:
    """SQL for one row's logical bytes of ``column`` at ``path``: of the subfields in ``names``
    only, or of all of them when ``names`` is None."""
    if column.mode == "REPEATED":
        element = bigquery.SchemaField(
            column.name, column.field_type, "NULLABLE", fields=column.fields
        )
        elements = size_sql(element, "x", names)
        return f"COALESCE((SELECT SUM({elements}) FROM UNNEST({path}) AS x), 0)"  # noqa: S608
    if column.field_type == "RECORD":
        parts = [
            size_sql(f, f"{path}.{f.name}", names)
            for f in column.fields
            if names is None or f.name in names
        ]
        return " + ".join(parts) or "0"
    if column.field_type in ("STRING", "BYTES"):
        return f"COALESCE(2 + BYTE_LENGTH({path}), 0)"
    return f"IF({path} IS NULL, 0, {FIXED_BYTES[column.field_type]})"


def row_size_sql(
    schema: Iterable[bigquery.SchemaField], names: frozenset[str] | None = None
) -> str:
    """SQL for a whole row's logical bytes (of the columns in ``names``, when given)."""
    sizes = [
        size_sql(column, f"`{column.name}`", names)
        for column in schema
        if names is None or column.name in names
    ]
    return " + ".join(sizes) or "0"


@dataclass(frozen=True)
class Scanned:
    rows: int
    bytes: int

    def __add__(self, other: "Scanned") -> "Scanned":
        return Scanned(self.rows + other.rows, self.bytes + other.bytes)


NOTHING = Scanned(0, 0)


@dataclass(frozen=True, kw_only=True)
class TableRead:
    """What one statement of a script reads of one table (one partition bound)."""

    statement: int
    table: str
    scanned: Scanned


def statements(script: str) -> list[str]:
    """A script's statements: the SQL files end each with a semicolon at the end of a line, and
    hold no other semicolon outside comments."""
    found: list[str] = []
    lines: list[str] = []
    for line in script.splitlines():
        lines.append(line)
        if line.split("--", 1)[0].rstrip().endswith(";"):
            found.append("\n".join(lines).strip().removesuffix(";"))
            lines = []
    rest = "\n".join(lines).strip()
    return [*found, *([rest] if rest else [])]


def _words(sql: str) -> frozenset[str]:
    return frozenset(re.findall(r"\w+", re.sub(r"--[^\n]*", "", sql))) | DEDUP_COLUMNS


def table_reads(
    client: bigquery.Client, script: str, datasets: Datasets, run_date: dt.date
) -> list[TableRead]:
    """Every table read by each statement of ``script``, with the rows in the partitions it
    selects and the logical bytes of the columns the statement names in them."""
    found = []
    for index, statement in enumerate(statements(script)):
        words = _words(statement)
        for read in reads(statement, datasets):
            if read.partitions is None:
                raise ValueError(f"{read.table} is read without a partition filter")
            schema = client.get_table(read.table).schema
            [row] = client.query(
                f"SELECT COUNT(*) AS n, COALESCE(SUM({row_size_sql(schema, words)}), 0) AS bytes "  # noqa: S608 - names from the catalog
                f"FROM `{read.table}` WHERE {read.partitions}",
                job_config=run_date_config(run_date),
            ).result()
            found.append(
                TableRead(
                    statement=index,
                    table=read.table,
                    scanned=Scanned(int(row["n"]), int(row["bytes"])),
                )
            )
    return found


def scanned(client: bigquery.Client, script: str, datasets: Datasets, run_date: dt.date) -> Scanned:
    """Everything ``script`` reads, all statements together."""
    total = NOTHING
    for read in table_reads(client, script, datasets, run_date):
        total += read.scanned
    return total


def table_size(client: bigquery.Client, table: str, partition_field: str) -> tuple[Scanned, int]:
    """Rows and logical bytes of all of ``table``'s rows, and the partitions they fill."""
    schema = client.get_table(table).schema
    # The filter reads every partition; the tables require one.
    [row] = client.query(
        f"SELECT COUNT(*) AS n, COALESCE(SUM({row_size_sql(schema)}), 0) AS bytes, "  # noqa: S608 - names from the catalog
        f"COUNT(DISTINCT `{partition_field}`) AS partitions "
        f"FROM `{table}` WHERE `{partition_field}` IS NOT NULL"
    ).result()
    return Scanned(int(row["n"]), int(row["bytes"])), int(row["partitions"])


def run_date_config(run_date: dt.date) -> bigquery.QueryJobConfig:
    return scheduled_query("").job_config(run_date=run_date)
