"""tools/cost.py, ``make cost``: its argument errors, its table, and the stack sizes it reads
from the Pulumi settings."""

import pytest

from event_capture.cost import figures, prices
from tests.unit.cost.test_model import measurements
from tools import cost


@pytest.mark.parametrize(
    ("argv", "named", "rule"),
    [
        (["--users", "0"], "--users", "at least 1"),
        (["--users", "many"], "--users", "whole number"),
        (["--events-per-user-day", "-3"], "--events-per-user-day", "above 0"),
        (["--batch", "501"], "--batch", "from 1 to 500"),
        (["--mix", "search"], "--mix", "event_type=weight"),
        (["--mix", "checkout=1"], "--mix", "not an event type"),
        (["--compare", "50,,5000"], "--compare", "separated by commas"),
        (["--bigquery-api", "streaming"], "--bigquery-api", "invalid choice"),
        (["--archive-only-share", "1.5"], "--archive-only-share", "from 0 to 1"),
        (["--collector-share", "2"], "--collector-share", "from 0 to 1"),
        (["--collector-batch", "0"], "--collector-batch", "above 0"),
        (["--request-seconds", "0"], "--request-seconds", "above 0"),
    ],
)
def test_a_bad_argument_is_one_line_naming_it_and_its_rule(
    argv: list[str], named: str, rule: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cost.parser().parse_args(argv)

    error = capsys.readouterr().err
    assert exit_.value.code == 2
    assert error.count("\n") == 1
    assert named in error and rule in error


def test_the_cli_prints_a_column_per_user_count(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cost, "cached", lambda **_: measurements())

    cost.main(["--compare", "50,5000,500000"])

    out = capsys.readouterr().out
    [users] = [row for row in out.splitlines() if row.startswith("users")]
    assert users.split()[1:] == ["50", "5,000", "500,000"]
    assert "UNCONFIRMED" in out and prices.COLLECTED in out


def test_the_cli_prints_what_the_bill_rests_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cost, "cached", lambda **_: measurements())

    cost.main(["--compare", "50,5000", "--bigquery-api", "insert-all"])

    out = capsys.readouterr().out
    derived = out.split("capture requests (derived):", 1)[1].splitlines()[1:3]
    assert [row.split()[0] for row in derived] == ["50", "5,000"]
    assert all("archive objects a month" in row for row in derived)
    assert "BigQuery ingestion: insert-all" in out
    for latency in figures.LATENCIES:
        assert latency.source in out


def test_the_cli_reports_a_mix_it_has_no_rows_for(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cost, "cached", lambda **_: measurements())

    with pytest.raises(SystemExit) as exit_:
        cost.main(["--mix", "session_start=1"])

    assert "session_start" in str(exit_.value.code)


def test_the_stack_sizes_come_from_its_settings() -> None:
    assert cost.gib("512Mi") == 0.5
    assert cost.gib("2Gi") == 2
    with pytest.raises(ValueError, match="memory"):
        cost.gib("512MB")
    assert cost.stack_assumptions().capture.concurrency >= 1
