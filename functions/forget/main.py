"""The forget function's entry point (Cloud Functions gen2, Cloud Scheduler's messages through
Pub/Sub): ``event_capture.forget.function``."""

import functions_framework
from cloudevents.http import CloudEvent

from event_capture.forget.config import load_forget_config
from event_capture.forget.function import build_forget

FUNCTION = build_forget(load_forget_config())


@functions_framework.cloud_event
def forget_users(event: CloudEvent) -> None:
    """Carry out every filed request to forget a user (see ``ForgetFunction``)."""
    FUNCTION(event)
