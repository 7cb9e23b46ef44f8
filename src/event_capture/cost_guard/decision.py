"""What a budget notification calls for, given the control document: a pure function.

Idempotence lives here. A notification is keyed by its budget period (``budgetId`` and
``costIntervalStart``): while capture is archive-only for a period, that period's messages
change nothing; an operator's switch back holds for the rest of the period; an older period's
message, arriving late, is ignored. Only a later period of the budget that tripped can switch
capture back.
"""

from dataclasses import dataclass
from enum import StrEnum

from event_capture.contracts.capture_mode import CaptureMode, ControlState, Period
from event_capture.cost_guard.notification import BudgetNotification


class Action(StrEnum):
    NOTHING = "nothing"
    # Switch capture to archive-only and pause the scheduled queries.
    TRIP = "trip"
    # Archive-only already, but a step of it (pausing the queries) is still to be done.
    FINISH_TRIP = "finish_trip"
    # Switch back: streaming again, archived events loaded, queries resumed.
    RESUME = "resume"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str


def period_of(notification: BudgetNotification) -> Period:
    return Period(budget_id=notification.budget_id, interval_start=notification.interval_start)


def decide(
    state: ControlState,
    notification: BudgetNotification,
    *,
    threshold: float,
    queries: tuple[str, ...],
) -> Decision:
    """``threshold``: the share of the budget at which capture goes archive-only (1.0 = 100 %);
    ``queries``: the scheduled queries a trip pauses."""
    period = period_of(notification)
    over = notification.spent_share >= threshold
    spent = f"{notification.spent_share:.0%} of the budget spent"
    if state.mode is CaptureMode.ARCHIVE_ONLY:
        tripped = state.tripped
        later = (
            tripped is not None
            and period.budget_id == tripped.budget_id
            and period.interval_start > tripped.interval_start
        )
        if later and not over:
            return Decision(Action.RESUME, f"a new budget period began ({spent})")
        if later:
            return Decision(Action.TRIP, f"the new budget period is over threshold too ({spent})")
        if not state.queries_paused or not set(queries) <= set(state.paused_queries):
            return Decision(Action.FINISH_TRIP, "scheduled queries still to pause")
        return Decision(Action.NOTHING, f"archive-only already ({spent})")
    if not over:
        return Decision(Action.NOTHING, f"under threshold ({spent})")
    for seen in (state.overridden, state.tripped, state.resumed_by):
        if (
            seen is not None
            and seen.budget_id == period.budget_id
            and period.interval_start < seen.interval_start
        ):
            return Decision(Action.NOTHING, "a notification of an earlier budget period")
    if state.overridden == period:
        return Decision(Action.NOTHING, f"an operator switched back for this period ({spent})")
    return Decision(Action.TRIP, f"{spent}, threshold {threshold:.0%}")
