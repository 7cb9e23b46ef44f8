"""BigQuery table definitions derived from the pydantic models.

The generated JSON (``event_capture/tables/<table>.json``) is what the infrastructure program
and the local cloud read, so the models stay the only hand-written schema.
"""

import types
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

from pydantic import AwareDatetime, BaseModel

from event_capture.contracts import provenance
from event_capture.schemas.envelope import EventEnvelope
from event_capture.schemas.families import event_types
from event_capture.schemas.retention import RETENTION_MS

PARTITION_COLUMN = "received_at"
CLUSTERING = ["user_id", "event_type"]

# Set by the capture function, never by the client, so it is not a model field.
SERVER_COLUMNS: list[dict[str, Any]] = [
    {
        "name": PARTITION_COLUMN,
        "type": "TIMESTAMP",
        "mode": "REQUIRED",
        "description": "When the capture function received the event (server clock); "
        "partitions and retention count from it.",
    }
]
# Columns added after the tables were first deployed go last, where BigQuery adds a column to a
# live table, in the order they were added: the server's, then the envelope's.
APPENDED_SERVER_COLUMNS: list[dict[str, Any]] = [
    {
        "name": provenance.COLUMN,
        "type": "STRING",
        "mode": "NULLABLE",
        "description": provenance.DESCRIPTION,
    }
]

APPENDED_ENVELOPE_FIELDS = ("anonymous_id",)

_SCALARS: dict[Any, str] = {
    str: "STRING",
    UUID: "STRING",
    int: "INTEGER",
    float: "FLOAT",
    bool: "BOOLEAN",
    Decimal: "NUMERIC",
    datetime: "TIMESTAMP",
    AwareDatetime: "TIMESTAMP",
}


def _strip(annotation: Any) -> tuple[Any, bool]:
    """Unwrap Annotated and Optional; returns (inner type, nullable)."""
    nullable = False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            nullable = nullable or len(args) < len(get_args(annotation))
            if len(args) != 1:
                raise TypeError(f"unions other than Optional have no BigQuery type: {annotation}")
            annotation = args[0]
        else:
            return annotation, nullable


def _column(name: str, annotation: Any, required: bool, description: str | None) -> dict[str, Any]:
    inner, nullable = _strip(annotation)
    mode = "REQUIRED" if required and not nullable else "NULLABLE"
    if get_origin(inner) is list:
        mode = "REPEATED"
        inner, _ = _strip(get_args(inner)[0])
    column: dict[str, Any] = {"name": name}
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        column["type"] = "RECORD"
    elif get_origin(inner) is Literal:
        column["type"] = "STRING"
    elif inner in _SCALARS:
        column["type"] = _SCALARS[inner]
    else:
        raise TypeError(f"{name}: no BigQuery type for {inner!r}")
    column["mode"] = mode
    if description:
        column["description"] = description
    if column["type"] == "RECORD":
        column["fields"] = _columns(inner)
    return column


def _columns(model: type[BaseModel]) -> list[dict[str, Any]]:
    return [
        _column(name, field.annotation, field.is_required(), field.description)
        for name, field in model.model_fields.items()
    ]


def table_definition(model: type[EventEnvelope]) -> dict[str, Any]:
    """The table for one event family, in BigQuery REST field names."""
    envelope = [name for name in EventEnvelope.model_fields if name not in APPENDED_ENVELOPE_FIELDS]
    by_name = {column["name"]: column for column in _columns(model)}
    family = [name for name in model.model_fields if name not in EventEnvelope.model_fields]
    return {
        "table_id": model.TABLE,
        "description": model.DESCRIPTION,
        "schema_version": model.SCHEMA_VERSION,
        "event_types": list(event_types(model)),
        "time_partitioning": {
            "type": "DAY",
            "field": PARTITION_COLUMN,
            "expiration_ms": RETENTION_MS,
        },
        "require_partition_filter": True,
        "clustering": {"fields": CLUSTERING},
        "schema": {
            "fields": [
                *(by_name[name] for name in envelope),
                *SERVER_COLUMNS,
                *(by_name[name] for name in family),
                *APPENDED_SERVER_COLUMNS,
                *(by_name[name] for name in APPENDED_ENVELOPE_FIELDS),
            ]
        },
    }


def additive_problems(
    old: list[dict[str, Any]], new: list[dict[str, Any]], prefix: str = ""
) -> list[str]:
    """Why ``new`` cannot replace ``old`` in place; empty when the change is additive.

    BigQuery can add NULLABLE or REPEATED columns (after the existing ones) and relax REQUIRED
    to NULLABLE, but cannot drop, rename, retype or reorder a column, nor add a REQUIRED one to
    a table that has rows.
    """
    problems: list[str] = []
    old_order = [column["name"] for column in old]
    new_order = [column["name"] for column in new]
    kept = [name for name in new_order if name in old_order]
    last_kept = new_order.index(kept[-1]) if kept else -1
    if len(kept) < len(old_order):
        pass  # a removed column is the problem, reported below
    elif kept != [name for name in old_order if name in new_order] or any(
        name not in old_order for name in new_order[:last_kept]
    ):
        where = prefix.rstrip(".") or "columns"
        problems.append(f"{where}: existing columns must keep their order, new ones go last")
    new_by_name = {column["name"]: column for column in new}
    old_names = {column["name"] for column in old}
    for column in old:
        name = prefix + column["name"]
        after = new_by_name.get(column["name"])
        if after is None:
            problems.append(f"{name}: column removed")
            continue
        if after["type"] != column["type"]:
            problems.append(f"{name}: type changed from {column['type']} to {after['type']}")
        if after["mode"] != column["mode"] and (column["mode"], after["mode"]) != (
            "REQUIRED",
            "NULLABLE",
        ):
            problems.append(f"{name}: mode changed from {column['mode']} to {after['mode']}")
        if column["type"] == "RECORD" and after["type"] == "RECORD":
            problems += additive_problems(column["fields"], after["fields"], f"{name}.")
    for column in new:
        if column["name"] not in old_names and column["mode"] == "REQUIRED":
            problems.append(f"{prefix}{column['name']}: new column must not be REQUIRED")
    return problems
