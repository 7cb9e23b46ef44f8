"""Reading a ``Pulumi.<stack>.yaml`` file into the flat key/value form Pulumi hands a program."""

import json
from pathlib import Path
from typing import Any

import yaml


def read_stack_config(path: Path) -> dict[str, str]:
    """Lists and maps become JSON strings, as structured config values reach a program."""
    document: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    values: dict[str, str] = {}
    for key, value in (document.get("config") or {}).items():
        if isinstance(value, dict) and "secure" in value:
            raise ValueError(f"{key}: encrypted values need the Pulumi CLI; leave them out here")
        values[key] = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return values
