"""Reading the checked-in table definitions; used by the infrastructure and the local bootstrap."""

import json
from pathlib import Path
from typing import Any

TABLES_DIR = Path(__file__).parent / "tables"


def table_path(table_id: str) -> Path:
    return TABLES_DIR / f"{table_id}.json"


def load_table_definitions() -> list[dict[str, Any]]:
    """Every event table, in file-name order."""
    return [json.loads(path.read_text()) for path in sorted(TABLES_DIR.glob("*.json"))]
