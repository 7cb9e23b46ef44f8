"""Event entry point of the cost guard (Cloud Functions gen2, Pub/Sub through Eventarc).

Triggered by every budget notification (``event_capture.cost_guard``). A message that cannot be
read is logged and dropped: a redelivery would not read better. A failure to read or write the
control object, the archive, BigQuery or the Data Transfer API raises, so the trigger delivers
the message again; every step is safe to repeat.
"""

import json
import sys
from typing import Any

import functions_framework
from cloudevents.http import CloudEvent

from event_capture.contracts.log_fields import GUARD_MESSAGE, SWITCHING_ACTIONS
from event_capture.cost_guard.config import load_guard_config
from event_capture.cost_guard.notification import NotificationError, parse_notification
from event_capture.cost_guard.wiring import build_guard

GUARD = build_guard(load_guard_config())


def _log(severity: str, **fields: Any) -> None:
    line = {"severity": severity, "message": GUARD_MESSAGE, **fields}
    sys.stdout.write(json.dumps(line, separators=(",", ":"), default=str) + "\n")


@functions_framework.cloud_event
def cost_guard(event: CloudEvent) -> None:
    """Args: ``event``, a Pub/Sub message-published CloudEvent carrying a budget notification."""
    try:
        notification = parse_notification(event.data)
    except NotificationError as error:
        _log("ERROR", action="refused", rule="notification_invalid", detail=str(error))
        return
    outcome = GUARD.on_notification(notification)
    switched = outcome.action.value in SWITCHING_ACTIONS
    _log(
        "WARNING" if switched else "INFO",
        budget_id=notification.budget_id,
        spent_share=round(notification.spent_share, 4),
        interval_start=notification.interval_start.isoformat(),
        **outcome.as_dict(),
    )
