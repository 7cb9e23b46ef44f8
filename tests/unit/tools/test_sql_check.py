"""The SQL proof's negative controls: statements BigQuery would refuse (the local emulator
accepted each of the first six), refused by ZetaSQL with the file and line they are written on.

Marked integration: the analyzer runs in ``.venv-zetasql``, which ``make check`` creates.
"""

from itertools import takewhile
from pathlib import Path

import pytest

from event_capture.platform.query import DATE, TIMESTAMP, Query
from event_capture.warehouse.catalog import VIEWS
from event_capture.warehouse.render import SQL_DIR, view_sql
from tools import sql_check
from tools.sql_check import DATASETS, Outcome, Statement, analyze, main, report_lines

pytestmark = pytest.mark.integration

SEARCHES = f"`{DATASETS.events}.searches`"
USER_PROFILES = f"`{DATASETS.events}.user_profiles`"
DAILY_FUNNEL = next(view for view in VIEWS if view.name == "daily_funnel")
# Each: a statement BigQuery refuses, and the start of ZetaSQL's reason.
BROKEN = {
    "unknown column": (f"SELECT query_text FROM {SEARCHES}", "Unrecognized name: query_text"),
    "TIMESTAMP compared with DATE": (
        f"SELECT event_id FROM {SEARCHES} WHERE received_at >= CURRENT_DATE()",
        "No matching signature for operator >=",
    ),
    "DuckDB's COUNT_IF": (f"SELECT COUNT_IF(TRUE) FROM {SEARCHES}", "Function not found: COUNT_IF"),
    "a column missing from GROUP BY": (
        f"SELECT user_id, query FROM {SEARCHES} GROUP BY user_id",
        "SELECT list expression references column query which is neither grouped nor aggregated",
    ),
    "FLOAT64 into NUMERIC": (
        f"INSERT INTO {USER_PROFILES} (snapshot_date, average_order_value)\n"
        "SELECT CURRENT_DATE(), 0.5",
        "Query column 2 has type FLOAT64 which cannot be inserted into column average_order_value",
    ),
    "an aggregate of an aggregate": (
        f"SELECT intent, SUM(result_count) AS result_count FROM {SEARCHES}\n"
        "GROUP BY intent HAVING SUM(result_count) > 0",
        "Aggregations of aggregations are not allowed",
    ),
}


def _written(tmp_path: Path, sql: str) -> Statement:
    """A statement whose source file holds its SQL under two lines of comment."""
    source = tmp_path / "broken.sql"
    source.write_text("-- a statement BigQuery refuses\n-- on the line below\n" + sql + "\n")
    return Statement("broken", (source,), Query("-- a\n-- b\n" + sql))


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_statement_bigquery_refuses_fails_naming_file_line_and_reason(
    case: str, tmp_path: Path
) -> None:
    sql, reason = BROKEN[case]
    statement = _written(tmp_path, sql)

    [outcome] = analyze([statement])
    lines = report_lines([outcome])

    assert outcome.outcome == "failed"
    assert reason in outcome.message
    assert lines[0].startswith(f"{statement.sources[0]}:"), lines[0]
    # The two comment lines come first; every statement here starts on the third line.
    assert int(lines[0].split(":")[1]) >= 3
    assert reason in lines[0]
    assert "1 failed" in lines[-1]


def test_a_parameter_typed_otherwise_than_it_is_used_fails() -> None:
    sql = f"SELECT event_id FROM {SEARCHES} WHERE DATE(received_at) = @day"
    as_date = Statement("as a date", (SQL_DIR,), Query(sql, {"day": DATE}))
    as_timestamp = Statement("as a timestamp", (SQL_DIR,), Query(sql, {"day": TIMESTAMP}))

    outcomes = {o.statement.name: o for o in analyze([as_date, as_timestamp])}

    assert outcomes["as a date"].outcome == "analyzed"
    assert outcomes["as a timestamp"].outcome == "failed"
    assert "No matching signature for operator =" in outcomes["as a timestamp"].message


def test_a_failure_inside_a_template_is_found_in_the_template(tmp_path: Path) -> None:
    """A dashboard view renders dedup.sql inline; a broken line of the view's own file is found
    there, not in the templates read after it."""
    view_file = tmp_path / "daily_funnel.sql"
    broken = (SQL_DIR / DAILY_FUNNEL.sql_file).read_text().replace("COUNTIF(", "COUNT_IF(", 1)
    view_file.write_text(broken)
    sql = view_sql(DAILY_FUNNEL, DATASETS).replace("COUNTIF(", "COUNT_IF(", 1)
    # The views it reads: every one declared before it.
    earlier = list(takewhile(lambda s: s.name != "view daily_funnel", sql_check.statements()))
    statement = Statement("view daily_funnel", (view_file, SQL_DIR / "dedup.sql"), Query(sql))

    *_, outcome = analyze([*earlier, statement])
    [line, rendered, _] = report_lines([outcome])

    expected = next(n for n, t in enumerate(broken.splitlines(), 1) if "COUNT_IF(" in t)
    assert line.startswith(f"{view_file}:{expected}: view daily_funnel: "), line
    assert "COUNT_IF(" in rendered


def test_a_script_statement_is_parsed_and_listed_as_parsed_only() -> None:
    script = Statement(
        "a script", (SQL_DIR,), Query(f"SELECT 1 FROM {SEARCHES} LIMIT 1;\nSET x = 2;")
    )

    outcomes = analyze([script])

    assert [o.outcome for o in outcomes] == ["analyzed", "parsed"]
    assert report_lines(outcomes)[0] == "parsed only (not analyzed): a script"


def test_a_view_is_analyzed_against_the_views_before_it() -> None:
    """The dashboard views read the _dedup views: analyzed alone, they name unknown tables."""
    daily_funnel = next(s for s in sql_check.statements() if s.name == "view daily_funnel")

    [alone] = analyze([daily_funnel])

    assert alone.outcome == "failed"
    assert "Table not found" in alone.message


def test_the_check_exits_1_on_a_broken_statement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    statement = _written(tmp_path, BROKEN["DuckDB's COUNT_IF"][0])
    monkeypatch.setattr(sql_check, "statements", lambda: [statement])

    assert main([]) == 1
    assert "Function not found: COUNT_IF" in capsys.readouterr().out


def test_every_statement_is_analyzed_and_none_only_parsed() -> None:
    outcomes: list[Outcome] = analyze(sql_check.statements())

    assert {o.outcome for o in outcomes} == {"analyzed"}
    assert {o.statement.name for o in outcomes} == {s.name for s in sql_check.statements()}
