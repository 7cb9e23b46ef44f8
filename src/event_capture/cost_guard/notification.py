"""A Cloud Billing budget notification, as Pub/Sub delivers it through Eventarc.

The message's attributes carry ``budgetId`` and ``schemaVersion`` ("1.0"); its data is JSON with
``costAmount``, ``budgetAmount``, ``costIntervalStart`` (the start of the budget period) and,
when the budget has threshold rules, ``alertThresholdExceeded``. Billing sends one several
times a day whatever the spend, so the same message, or the same figures, come again and again.
"""

import base64
import contextlib
import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = "1.0"
# A budget's period is a calendar month at most (or a quarter's month, a custom period's day):
# the notification of the current one began less than this long ago, and not in the future
# (a day of clock difference aside). A date outside that is no period of this budget.
MAX_PERIOD_AGE = dt.timedelta(days=40)
CLOCK_SKEW = dt.timedelta(days=1)


class NotificationError(ValueError):
    """Not a budget notification this guard can act on; the text names the field and rule."""


@dataclass(frozen=True, kw_only=True)
class BudgetNotification:
    budget_id: str
    display_name: str
    cost_amount: float
    budget_amount: float
    currency: str
    interval_start: dt.datetime

    @property
    def spent_share(self) -> float:
        """Spend so far as a share of the budget (1.0: the budget is spent)."""
        return self.cost_amount / self.budget_amount


def _number(data: dict[str, Any], name: str) -> float:
    value = data.get(name)
    number = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError):  # an integer past the range of a float
            number = float(value)
    if not math.isfinite(number):
        raise NotificationError(f"data.{name}: must be a finite number")
    return number


def parse_notification(cloud_event_data: Any) -> BudgetNotification:
    """The notification in an Eventarc Pub/Sub event (``{"message": {"data", "attributes"}}``)."""
    try:
        message = cloud_event_data["message"]
        encoded = message["data"]
        data = json.loads(base64.b64decode(encoded, validate=True))
    except (KeyError, TypeError, ValueError) as error:
        raise NotificationError(
            f"message.data: not a Pub/Sub message with base64 JSON data ({type(error).__name__})"
        ) from None
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise NotificationError("message.attributes: must be a JSON object")
    if not isinstance(data, dict):
        raise NotificationError("message.data: must be a JSON object")
    version = attributes.get("schemaVersion")
    if version != SCHEMA_VERSION:
        raise NotificationError(f"attributes.schemaVersion: must be {SCHEMA_VERSION!r}")
    budget_id = attributes.get("budgetId")
    if not isinstance(budget_id, str) or not budget_id:
        raise NotificationError("attributes.budgetId: required")
    cost, budget = _number(data, "costAmount"), _number(data, "budgetAmount")
    if budget <= 0:
        raise NotificationError("data.budgetAmount: must be above 0")
    if cost < 0:
        raise NotificationError("data.costAmount: must not be negative")
    start = data.get("costIntervalStart")
    try:
        interval_start = dt.datetime.fromisoformat(start) if isinstance(start, str) else None
    except ValueError:
        interval_start = None
    if interval_start is None or interval_start.tzinfo is None:
        raise NotificationError("data.costIntervalStart: must be an RFC 3339 timestamp")
    try:
        interval_start = interval_start.astimezone(dt.UTC)
    except OverflowError:
        raise NotificationError("data.costIntervalStart: outside the range of dates") from None
    return BudgetNotification(
        budget_id=budget_id,
        display_name=str(data.get("budgetDisplayName", "")),
        cost_amount=cost,
        budget_amount=budget,
        currency=str(data.get("currencyCode", "")),
        interval_start=interval_start,
    )


def check_believable(notification: BudgetNotification, *, budget_id: str, now: dt.datetime) -> None:
    """Refuse a notification that is not of this stack's budget, or whose period does not begin
    around ``now``: anyone who may publish on the topic could otherwise resume streaming with a
    period dated 9999, after which every genuine over-budget notice is an old period's."""
    if notification.budget_id != budget_id:
        raise NotificationError("attributes.budgetId: must be this stack's budget (BUDGET_ID)")
    if not now - MAX_PERIOD_AGE <= notification.interval_start <= now + CLOCK_SKEW:
        raise NotificationError(
            f"data.costIntervalStart: must be within the last {MAX_PERIOD_AGE.days} days"
        )
