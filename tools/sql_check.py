"""Every SQL statement the project deploys or runs on BigQuery, analyzed by BigQuery's own
analyzer: ZetaSQL in BigQuery's language mode (``tools/zetasql_analyze.py``, in
``.venv-zetasql``), against the event tables' definitions, the scheduled tables' and the capture
log's declared columns, and the views analyzed before them, with each parameter typed as the
code that runs it types it (``platform.query.Query``).

The local emulator runs the SQL on DuckDB through a translator, and accepts what BigQuery
refuses (an unknown function, a DATE compared with a TIMESTAMP); this check refuses it before a
deploy. A statement the analyzer does not resolve (a script's DECLARE or IF) is parsed, and
listed as parsed only. Exit 1 names the file, the line and ZetaSQL's message.

Not here: the cost model's and the local cloud's own queries (``event_capture.cost.sizes``,
``tools/cost_measure.py``, ``localcloud/``), which only ever run on the emulator.

    python -m tools.sql_check            # analyze, print a line per outcome
    python -m tools.sql_check --list     # every statement and where it is written
"""

import argparse
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from event_capture.archive_backfill import backfill as archive_backfill
from event_capture.cost_guard import archive_load
from event_capture.features import materialize
from event_capture.forget import erase as forget
from event_capture.platform.query import Query
from event_capture.report import capture_log
from event_capture.report import queries as report
from event_capture.tables.definitions import load_table_definitions
from event_capture.warehouse.catalog import (
    DATA_QUALITY,
    EVENT_TABLES,
    FEATURE_TABLES,
    PARTIAL_TABLES,
    SCHEDULED_TABLES,
    VIEWS,
    Column,
    PartialTable,
    ScheduledTable,
)
from event_capture.warehouse.full_rebuild import full_rebuild, full_rebuild_sql
from event_capture.warehouse.render import (
    SQL_DIR,
    Datasets,
    backfill_sql,
    scheduled_query,
    scheduled_sql,
    table_name,
    view_sql,
)
from tools import purge, replay

REPO = Path(__file__).resolve().parent.parent
ANALYZER = REPO / ".venv-zetasql" / "bin" / "python"
PROJECT = "project"
DATASETS = Datasets(events=f"{PROJECT}.events", analytics=f"{PROJECT}.analytics")
SOURCES = report.Sources.of_project(PROJECT)


@dataclass(frozen=True)
class Statement:
    name: str
    # Where it is written: its SQL file or the module that builds it, then the templates it is
    # rendered into (a failure's line is looked for in that order).
    sources: tuple[Path, ...]
    query: Query
    defines: str | None = None  # a view: the table name it becomes

    def document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sql": self.query.sql,
            "parameters": dict(self.query.parameters),
            "defines": self.defines,
        }


def _columns(columns: Sequence[Column]) -> list[dict[str, object]]:
    return [column.api_repr() for column in columns]


def tables() -> dict[str, list[dict[str, object]]]:
    """Every table a statement may name, with its columns as BigQuery's JSON schema."""
    found: dict[str, list[dict[str, object]]] = {
        f"{DATASETS.events}.{d['table_id']}": d["schema"]["fields"]
        for d in load_table_definitions()
    }
    for spec in SCHEDULED_TABLES:
        found[table_name(spec, DATASETS)] = _columns(spec.columns)
    for spec in FEATURE_TABLES:
        found[table_name(full_rebuild(spec), DATASETS)] = _columns(spec.columns)
    found[SOURCES.capture_log_table] = _columns(capture_log.COLUMNS)
    return found


def _module(module: Any) -> tuple[Path, ...]:
    return (Path(module.__file__),)


def _sql(*names: str) -> tuple[Path, ...]:
    return tuple(SQL_DIR / name for name in names)


def _script_sources(spec: ScheduledTable) -> tuple[Path, ...]:
    """A scheduled table's script: its query inside the partition's replacement."""
    if isinstance(spec, PartialTable):
        return _sql(spec.sql_file, "rebuild_received_days.sql", "dedup.sql")
    alert = ("data_quality_alert.sql",) if spec is DATA_QUALITY else ()
    return _sql(spec.sql_file, "replace_partition.sql", "dedup.sql", *alert)


def statements() -> list[Statement]:
    """Everything deployed or run against BigQuery, views first (later statements read them)."""
    found = [
        Statement(
            f"view {view.name}",
            _sql(view.sql_file),
            Query(view_sql(view, DATASETS)),
            defines=f"{DATASETS.of(view.dataset)}.{view.name}",
        )
        for view in VIEWS
    ]
    found += [
        Statement(
            f"scheduled {spec.name}",
            _script_sources(spec),
            scheduled_query(scheduled_sql(spec, DATASETS)),
        )
        for spec in SCHEDULED_TABLES
    ]
    found.append(
        Statement(
            "backfill of the partial tables",
            tuple(path for spec in PARTIAL_TABLES for path in _script_sources(spec)),
            scheduled_query(backfill_sql(DATASETS)),
        )
    )
    found += [
        Statement(
            f"full rebuild {spec.name}_full",
            _script_sources(spec) + _sql(*(partial.sql_file for partial in PARTIAL_TABLES)),
            scheduled_query(full_rebuild_sql(spec, DATASETS)),
        )
        for spec in FEATURE_TABLES
    ]
    found += [
        Statement(f"report {name}", _module(report), query)
        for name, query in report.queries(SOURCES).items()
    ]
    events = DATASETS.events
    found.append(
        Statement(
            "materializer newest snapshot",
            _module(materialize),
            materialize.newest_snapshot_query(events),
        )
    )
    for spec in FEATURE_TABLES:
        found.append(
            Statement(
                f"materializer reads {spec.name}",
                _module(materialize),
                materialize.snapshot_query(events, spec.name),
            )
        )
    for table in EVENT_TABLES:
        ref = f"{events}.{table}"
        found += [
            Statement(
                f"cost guard present {table}",
                _module(archive_load),
                archive_load.present_query(ref),
            ),
            Statement(f"replay stored {table}", _module(replay), replay.stored_query(ref)),
            Statement(
                f"archive backfill ids {table}",
                _module(archive_backfill),
                archive_backfill.stored_ids_query(ref),
            ),
            Statement(
                f"archive backfill rows {table}",
                _module(archive_backfill),
                archive_backfill.stored_rows_query(ref),
            ),
            Statement(f"purge matched {table}", _module(purge), purge.matched_query(ref)),
            Statement(f"purge deletes {table}", _module(purge), purge.delete_query(ref)),
        ]
    project, dataset = events.split(".")
    forget_tables = {
        **forget.event_tables(project, dataset),
        **forget.user_level_tables(project, dataset),
    }
    found.append(
        Statement(
            "forget linked devices",
            _module(forget),
            forget.devices_query(t.ref for t in forget.event_tables(project, dataset).values()),
        )
    )
    for name, table in forget_tables.items():
        found += [
            Statement(f"forget counts {name}", _module(forget), table.count()),
            Statement(f"forget deletes {name}", _module(forget), table.delete()),
        ]
    return found


