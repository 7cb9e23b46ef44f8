"""The Write API's rows (ingest/proto_rows.py): every column of every event table in the writer
schema with a type the API accepts for it, and every family's rows encoded and read back equal."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, json_format

from event_capture.ingest.proto_rows import TableEncoder, table_encoders, timestamp_micros
from event_capture.ingest.validation import validate_events
from event_capture.tables.definitions import load_table_definitions
from tests.unit import event_factory as factory

F = descriptor_pb2.FieldDescriptorProto
R = factory.RECEIVED_AT

# Google's table of the proto types the Write API accepts per BigQuery type (wrapper messages
# left out): https://cloud.google.com/bigquery/docs/supported-data-types
ACCEPTED = {
    "STRING": {F.TYPE_STRING},
    "INTEGER": {F.TYPE_INT32, F.TYPE_INT64, F.TYPE_UINT32},
    "FLOAT": {F.TYPE_DOUBLE, F.TYPE_FLOAT},
    "BOOLEAN": {F.TYPE_BOOL, F.TYPE_INT32, F.TYPE_INT64, F.TYPE_UINT32, F.TYPE_UINT64},
    "TIMESTAMP": {F.TYPE_INT64, F.TYPE_INT32, F.TYPE_UINT32},
    "DATE": {F.TYPE_INT32, F.TYPE_INT64, F.TYPE_STRING},
    "NUMERIC": {F.TYPE_INT32, F.TYPE_INT64, F.TYPE_UINT32, F.TYPE_UINT64, F.TYPE_DOUBLE}
    | {F.TYPE_FLOAT, F.TYPE_STRING, F.TYPE_BYTES},
    "JSON": {F.TYPE_STRING},
    "RECORD": {F.TYPE_MESSAGE},
}
LABELS = {"REQUIRED": F.LABEL_REQUIRED, "NULLABLE": F.LABEL_OPTIONAL, "REPEATED": F.LABEL_REPEATED}
TABLES = {table["table_id"]: table for table in load_table_definitions()}


def mismatches(
    columns: Sequence[Mapping[str, Any]], message: descriptor_pb2.DescriptorProto, path: str = ""
) -> list[str]:
    """Where the descriptor and the table's columns disagree: a column without its field, a
    field without its column, a type the API does not accept for the column, a wrong label."""
    fields = {field.name: field for field in message.field}
    nested = {nested.name: nested for nested in message.nested_type}
    problems = [f"{path}{name}: no column" for name in fields.keys() - {c["name"] for c in columns}]
    for column in columns:
        name = path + column["name"]
        field = fields.get(column["name"])
        if field is None:
            problems.append(f"{name}: not in the descriptor")
            continue
        if field.type not in ACCEPTED[column["type"]]:
            problems.append(f"{name}: proto type {field.type} for {column['type']}")
        if field.label != LABELS[column["mode"]]:
            problems.append(f"{name}: label {field.label} for {column['mode']}")
        if column["type"] == "RECORD":
            problems += mismatches(column["fields"], nested[field.type_name], f"{name}.")
    return problems


@pytest.mark.parametrize("table_id", sorted(TABLES))
def test_the_writer_schema_has_every_column_with_an_accepted_type_and_its_mode(
    table_id: str,
) -> None:
    columns = TABLES[table_id]["schema"]["fields"]
    descriptor = table_encoders()[table_id].descriptor

    assert mismatches(columns, descriptor) == []


def test_the_check_finds_a_missing_column_a_wrong_type_and_a_wrong_label() -> None:
    columns = TABLES["orders"]["schema"]["fields"]
    descriptor = table_encoders()["orders"].descriptor

    missing = descriptor_pb2.DescriptorProto()
    missing.CopyFrom(descriptor)
    del missing.field[-1]
    retyped = descriptor_pb2.DescriptorProto()
    retyped.CopyFrom(descriptor)
    next(f for f in retyped.field if f.name == "received_at").type = F.TYPE_STRING
    relabelled = descriptor_pb2.DescriptorProto()
    relabelled.CopyFrom(descriptor)
    items = next(n for n in relabelled.nested_type if n.name.startswith("Items"))
    next(f for f in items.field if f.name == "quantity").label = F.LABEL_OPTIONAL

    assert mismatches(columns, missing) == [f"{columns[-1]['name']}: not in the descriptor"]
    assert mismatches(columns, retyped) == [
        f"received_at: proto type {F.TYPE_STRING} for TIMESTAMP"
    ]
    assert mismatches(columns, relabelled) == [
        f"items.quantity: label {F.LABEL_OPTIONAL} for REQUIRED"
    ]


def as_row_values(message: Any, columns: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A decoded message in the row JSON's terms: timestamps as datetimes, NUMERIC as Decimal."""
    values = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=False
    )
    return _typed(values, columns)


