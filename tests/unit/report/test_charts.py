"""report.charts: what each chart draws from the report's rows."""

from event_capture.report import charts


def test_capture_outcomes_partition_the_events_received() -> None:
    row = {"accepted": 9, "dead_lettered": 3, "rejected": 2, "not_stored": 1, "received": 12}

    outcomes = charts.capture_outcomes(row)

    assert sum(outcomes.values()) == row["received"]
    assert list(outcomes.values()) == [6, 3, 2, 1]


def test_journey_kinds_partition_the_anonymous_sessions_and_devices() -> None:
    row = {
        "anonymous_sessions": 5,
        "linked_sessions": 2,
        "anonymous_devices": 3,
        "linked_devices": 1,
    }

    kinds = charts.journey_kinds(row)

    assert list(kinds) == list(charts.JOURNEY_KINDS)
    assert [k["sessions"] for k in kinds.values()] == [2, 3]
    assert [k["devices"] for k in kinds.values()] == [1, 2]
