"""BigQuery's own analyzer (ZetaSQL, compiled to WebAssembly) over the statements that
``tools.sql_check`` collects: run in ``.venv-zetasql``, which holds zetasql and nothing of the
project, since its protobuf cannot live beside the main venv's.

It reads one JSON document on stdin: the tables (``{"project.dataset.table": [BigQuery JSON
schema columns]}``) and the statements (name, SQL, parameters' BigQuery types, and for a view the
table name it defines). Each statement of a script is analyzed on its own, in order, against the
tables and the views analyzed before it; a statement kind the analyzer does not resolve (a
script's DECLARE, SET, IF ...) is parsed instead. One JSON line per statement goes to stdout:
``{"name", "index", "outcome": "analyzed" | "parsed" | "failed", "message", "offset"}``.

The module compiles once (about 15 s) and is kept in ``.cache/zetasql/`` (about 1 s to load).
"""

import json
import os
import re
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import wasmtime
import zetasql.core.wasm_client as wasm_client
from zetasql.core import ZetaSqlLocalService
from zetasql.core.exceptions import ServerError
from zetasql.types import (
    AnalyzeRequest,
    AnalyzerOptions,
    ArrayType,
    ErrorMessageMode,
    ParseResumeLocation,
    ProductMode,
    SimpleCatalog,
    SimpleColumn,
    SimpleTable,
    StructField,
    StructType,
    Type,
    TypeKind,
    ZetaSQLBuiltinFunctionOptions,
    parse_proto,
)
from zetasql.wasi._pb2.zetasql.local_service import local_service_pb2

CACHE = Path(__file__).resolve().parent.parent / ".cache" / "zetasql"

# BigQuery's JSON schema and query parameter type names, legacy spellings included.
KINDS = {
    "STRING": TypeKind.TYPE_STRING,
    "BYTES": TypeKind.TYPE_BYTES,
    "INTEGER": TypeKind.TYPE_INT64,
    "INT64": TypeKind.TYPE_INT64,
    "FLOAT": TypeKind.TYPE_DOUBLE,
    "FLOAT64": TypeKind.TYPE_DOUBLE,
    "NUMERIC": TypeKind.TYPE_NUMERIC,
    "BIGNUMERIC": TypeKind.TYPE_BIGNUMERIC,
    "BOOLEAN": TypeKind.TYPE_BOOL,
    "BOOL": TypeKind.TYPE_BOOL,
    "TIMESTAMP": TypeKind.TYPE_TIMESTAMP,
    "DATE": TypeKind.TYPE_DATE,
    "DATETIME": TypeKind.TYPE_DATETIME,
    "TIME": TypeKind.TYPE_TIME,
    "JSON": TypeKind.TYPE_JSON,
    "GEOGRAPHY": TypeKind.TYPE_GEOGRAPHY,
}


class _CachedModule:
    """``wasmtime.Module`` as zetasql loads it, compiled once and then deserialized."""

    @staticmethod
    def from_file(engine: wasmtime.Engine, path: str) -> wasmtime.Module:
        # A compiled module loads only into the wasmtime that compiled it.
        cached = CACHE / f"zetasql-{version('zetasql')}-wasmtime-{version('wasmtime')}.cwasm"
        if cached.exists():
            return wasmtime.Module.deserialize_file(engine, str(cached))
        module = wasmtime.Module.from_file(engine, path)
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(module.serialize())
        partial.replace(cached)
        return module


def column_type(column: dict[str, Any]) -> Type:
    """A BigQuery JSON schema column as ZetaSQL's type (REPEATED is an ARRAY)."""
    kind = column["type"].upper()
    if kind in ("RECORD", "STRUCT"):
        fields = [
            StructField(field_name=f["name"], field_type=column_type(f)) for f in column["fields"]
        ]
        element = Type(type_kind=TypeKind.TYPE_STRUCT, struct_type=StructType(field=fields))
    else:
        element = Type(type_kind=KINDS[kind])
    if column.get("mode", "NULLABLE").upper() == "REPEATED":
        return Type(type_kind=TypeKind.TYPE_ARRAY, array_type=ArrayType(element_type=element))
    return element


def parameter_type(name: str) -> Type:
    """``DATE``, ``ARRAY<STRING>``: a query parameter's BigQuery type."""
    if name.startswith("ARRAY<") and name.endswith(">"):
        element = parameter_type(name[len("ARRAY<") : -1])
        return Type(type_kind=TypeKind.TYPE_ARRAY, array_type=ArrayType(element_type=element))
    return Type(type_kind=KINDS[name])


def table(name: str, columns: list[tuple[str, Type]]) -> SimpleTable:
    return SimpleTable(
        name=name,
        column=[SimpleColumn(name=n, type=t, is_writable_column=True) for n, t in columns],
    )


