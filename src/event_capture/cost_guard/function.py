"""The cost guard function: every budget notification (Pub/Sub through Eventarc) in, one log
line out.

A message that cannot be read, or is not of this stack's budget and current period, is logged
and dropped: a redelivery would not read better. A
failure to read or write the control object, the archive, BigQuery or the Data Transfer API
raises, so the trigger delivers the message again; every step is safe to repeat.
"""

import datetime as dt
from collections.abc import Callable

from cloudevents.http import CloudEvent

from event_capture.contracts import log_fields as log
from event_capture.cost_guard.config import GuardConfig
from event_capture.cost_guard.guard import CostGuard
from event_capture.cost_guard.notification import (
    NotificationError,
    check_believable,
    parse_notification,
)
from event_capture.cost_guard.wiring import build_guard
from event_capture.platform.config import ConfigError
from event_capture.platform.log_line import write_log_line


class GuardFunction:
    def __init__(
        self,
        guard: CostGuard,
        *,
        budget_id: str,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.guard = guard
        self._budget_id = budget_id
        self._clock = clock

    def __call__(self, event: CloudEvent) -> None:
        try:
            notification = parse_notification(event.data)
            check_believable(notification, budget_id=self._budget_id, now=self._clock())
        except NotificationError as error:
            write_log_line(
                {
                    log.SEVERITY: "ERROR",
                    log.MESSAGE: log.GUARD_MESSAGE,
                    log.ACTION: "refused",
                    log.RULE: "notification_invalid",
                    "detail": str(error),
                }
            )
            return
        outcome = self.guard.on_notification(notification)
        switched = outcome.action.value in log.SWITCHING_ACTIONS
        write_log_line(
            {
                log.SEVERITY: "WARNING" if switched else "INFO",
                log.MESSAGE: log.GUARD_MESSAGE,
                "budget_id": notification.budget_id,
                "spent_share": round(notification.spent_share, 4),
                "interval_start": notification.interval_start.isoformat(),
                **outcome.as_dict(),
            }
        )


def build_cost_guard(config: GuardConfig) -> GuardFunction:
    if not config.budget_id:
        raise ConfigError("BUDGET_ID: required: the budget id (the last part of its name)")
    return GuardFunction(build_guard(config), budget_id=config.budget_id)
