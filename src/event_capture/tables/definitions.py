"""Reading the checked-in table definitions; used by the infrastructure and the local cloud."""

import json
from pathlib import Path
from typing import Any

# The JSON files sit beside this module, one per table.
TABLES_DIR = Path(__file__).parent


def table_path(table_id: str) -> Path:
    return TABLES_DIR / f"{table_id}.json"


def load_table_definitions() -> list[dict[str, Any]]:
    """Every event table, in file-name order."""
    return [json.loads(path.read_text()) for path in sorted(TABLES_DIR.glob("*.json"))]
