"""The budget, its periods and the notifications the cost guard's tests send."""

from __future__ import annotations

import datetime as dt

from event_capture.cost_guard.notification import BudgetNotification

BUDGET = "budget-7f3a"
OTHER_BUDGET = "budget-e21c"
Q1 = "projects/shop/locations/eu/transferConfigs/nightly-search"
Q2 = "projects/shop/locations/eu/transferConfigs/nightly-orders"
QUERIES = (Q1, Q2)
OCTOBER = dt.datetime(2026, 10, 1, 7, tzinfo=dt.UTC)
NOVEMBER = dt.datetime(2026, 11, 1, 7, tzinfo=dt.UTC)
DECEMBER = dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)


def spent(share: float, start: dt.datetime = NOVEMBER, budget: str = BUDGET) -> BudgetNotification:
    """A notification of ``share`` of a 200 EUR budget spent in the period from ``start``."""
    return BudgetNotification(
        budget_id=budget,
        display_name="Event capture",
        cost_amount=round(share * 200.0, 6),
        budget_amount=200.0,
        currency="EUR",
        interval_start=start,
    )
