"""Budget notifications as Cloud Billing publishes them and Eventarc delivers them: a local
stand-in for the budget's Pub/Sub topic, to drive the cost guard on the local cloud.

The format is the documented one (schemaVersion 1.0): attributes ``billingAccountId``,
``budgetId`` and ``schemaVersion``; JSON data with ``budgetDisplayName``, ``costAmount``,
``costIntervalStart``, ``budgetAmount``, ``budgetAmountType``, ``alertThresholdExceeded`` and
``currencyCode``. Eventarc pushes it as a binary-mode CloudEvent of type
``google.cloud.pubsub.topic.v1.messagePublished`` whose data is ``{"message", "subscription"}``.
"""

import datetime as dt
import json
from typing import Any

import requests

from localcloud import pubsub_push
from localcloud.pubsub_push import envelope

LOCAL_BUDGET_ID = "local-budget"


def month_start(moment: dt.datetime | None = None) -> dt.datetime:
    """The start of the budget period a monthly budget is in at ``moment`` (UTC)."""
    moment = moment or dt.datetime.now(dt.UTC)
    return moment.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(moment: dt.datetime | None = None) -> dt.datetime:
    return (month_start(moment) + dt.timedelta(days=32)).replace(day=1)


def notification_data(
    *,
    cost: float,
    budget: float,
    interval_start: dt.datetime,
    budget_id: str = LOCAL_BUDGET_ID,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The CloudEvent data of one budget notification; ``data`` replaces the message's JSON."""
    spent = cost / budget if budget else 0.0
    thresholds = [t for t in (0.5, 0.9, 1.0) if spent >= t]
    message = data or {
        "budgetDisplayName": "Event capture (local)",
        **({"alertThresholdExceeded": thresholds[-1]} if thresholds else {}),
        "costAmount": cost,
        "costIntervalStart": interval_start.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "budgetAmount": budget,
        "budgetAmountType": "SPECIFIED_AMOUNT",
        "currencyCode": "USD",
    }
    return envelope(
        json.dumps(message).encode(),
        subscription="eventarc-cost-guard",
        attributes={
            "billingAccountId": "000000-000000-000000",
            "budgetId": budget_id,
            "schemaVersion": "1.0",
        },
    )


def deliver(url: str, data: dict[str, Any], timeout: float = 600.0) -> requests.Response:
    """Eventarc's push of one budget notification to the guard function at ``url``."""
    return pubsub_push.deliver(url, data, topic="budget-alerts", timeout=timeout)
