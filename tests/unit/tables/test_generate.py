"""``python -m event_capture.tables.generate``: writes each table's JSON from its model, fails
``--check`` on drift, and refuses a change BigQuery could not apply to a table holding rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from event_capture.tables import generate
from event_capture.tables.definitions import TABLES_DIR
from event_capture.tables.generate import render

PROJECT_ROOT = Path(__file__).resolve().parents[3]
TABLE_FILES = sorted(TABLES_DIR.glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(path.read_text())
    return definition


def col(name: str, type_: str = "STRING", mode: str = "NULLABLE", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "mode": mode, **extra}


def test_generate_check_passes_on_the_clean_tree() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "event_capture.tables.generate", "--check"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout == ""


@pytest.fixture
def tables_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the generator at an empty temporary tables directory."""
    monkeypatch.setattr(generate, "TABLES_DIR", tmp_path)
    monkeypatch.setattr(generate, "table_path", lambda table_id: tmp_path / f"{table_id}.json")
    return tmp_path


def test_generate_writes_every_table_then_check_is_clean(tables_dir: Path) -> None:
    assert generate.main([]) == 0

    assert {p.name for p in tables_dir.iterdir()} == {p.name for p in TABLE_FILES}
    for path in TABLE_FILES:
        assert (tables_dir / path.name).read_text() == path.read_text()
    assert generate.main(["--check"]) == 0


def test_generate_check_fails_on_drift_without_writing(
    tables_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate.main([])
    stale = tables_dir / "orders.json"
    stale.write_text(stale.read_text().replace("Line items.", "Old description."))

    assert generate.main(["--check"]) == 1

    assert "orders.json: out of date with OrderEvent" in capsys.readouterr().out
    assert "Old description." in stale.read_text()


def test_generate_refuses_a_non_additive_change(
    tables_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate.main([])
    capsys.readouterr()
    path = tables_dir / "searches.json"
    old = _load(path)
    # Pretend the committed table had a column the model no longer has.
    old["schema"]["fields"].append(col("legacy_column"))
    path.write_text(render(old))

    assert generate.main([]) == 1

    output = capsys.readouterr().out
    assert "searches.json: not an additive change (legacy_column: column removed)" in output
    assert _load(path) == old


def test_generate_applies_an_additive_change(tables_dir: Path) -> None:
    generate.main([])
    path = tables_dir / "voice_interactions.json"
    old = _load(path)
    # Pretend the committed table predates the optional "anonymous_id" column (appended last).
    old["schema"]["fields"] = [f for f in old["schema"]["fields"] if f["name"] != "anonymous_id"]
    path.write_text(render(old))

    assert generate.main([]) == 0

    assert path.read_text() == (TABLES_DIR / "voice_interactions.json").read_text()
