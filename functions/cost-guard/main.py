"""The cost guard's entry point (Cloud Functions gen2, the budget's Pub/Sub notifications
through Eventarc): ``event_capture.cost_guard.function``."""

import functions_framework
from cloudevents.http import CloudEvent

from event_capture.cost_guard.config import load_guard_config
from event_capture.cost_guard.function import build_cost_guard

FUNCTION = build_cost_guard(load_guard_config())


@functions_framework.cloud_event
def cost_guard(event: CloudEvent) -> None:
    """Act on one budget notification (see ``GuardFunction``)."""
    FUNCTION(event)
