"""report.charts: what each chart draws from the report's rows."""

from event_capture.report import charts


def test_capture_outcomes_partition_the_events_received() -> None:
    row = {"accepted": 9, "dead_lettered": 3, "rejected": 2, "not_stored": 1, "received": 12}

    outcomes = charts.capture_outcomes(row)

    assert sum(outcomes.values()) == row["received"]
    assert list(outcomes.values()) == [6, 3, 2, 1]