class Session:
    """One analyzer, in BigQuery's language mode, over a catalog that grows by each view."""

    def __init__(self, tables: dict[str, list[dict[str, Any]]]) -> None:
        wasm_client.Module = _CachedModule
        self.service = ZetaSqlLocalService.get_instance()
        language = self.service.get_language_options(maximum_features=True)
        # BigQuery is an external product (no proto, no internal-only features) and reserves
        # QUALIFY, without which QUALIFY after no WHERE does not parse.
        language.product_mode = ProductMode.PRODUCT_EXTERNAL
        language.reserved_keywords = ["QUALIFY"]
        # No kind listed is every kind: the scripts' DELETE and INSERT as well as queries.
        language.supported_statement_kinds = []
        self.language = language
        self.catalog = SimpleCatalog(
            name="bigquery",
            table=[table(n, [(c["name"], column_type(c)) for c in cs]) for n, cs in tables.items()],
            builtin_function_options=ZetaSQLBuiltinFunctionOptions(language_options=language),
        )
        self._catalog_id: int | None = None

    def options(self, parameters: dict[str, str]) -> AnalyzerOptions:
        return AnalyzerOptions(
            language_options=self.language,
            error_message_mode=ErrorMessageMode.ERROR_MESSAGE_ONE_LINE,
            query_parameters=[
                AnalyzerOptions.QueryParameter(name=n, type=parameter_type(t))
                for n, t in parameters.items()
            ],
        )

    def check(self, statement: dict[str, Any]) -> list[dict[str, Any]]:
        """Every statement of ``statement["sql"]`` analyzed (or parsed), in order; the first
        that fails ends the list.
        """
        sql: str = statement["sql"]
        options = self.options(statement.get("parameters", {}))
        results: list[dict[str, Any]] = []
        data, position = sql.encode(), 0
        while not _only_comments(data[position:].decode()):
            location = ParseResumeLocation(input=sql, byte_position=position, allow_resume=True)
            outcome, message = "analyzed", ""
            try:
                resolved, end = self._analyze(sql, location, options)
            except ServerError as error:
                message, resolved, end = str(error), None, None
                if _first_word(data[position:].decode()) in SCRIPT_KEYWORDS:
                    # Variables and control flow are the script's, not a statement's: the rest
                    # of the script is parsed whole, and not analyzed.
                    parse_error = self._parse_script(sql)
                    outcome = "failed" if parse_error else "parsed"
                    message = parse_error or "a script statement: the script parses"
                else:
                    outcome = "failed"
            results.append(
                {
                    "name": statement["name"],
                    "index": len(results),
                    "outcome": outcome,
                    "message": message,
                    "offset": position,
                }
            )
            if end is None or end <= position:
                return results
            if resolved is not None and statement.get("defines"):
                self._add_view(statement["defines"], resolved)
            position = end
        return results

    def _parse_script(self, sql: str) -> str:
        """The parser's error for the whole script, or "" if it parses."""
        try:
            self.service.parse(sql_statement=sql, options=self.language, allow_script=True)
        except ServerError as error:
            return str(error)
        return ""

    def _analyze(
        self, sql: str, location: ParseResumeLocation, options: AnalyzerOptions
    ) -> tuple[Any, int]:
        """The next statement's resolved form and where it ends. The response stays a protobuf:
        converting a script's whole resolved tree to zetasql's Python models takes longer than
        analyzing it, and only a view's output columns are read."""
        request = AnalyzeRequest(
            sql_statement=sql,
            parse_resume_location=location,
            options=options,
            registered_catalog_id=self._registered(),
        )
        response = self.service.wasm_client.call_grpc_func(
            "ZetaSqlLocalService_Analyze", request.to_proto(), local_service_pb2.AnalyzeResponse
        )
        return response.resolved_statement, response.resume_byte_position

    def _registered(self) -> int:
        """The catalog's id in the analyzer: sent once, not with every statement."""
        if self._catalog_id is None:
            response = self.service.register_catalog(simple_catalog=self.catalog)
            self._catalog_id = int(response.registered_id)
        return self._catalog_id

    def _add_view(self, name: str, resolved: Any) -> None:
        query = resolved.resolved_query_stmt_node
        columns = [
            (c.name, parse_proto(c.column.type).as_type(Type)) for c in query.output_column_list
        ]
        self.catalog.table.append(table(name, columns))
        if self._catalog_id is not None:
            self.service.unregister_catalog(registered_id=self._catalog_id)
            self._catalog_id = None


# What starts a script statement, which the analyzer does not resolve on its own.
SCRIPT_KEYWORDS = frozenset(
    [
        "DECLARE",
        "SET",
        "BEGIN",
        "IF",
        "LOOP",
        "WHILE",
        "REPEAT",
        "FOR",
        "CALL",
        "EXECUTE",
        "RAISE",
        "RETURN",
        "BREAK",
        "LEAVE",
        "CONTINUE",
        "ITERATE",
        "CASE",
    ]
)


def _first_word(sql: str) -> str:
    words = re.findall(r"\w+", re.sub(r"--[^\n]*|/\*.*?\*/", "", sql, flags=re.DOTALL))
    return words[0].upper() if words else ""


def _only_comments(sql: str) -> bool:
    """Whether nothing but blanks, semicolons and comments is left."""
    return not re.sub(r"--[^\n]*|/\*.*?\*/|[\s;]", "", sql, flags=re.DOTALL)


def main() -> int:
    document = json.load(sys.stdin)
    session = Session(document["tables"])
    failed = False
    for statement in document["statements"]:
        for result in session.check(statement):
            failed = failed or result["outcome"] == "failed"
            print(json.dumps(result), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
