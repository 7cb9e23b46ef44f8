"""decide(): what a budget notification calls for, given the control document, as one table.

Each row is a document, a notification and the action; the states are the ones the guard
writes (guard.py), built here literally so that a row reads on its own. That the guard writes
exactly these is tests/unit/cost_guard/test_guard.py's business.
"""

from __future__ import annotations

import datetime as dt

import pytest

from event_capture.contracts.capture_mode import CaptureMode, ControlState, Period
from event_capture.cost_guard.decision import Action, decide, period_of
from event_capture.cost_guard.notification import BudgetNotification
from tests.unit.cost_guard.budget import (
    BUDGET,
    DECEMBER,
    NOVEMBER,
    OCTOBER,
    OTHER_BUDGET,
    Q1,
    Q2,
    QUERIES,
    spent,
)


def archive_only(
    start: dt.datetime = NOVEMBER,
    paused: tuple[str, ...] = QUERIES,
    budget: str = BUDGET,
    done: bool = True,
) -> ControlState:
    """Tripped in ``start``'s period; ``paused`` recorded, and every pause call made (``done``)."""
    return ControlState(
        mode=CaptureMode.ARCHIVE_ONLY,
        reason="over budget",
        archive_only_since=start + dt.timedelta(days=19),
        tripped=Period(budget_id=budget, interval_start=start),
        paused_queries=paused,
        queries_paused=done,
    )


def overridden(start: dt.datetime = NOVEMBER, budget: str = BUDGET) -> ControlState:
    """An operator switched back within the period (guard.resume)."""
    return ControlState(
        reason="switched back by an operator",
        overridden=Period(budget_id=budget, interval_start=start),
    )


STREAM = ControlState()

TABLE = [
    # Streaming: the threshold.
    pytest.param(STREAM, spent(0.0), 1.0, Action.NOTHING, id="nothing-spent"),
    pytest.param(STREAM, spent(0.999), 1.0, Action.NOTHING, id="under-threshold"),
    pytest.param(STREAM, spent(1.0), 1.0, Action.TRIP, id="at-threshold"),
    pytest.param(STREAM, spent(1.7), 1.0, Action.TRIP, id="over-threshold"),
    pytest.param(STREAM, spent(0.49), 0.5, Action.NOTHING, id="under-half-threshold"),
    pytest.param(STREAM, spent(0.5), 0.5, Action.TRIP, id="at-half-threshold"),
    pytest.param(STREAM, spent(1.2), 1.5, Action.NOTHING, id="under-150-percent-threshold"),
    # Archive-only for November: November's messages, repeated all day, change nothing.
    pytest.param(archive_only(), spent(1.3), 1.0, Action.NOTHING, id="same-period-again"),
    pytest.param(archive_only(), spent(0.2), 1.0, Action.NOTHING, id="same-period-under"),
    pytest.param(
        archive_only(paused=()), spent(1.3), 1.0, Action.FINISH_TRIP, id="queries-not-paused"
    ),
    pytest.param(
        archive_only(paused=(Q1,)), spent(1.3), 1.0, Action.FINISH_TRIP, id="one-query-unpaused"
    ),
    pytest.param(
        archive_only(done=False),
        spent(1.3),
        1.0,
        Action.FINISH_TRIP,
        id="recorded-not-all-paused",
    ),
    pytest.param(
        archive_only(paused=(Q2, Q1)), spent(1.3), 1.0, Action.NOTHING, id="paused-in-any-order"
    ),
    # December begins.
    pytest.param(archive_only(), spent(0.01, DECEMBER), 1.0, Action.RESUME, id="later-under"),
    pytest.param(archive_only(), spent(1.1, DECEMBER), 1.0, Action.TRIP, id="later-over"),
    pytest.param(
        archive_only(paused=()),
        spent(0.01, DECEMBER),
        1.0,
        Action.RESUME,
        id="later-under-before-pausing",
    ),
    pytest.param(
        archive_only(),
        spent(0.01, DECEMBER, OTHER_BUDGET),
        1.0,
        Action.NOTHING,
        id="another-budgets-later-period",
    ),
    pytest.param(
        archive_only(budget="operator"),
        spent(0.01, DECEMBER),
        1.0,
        Action.NOTHING,
        id="an-operator-trip-is-not-resumed-by-a-budget",
    ),
    # Late messages of an earlier period.
    pytest.param(
        archive_only(DECEMBER), spent(1.4, NOVEMBER), 1.0, Action.NOTHING, id="older-over"
    ),
    pytest.param(
        archive_only(DECEMBER), spent(0.1, NOVEMBER), 1.0, Action.NOTHING, id="older-under"
    ),
    # An operator switched back in November.
    pytest.param(overridden(), spent(1.4), 1.0, Action.NOTHING, id="overridden-period"),
    pytest.param(overridden(), spent(1.4, DECEMBER), 1.0, Action.TRIP, id="overridden-next"),
    pytest.param(overridden(), spent(1.4, OCTOBER), 1.0, Action.NOTHING, id="before-override"),
    pytest.param(
        overridden(),
        spent(1.4, NOVEMBER, OTHER_BUDGET),
        1.0,
        Action.TRIP,
        id="override-is-per-budget",
    ),
]


@pytest.mark.parametrize(("state", "notification", "threshold", "action"), TABLE)
def test_decide(
    state: ControlState, notification: BudgetNotification, threshold: float, action: Action
) -> None:
    decision = decide(state, notification, threshold=threshold, queries=QUERIES)

    assert decision.action is action
    assert decision.reason


def test_a_trip_says_how_much_was_spent_against_which_threshold() -> None:
    decision = decide(STREAM, spent(0.625), threshold=0.5, queries=QUERIES)

    assert decision.reason == "62% of the budget spent, threshold 50%"


def test_with_no_queries_configured_an_archive_only_period_has_nothing_to_finish() -> None:
    decision = decide(archive_only(paused=()), spent(1.3), threshold=1.0, queries=())

    assert decision.action is Action.NOTHING


def test_the_period_of_a_notification_is_its_budget_and_start() -> None:
    assert period_of(spent(0.1, DECEMBER)) == Period(budget_id=BUDGET, interval_start=DECEMBER)


def test_a_period_start_in_another_offset_is_the_same_period() -> None:
    """Billing may write the start in the billing account's zone; it is one instant."""
    pacific = NOVEMBER.astimezone(dt.timezone(dt.timedelta(hours=-8)))

    decision = decide(archive_only(), spent(1.3, pacific), threshold=1.0, queries=QUERIES)

    assert decision.action is Action.NOTHING