def _typed(values: dict[str, Any], columns: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    by_name = {column["name"]: column for column in columns}
    out: dict[str, Any] = {}
    for name, value in values.items():
        column = by_name[name]
        out[name] = (
            [_value(item, column) for item in value]
            if column["mode"] == "REPEATED"
            else _value(value, column)
        )
    return out


def _value(value: Any, column: Mapping[str, Any]) -> Any:
    kind = column["type"]
    if kind == "RECORD":
        return _typed(value, column["fields"])
    if kind == "TIMESTAMP":
        return int(value)
    if kind == "INTEGER":
        return int(value)
    if kind == "NUMERIC":
        return Decimal(value)
    return value


def from_json(values: dict[str, Any], columns: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The row's JSON in the same terms."""
    by_name = {column["name"]: column for column in columns}
    out: dict[str, Any] = {}
    for name, value in values.items():
        column = by_name[name]
        if column["mode"] == "REPEATED":
            out[name] = [_json_value(item, column) for item in value]
        else:
            out[name] = _json_value(value, column)
    return out


def _json_value(value: Any, column: Mapping[str, Any]) -> Any:
    kind = column["type"]
    if kind == "RECORD":
        return from_json(value, column["fields"])
    if kind == "TIMESTAMP":
        return timestamp_micros(value)
    if kind == "NUMERIC":
        return Decimal(str(value))
    return value


def test_a_row_of_every_family_encodes_and_reads_back_equal() -> None:
    rows, rejections = validate_events(factory.one_of_each(R), R)
    assert rejections == []
    assert {row.table for row in rows} == set(TABLES)

    for row in rows:
        encoder = table_encoders()[row.table]
        columns = TABLES[row.table]["schema"]["fields"]

        decoded = as_row_values(encoder.decode(encoder.encode(row)), columns)

        assert decoded == from_json(row.data, columns), row.table


def test_a_timestamp_is_microseconds_since_the_epoch() -> None:
    assert timestamp_micros("1970-01-01T00:00:00Z") == 0
    assert timestamp_micros("2026-11-28T16:37:33.120000Z") == int(
        datetime.fromisoformat("2026-11-28T16:37:33.120000+00:00").timestamp() * 1_000_000
    )
    # Before the epoch, exactly (no float rounding).
    assert timestamp_micros("1969-12-31T23:59:59.999999Z") == -1


def test_a_row_that_does_not_fit_its_table_is_refused_with_the_table_and_the_field() -> None:
    rows, _ = validate_events([factory.search(R)], R)
    encoder = table_encoders()["searches"]
    unknown = dataclasses.replace(rows[0], json=rows[0].json[:-1] + ',"shoe_size":44}')
    wrong_type = dataclasses.replace(
        rows[0], json=rows[0].json.replace('"result_count":37', '"result_count":"many"')
    )
    missing = dataclasses.replace(rows[0], json='{"event_id":"x"}')

    for row, words in [(unknown, "shoe_size"), (wrong_type, "result_count|int"), (missing, "")]:
        with pytest.raises(ValueError, match=f"searches: .*{words}"):
            encoder.encode(row)


def test_a_table_of_an_unknown_type_is_refused_naming_the_column() -> None:
    with pytest.raises(ValueError, match=r"t\.shape: no Write API type for BigQuery GEOGRAPHY"):
        TableEncoder("t", [{"name": "shape", "type": "GEOGRAPHY", "mode": "NULLABLE"}])
