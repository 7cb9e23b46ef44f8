"""Eventarc's push of a Pub/Sub message to a function, as the local cloud's stand-in for a
topic: a binary-mode CloudEvent of type ``google.cloud.pubsub.topic.v1.messagePublished`` whose
data is ``{"message", "subscription"}`` (the budget's notifications, the backfill's schedule)."""

import base64
import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import requests

MESSAGE_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"


def envelope(
    data: bytes, *, subscription: str, attributes: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The CloudEvent's data for one message."""
    return {
        "message": {
            **({"attributes": dict(attributes)} if attributes else {}),
            "data": base64.b64encode(data).decode(),
            "messageId": uuid.uuid4().hex,
            "publishTime": dt.datetime.now(dt.UTC).isoformat(),
        },
        "subscription": f"projects/local/subscriptions/{subscription}",
    }


def deliver(
    url: str, data: Mapping[str, Any], *, topic: str, timeout: float = 600.0
) -> requests.Response:
    """One push of ``data`` (``envelope``'s) from ``topic`` to the function at ``url``."""
    return requests.post(
        url,
        json=data,
        headers={
            "ce-id": uuid.uuid4().hex,
            "ce-specversion": "1.0",
            "ce-type": MESSAGE_PUBLISHED,
            "ce-source": f"//pubsub.googleapis.com/projects/local/topics/{topic}",
        },
        timeout=timeout,
    )
