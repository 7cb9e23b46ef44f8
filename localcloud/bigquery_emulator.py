"""local-bigquery's command line, with its insertId cache made safe for concurrent inserts.

Run by the emulator's own venv (not the project's): ``python localcloud/bigquery_emulator.py
serve ...``. local-bigquery 0.4.0 expires the entries of its de-duplication cache from every
insert thread at once (``catalog/tabledata.py``, ``_deduplicate``): two concurrent inserts
delete the same expired key, and one of them answers HTTP 500 "Internal error: KeyError" with
the reason ``dontRetry``. BigQuery has no such race, and the capture function writes a batch's
tables in parallel, so the local cloud serializes that one function. Remove this file when a
release of local-bigquery fixes it (the pin is in requirements/bigquery-emulator.txt).
"""

import sys
import threading
from typing import Any

from local_bigquery.catalog import tabledata
from local_bigquery.cli import main

_lock = threading.Lock()
_deduplicate = tabledata._deduplicate


def _serialized(table: str, rows: list[Any]) -> list[Any]:
    with _lock:
        result: list[Any] = _deduplicate(table, rows)
        return result


tabledata._deduplicate = _serialized

if __name__ == "__main__":
    sys.exit(main())
