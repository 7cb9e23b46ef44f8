"""bench/results.py: a benchmark's output, kept as a dated section of its result file."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

from bench import results

AT = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)


def run(directory: Path, printed: str, status: int = 0, at: dt.datetime = AT) -> int:
    def main() -> int:
        print(printed)
        return status

    return results.recorded("sample", main, directory=directory, now=lambda: at)


def test_a_run_is_printed_and_kept_newest_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, "first: 1.0 µs") == 0
    assert run(tmp_path, "second: 2.0 µs", at=AT + dt.timedelta(days=1)) == 0

    text = (tmp_path / "sample.md").read_text()
    assert text.startswith("# sample: results\n")
    assert text.index("## Run of 2026-12-08 09:30 UTC") < text.index("## Run of 2026-12-07")
    assert text.index("second: 2.0 µs") < text.index("first: 1.0 µs")
    assert "first: 1.0 µs" in capsys.readouterr().out


def test_a_script_that_asks_for_line_buffering_is_still_recorded(tmp_path: Path) -> None:
    def main() -> int:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        print("figures as they come")
        return 0

    assert results.recorded("sample", main, directory=tmp_path, now=lambda: AT) == 0
    assert "figures as they come" in (tmp_path / "sample.md").read_text()


def test_a_failed_run_is_not_kept(tmp_path: Path) -> None:
    assert run(tmp_path, "half a figure", status=1) == 1

    assert not (tmp_path / "sample.md").exists()


def test_only_the_newest_runs_are_kept(tmp_path: Path) -> None:
    for day in range(results.KEPT_RUNS + 2):
        run(tmp_path, f"run {day}", at=AT + dt.timedelta(days=day))

    text = (tmp_path / "sample.md").read_text()
    assert text.count("## Run of ") == results.KEPT_RUNS
    assert f"run {results.KEPT_RUNS + 1}" in text and "run 1\n" not in text
