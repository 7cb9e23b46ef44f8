"""local-bigquery's command line, with its insertId cache made safe for concurrent inserts and
STRUCT fields named from their columns as BigQuery names them.

Run by the emulator's own venv (not the project's): ``python localcloud/bigquery_emulator.py
serve ...``. local-bigquery 0.4.0 expires the entries of its de-duplication cache from every
insert thread at once (``catalog/tabledata.py``, ``_deduplicate``): two concurrent inserts
delete the same expired key, and one of them answers HTTP 500 "Internal error: KeyError" with
the reason ``dontRetry``. BigQuery has no such race, and the capture function writes a batch's
tables in parallel, so the local cloud serializes that one function.

In BigQuery ``STRUCT(1, t.str_col)`` is a ``STRUCT<INT64, str_col STRING>``: a field given as a
column takes the column's name ("typeless struct syntax"). local-bigquery 0.4.0 leaves such a
field unnamed (``sql/rules/arrays.py``, ``anonymous_structs``), so a query that builds
``ARRAY_AGG(STRUCT(intent, events))`` and reads ``intent`` back fails on the emulator ("unnamed
struct"). Storing the array first hid it, since a table's schema names the fields; a full
rebuild (``event_capture.warehouse.full_rebuild``) reads ``user_daily``'s query directly.

Remove each patch when a release of local-bigquery fixes it (the pin is in
requirements/bigquery-emulator.txt).
"""

import sys
import threading
from typing import Any

from local_bigquery.catalog import tabledata
from local_bigquery.cli import main
from local_bigquery.sql import rules
from local_bigquery.sql.rules import arrays
from sqlglot import exp

_lock = threading.Lock()
_deduplicate = tabledata._deduplicate


def _serialized(table: str, rows: list[Any]) -> list[Any]:
    with _lock:
        result: list[Any] = _deduplicate(table, rows)
        return result


tabledata._deduplicate = _serialized


def _struct_fields_named_from_columns(tree: exp.Expression, context: Any) -> exp.Expression:
    for struct in list(tree.find_all(exp.Struct)):
        if isinstance(struct.parent, exp.Cast):
            continue  # STRUCT<a INT64>(x): the type names the fields
        for field in list(struct.expressions):
            if isinstance(field, exp.Column) and not isinstance(field.this, exp.Star):
                name = exp.to_identifier(field.name)
                field.replace(exp.PropertyEQ(this=name, expression=field.copy()))
    return tree


# Before anonymous_structs, which turns a STRUCT without named fields into an unnamed ROW. The
# translator holds this very list.
rules.STATEMENT_RULES.insert(
    rules.STATEMENT_RULES.index(arrays.anonymous_structs), _struct_fields_named_from_columns
)

if __name__ == "__main__":
    sys.exit(main())
