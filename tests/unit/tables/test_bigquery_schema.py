"""Tests for the generated BigQuery table definitions and the additive-change rule (the
generator itself is test_generate.py).

The checked-in ``event_capture/tables/*.json`` are what the infrastructure applies, so they
must match the models (drift), keep partitioning and retention right, and only ever change in
ways BigQuery can apply to a table that already holds rows (history).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from pydantic import BaseModel

from event_capture.schemas.envelope import EventEnvelope
from event_capture.schemas.families import FAMILIES
from event_capture.schemas.order import LineItem
from event_capture.schemas.search import SearchFilter
from event_capture.tables.bigquery_schema import additive_problems, table_definition
from event_capture.tables.definitions import TABLES_DIR, table_path
from event_capture.tables.generate import render

PROJECT_ROOT = Path(__file__).resolve().parents[3]
NINETY_DAYS_MS = 90 * 24 * 60 * 60 * 1000
TABLE_FILES = sorted(TABLES_DIR.glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(path.read_text())
    return definition


def _by_name(fields: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {field["name"]: field for field in fields}


def _family_param(model: type[EventEnvelope]) -> Any:
    return pytest.param(model, id=model.TABLE)


FAMILY_PARAMS = [_family_param(model) for model in FAMILIES]


# --------------------------------------------------------------------------------------------
# Checked-in files against the models
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", FAMILY_PARAMS)
def test_checked_in_table_matches_the_model(model: type[EventEnvelope]) -> None:
    path = table_path(model.TABLE)

    assert path.exists(), f"{path} missing; run make schemas"
    assert path.read_text() == render(table_definition(model)), (
        f"{path.name} is out of date with {model.__name__}; run make schemas"
    )


def test_there_is_one_table_file_per_family_and_no_stale_ones() -> None:
    assert {path.stem for path in TABLE_FILES} == {model.TABLE for model in FAMILIES}
    assert {path.stem for path in TABLE_FILES} == {
        "searches",
        "product_interactions",
        "orders",
        "sessions",
        "voice_interactions",
        "identity_links",
    }


@pytest.mark.parametrize("path", TABLE_FILES, ids=lambda p: p.stem)
def test_table_is_day_partitioned_on_received_at_with_90_day_expiry(path: Path) -> None:
    definition = _load(path)

    assert definition["table_id"] == path.stem
    assert definition["time_partitioning"] == {
        "type": "DAY",
        "field": "received_at",
        "expiration_ms": NINETY_DAYS_MS,
    }
    assert definition["require_partition_filter"] is True
    assert definition["clustering"] == {"fields": ["user_id", "event_type"]}
    columns = _by_name(definition["schema"]["fields"])
    assert columns["received_at"]["type"] == "TIMESTAMP"
    assert columns["received_at"]["mode"] == "REQUIRED"
    # Clustering columns must exist and be top-level scalars.
    for name in ("user_id", "event_type"):
        assert columns[name]["type"] == "STRING"
    # An event carries a user id or a device's (the envelope's rule); a link both.
    expected = "REQUIRED" if path.stem == "identity_links" else "NULLABLE"
    assert columns["user_id"]["mode"] == columns["anonymous_id"]["mode"] == expected
    assert columns["event_type"]["mode"] == "REQUIRED"


def _assert_model_columns(model: type[BaseModel], fields: list[dict[str, Any]], where: str) -> None:
    columns = _by_name(fields)
    for name, info in model.model_fields.items():
        assert name in columns, f"{where}{name}: no column"
        column = columns[name]
        assert column.get("description"), f"{where}{name}: column without description"
        assert column["description"] == info.description
        if column["type"] == "RECORD":
            nested = _strip_list(info.annotation)
            _assert_model_columns(nested, column["fields"], f"{where}{name}.")


def _strip_list(annotation: Any) -> type[BaseModel]:
    # list[Model] -> Model
    (inner,) = annotation.__args__
    assert isinstance(inner, type) and issubclass(inner, BaseModel)
    return inner


@pytest.mark.parametrize("model", FAMILY_PARAMS)
def test_every_model_field_is_a_described_column(model: type[EventEnvelope]) -> None:
    definition = _load(table_path(model.TABLE))
    fields = definition["schema"]["fields"]

    _assert_model_columns(model, fields, "")
    # Nothing else but the server's received_at and arrived_via.
    assert {f["name"] for f in fields} == set(model.model_fields) | {"received_at", "arrived_via"}
    assert all(f.get("description") for f in fields)
    assert definition["description"] == model.DESCRIPTION
    assert definition["schema_version"] == model.SCHEMA_VERSION


def test_envelope_columns_come_first_then_received_at() -> None:
    for model in FAMILIES:
        names = [f["name"] for f in _load(table_path(model.TABLE))["schema"]["fields"]]
        assert names[:8] == [
            "event_id",
            "event_type",
            "user_id",
            "session_id",
            "occurred_at",
            "source",
            "schema_version",
            "received_at",
        ], model.TABLE
        # Added to live tables, where BigQuery puts a new column: last, in the order added.
        assert names[-2:] == ["arrived_via", "anonymous_id"], model.TABLE


def test_order_items_are_a_repeated_record_with_typed_fields() -> None:
    columns = _by_name(_load(table_path("orders"))["schema"]["fields"])

    items = columns["items"]
    assert (items["type"], items["mode"]) == ("RECORD", "REPEATED")
    nested = {f["name"]: (f["type"], f["mode"]) for f in items["fields"]}
    assert nested == {
        "product_id": ("STRING", "REQUIRED"),
        "quantity": ("INTEGER", "REQUIRED"),
        "unit_price": ("NUMERIC", "REQUIRED"),
    }
    assert set(nested) == set(LineItem.model_fields)
    assert (columns["total"]["type"], columns["total"]["mode"]) == ("NUMERIC", "REQUIRED")


def test_search_filters_are_a_repeated_record() -> None:
    columns = _by_name(_load(table_path("searches"))["schema"]["fields"])

    filters = columns["filters"]
    assert (filters["type"], filters["mode"]) == ("RECORD", "REPEATED")
    assert {f["name"]: (f["type"], f["mode"]) for f in filters["fields"]} == {
        "name": ("STRING", "REQUIRED"),
        "value": ("STRING", "REQUIRED"),
    }
    assert set(_by_name(filters["fields"])) == set(SearchFilter.model_fields)


@pytest.mark.parametrize(
    ("table", "column", "type_", "mode"),
    [
        ("searches", "event_id", "STRING", "REQUIRED"),
        ("searches", "occurred_at", "TIMESTAMP", "REQUIRED"),
        ("searches", "schema_version", "STRING", "NULLABLE"),
        ("searches", "intent_confidence", "FLOAT", "NULLABLE"),
        ("searches", "result_count", "INTEGER", "NULLABLE"),
        ("searches", "latency_ms", "INTEGER", "NULLABLE"),
        ("product_interactions", "search_event_id", "STRING", "NULLABLE"),
        ("product_interactions", "quantity", "INTEGER", "NULLABLE"),
        ("sessions", "started_at", "TIMESTAMP", "REQUIRED"),
        ("sessions", "ended_at", "TIMESTAMP", "NULLABLE"),
        ("sessions", "device", "STRING", "REQUIRED"),
        ("voice_interactions", "intent_confidence", "FLOAT", "NULLABLE"),
        ("voice_interactions", "language", "STRING", "NULLABLE"),
    ],
)
def test_column_types_and_modes(table: str, column: str, type_: str, mode: str) -> None:
    columns = _by_name(_load(table_path(table))["schema"]["fields"])

    assert (columns[column]["type"], columns[column]["mode"]) == (type_, mode)


def test_event_types_listed_per_table() -> None:
    listed = {path.stem: _load(path)["event_types"] for path in TABLE_FILES}

    assert listed == {
        "searches": ["search"],
        "product_interactions": [
            "product_view",
            "product_click",
            "add_to_cart",
            "remove_from_cart",
        ],
        "orders": ["order_placed"],
        "sessions": ["session_start", "session_end"],
        "voice_interactions": ["voice_interaction"],
        "identity_links": ["identify"],
    }


# --------------------------------------------------------------------------------------------
# additive_problems
# --------------------------------------------------------------------------------------------


def col(name: str, type_: str = "STRING", mode: str = "NULLABLE", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "mode": mode, **extra}


def record(name: str, fields: list[dict[str, Any]], mode: str = "REPEATED") -> dict[str, Any]:
    return col(name, "RECORD", mode, fields=fields)


OLD: list[dict[str, Any]] = [
    col("event_id", mode="REQUIRED"),
    col("note"),
    col("count", "INTEGER", "REQUIRED"),
    record(
        "items",
        [col("product_id", mode="REQUIRED"), col("unit_price", "NUMERIC", "REQUIRED")],
    ),
]


def _replace(columns: list[dict[str, Any]], name: str, new: dict[str, Any]) -> list[dict[str, Any]]:
    return [new if c["name"] == name else c for c in columns]


def test_identical_schema_has_no_problems() -> None:
    assert additive_problems(OLD, json.loads(json.dumps(OLD))) == []


@pytest.mark.parametrize(
    "new",
    [
        pytest.param([*OLD, col("added")], id="add-nullable-column"),
        pytest.param([*OLD, col("tags", mode="REPEATED")], id="add-repeated-column"),
        pytest.param(
            [*OLD, record("meta", [col("k", mode="REQUIRED")], mode="NULLABLE")],
            id="add-nullable-record",
        ),
        pytest.param(
            _replace(OLD, "count", col("count", "INTEGER", "NULLABLE")),
            id="required-to-nullable",
        ),
        pytest.param(
            _replace(
                OLD,
                "items",
                record(
                    "items",
                    [
                        col("product_id", mode="REQUIRED"),
                        col("unit_price", "NUMERIC", "REQUIRED"),
                        col("discount", "NUMERIC"),
                    ],
                ),
            ),
            id="add-nested-nullable-field",
        ),
        pytest.param(
            _replace(
                OLD,
                "items",
                record(
                    "items",
                    [col("product_id"), col("unit_price", "NUMERIC", "REQUIRED")],
                ),
            ),
            id="nested-required-to-nullable",
        ),
    ],
)
def test_additive_changes_are_accepted(new: list[dict[str, Any]]) -> None:
    assert additive_problems(OLD, new) == []


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        pytest.param(
            [c for c in OLD if c["name"] != "note"], ["note: column removed"], id="remove-column"
        ),
        pytest.param(
            _replace(OLD, "note", col("notes")),
            ["note: column removed"],
            id="rename-column",
        ),
        pytest.param(
            _replace(OLD, "count", col("count", "FLOAT", "REQUIRED")),
            ["count: type changed from INTEGER to FLOAT"],
            id="retype-column",
        ),
        pytest.param(
            _replace(OLD, "note", col("note", mode="REQUIRED")),
            ["note: mode changed from NULLABLE to REQUIRED"],
            id="nullable-to-required",
        ),
        pytest.param(
            _replace(OLD, "note", col("note", mode="REPEATED")),
            ["note: mode changed from NULLABLE to REPEATED"],
            id="nullable-to-repeated",
        ),
        pytest.param(
            _replace(
                OLD,
                "items",
                record(
                    "items",
                    [col("product_id", mode="REQUIRED"), col("unit_price", "NUMERIC", "REQUIRED")],
                    mode="NULLABLE",
                ),
            ),
            ["items: mode changed from REPEATED to NULLABLE"],
            id="repeated-to-nullable",
        ),
        pytest.param(
            list(reversed(OLD)),
            ["columns: existing columns must keep their order, new ones go last"],
            id="reordered-columns",
        ),
        pytest.param(
            [col("first"), *OLD],
            ["columns: existing columns must keep their order, new ones go last"],
            id="new-column-first",
        ),
        pytest.param(
            [*OLD, col("must_have", mode="REQUIRED")],
            ["must_have: new column must not be REQUIRED"],
            id="add-required-column",
        ),
        pytest.param(
            _replace(OLD, "items", record("items", [col("product_id", mode="REQUIRED")])),
            ["items.unit_price: column removed"],
            id="remove-nested-field",
        ),
        pytest.param(
            _replace(
                OLD,
                "items",
                record(
                    "items",
                    [
                        col("product_id", mode="REQUIRED"),
                        col("unit_price", "FLOAT", "REQUIRED"),
                        col("sku", mode="REQUIRED"),
                    ],
                ),
            ),
            [
                "items.unit_price: type changed from NUMERIC to FLOAT",
                "items.sku: new column must not be REQUIRED",
            ],
            id="retype-nested-and-add-required-nested",
        ),
        pytest.param(
            _replace(OLD, "items", col("items", "STRING", "REPEATED")),
            ["items: type changed from RECORD to STRING"],
            id="record-to-scalar",
        ),
    ],
)
def test_non_additive_changes_are_reported(new: list[dict[str, Any]], expected: list[str]) -> None:
    assert additive_problems(OLD, new) == expected


def test_several_problems_are_all_reported() -> None:
    new = [col("event_id", "INTEGER", "REQUIRED"), col("count", "INTEGER", "REQUIRED")]

    problems = additive_problems(OLD, new)

    assert set(problems) == {
        "event_id: type changed from STRING to INTEGER",
        "note: column removed",
        "items: column removed",
    }


# --------------------------------------------------------------------------------------------
# Git history: every committed version must be replaceable in place by the current file
# --------------------------------------------------------------------------------------------


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed; cannot read the history of the table files")
    return subprocess.run(
        [git, *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False, timeout=60
    )


def _history(relative: str) -> list[tuple[str, str]]:
    """(commit, path at that commit) for every commit that touched the file, across renames."""
    inside = _git("rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        pytest.skip(f"{PROJECT_ROOT} is not a git work tree; no history to check")
    log = _git("log", "--follow", "--format=%H", "--name-only", "--", relative)
    if log.returncode != 0:
        pytest.skip(f"git log failed: {log.stderr.strip()}")
    words = log.stdout.split()
    # A table is its file's name: --follow also pairs a new table's file with a similar older
    # one (identity_links.json with voice_interactions.json), which is no earlier version of it.
    name = PurePosixPath(relative).name
    pairs = zip(words[::2], words[1::2], strict=True)
    return [(sha, old) for sha, old in pairs if PurePosixPath(old).name == name]


@pytest.mark.parametrize("path", TABLE_FILES, ids=lambda p: p.stem)
def test_every_committed_version_is_additively_replaced_by_the_current_file(path: Path) -> None:
    relative = path.relative_to(PROJECT_ROOT).as_posix()
    commits = _history(relative)
    if not commits:
        pytest.skip(f"{relative} has no committed history yet")
    current = _load(path)

    for sha, old_path in commits:
        shown = _git("show", f"{sha}:{old_path}")
        assert shown.returncode == 0, f"git show {sha}:{old_path}: {shown.stderr}"
        old = json.loads(shown.stdout)
        problems = additive_problems(old["schema"]["fields"], current["schema"]["fields"])
        assert problems == [], f"{relative} at {sha[:12]} cannot be replaced in place: {problems}"
        # Partitioning cannot be changed on an existing table either.
        assert old["table_id"] == current["table_id"]
        assert old["time_partitioning"]["type"] == current["time_partitioning"]["type"]
        assert old["time_partitioning"]["field"] == current["time_partitioning"]["field"]