@dataclass(frozen=True)
class Outcome:
    statement: Statement
    index: int  # the statement's place in its script, from 0
    outcome: str  # analyzed, parsed or failed
    message: str
    offset: int = 0  # the statement's first byte in its script


def analyze(found: Sequence[Statement], analyzer: Path = ANALYZER) -> list[Outcome]:
    """Every statement through ZetaSQL, in one process; a line per statement of each script."""
    document = {"tables": tables(), "statements": [s.document() for s in found]}
    process = subprocess.run(
        [str(analyzer), "-m", "tools.zetasql_analyze"],
        input=json.dumps(document),
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    by_name = {s.name: s for s in found}
    outcomes = []
    for line in process.stdout.splitlines():
        result = json.loads(line)
        statement = by_name[result["name"]]
        outcomes.append(
            Outcome(
                statement, result["index"], result["outcome"], result["message"], result["offset"]
            )
        )
    if process.returncode not in (0, 1) or (process.returncode == 1 and not outcomes):
        raise RuntimeError(f"the analyzer did not run: {process.stderr.strip()[-2000:]}")
    return outcomes


AT = re.compile(r"\[at (\d+):(\d+)\]")


def _pattern(source_line: str) -> re.Pattern[str] | None:
    """A source line as a pattern over the rendered line: each ``${name}`` or ``{expr}`` fills
    in anything. None for a line with too little of its own to be told apart."""
    text = source_line.strip()
    literal = re.sub(r"\$\{\w+\}|\{[^{}]*\}", "", text)
    if len(literal.strip(" ,()")) < 4:
        return None
    parts = re.split(r"\$\{\w+\}|\{[^{}]*\}", text)
    return re.compile(".*".join(re.escape(part) for part in parts))


def _comment(line: str) -> bool:
    return line.lstrip().startswith("--")


def locate(outcome: Outcome) -> tuple[Path, int | None, str]:
    """Where the failure is written: the file and line the rendered line came from (the
    statement's own file first, then the templates it is rendered into), and that line. Where
    ZetaSQL gives no position (a signature that does not match), the statement's first line.
    """
    sql = outcome.statement.query.sql
    at = AT.search(outcome.message)
    if at is not None:
        number = int(at.group(1))
    else:
        head = sql.encode()[: outcome.offset].decode()
        rest = sql.splitlines()[head.count("\n") :]
        number = head.count("\n") + 1
        code = (k for k, text in enumerate(rest) if text.strip() and not _comment(text))
        number += next(code, 0)
    rendered = sql.splitlines()[number - 1].strip()
    for path in outcome.statement.sources:
        if not path.is_file():
            continue
        for found, text in enumerate(path.read_text().splitlines(), start=1):
            pattern = _pattern(text)
            if pattern is not None and pattern.fullmatch(rendered):
                return path, found, rendered
    return outcome.statement.sources[0], None, rendered


def report_lines(outcomes: Sequence[Outcome]) -> list[str]:
    lines = []
    for outcome in outcomes:
        if outcome.outcome == "failed":
            path, number, rendered = locate(outcome)
            shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
            where = f"{shown}:{number}" if number else str(shown)
            lines.append(f"{where}: {outcome.statement.name}: {outcome.message}")
            if rendered:
                lines.append(f"    {rendered}")
        elif outcome.outcome == "parsed":
            lines.append(f"parsed only (not analyzed): {outcome.statement.name}")
    counts = Counter(o.outcome for o in outcomes)
    scripts = len({o.statement.name for o in outcomes})
    lines.append(
        f"SQL: {counts['analyzed']} statements analyzed, {counts['parsed']} parsed only, "
        f"{counts['failed']} failed, in {scripts} queries, views and scripts "
        "(ZetaSQL, BigQuery's language mode)"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools.sql_check", description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the statements, analyze none")
    args = parser.parse_args(argv)
    found = statements()
    if args.list:
        for statement in found:
            print(f"{statement.name}\t{statement.sources[0].relative_to(REPO)}")
        return 0
    outcomes = analyze(found)
    for line in report_lines(outcomes):
        print(line)
    analyzed = {o.statement.name for o in outcomes}
    missing = [s.name for s in found if s.name not in analyzed]
    if missing:
        print(f"not analyzed: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 1 if any(o.outcome == "failed" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
