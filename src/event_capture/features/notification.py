"""Which snapshot a BigQuery Data Transfer run notification announces.

The last feature query (``user_recommendations``) publishes each run to a Pub/Sub topic; its
message data is the TransferRun as JSON. A run on ``runTime`` day D ran with ``@run_date`` D and
wrote the snapshot of D - 1 (``replace_partition.sql``).
"""

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

SUCCEEDED = "SUCCEEDED"


class NotificationError(ValueError):
    """The message is not a transfer run notification; the text says what is wrong."""


@dataclass(frozen=True)
class TransferRun:
    state: str
    run_time: dt.datetime

    @property
    def snapshot_date(self) -> dt.date:
        return self.run_time.astimezone(dt.UTC).date() - dt.timedelta(days=1)


def parse_run(cloud_event_data: Any) -> TransferRun:
    """The run in an Eventarc Pub/Sub event (``{"message": {"data": <base64>}}``)."""
    try:
        encoded = cloud_event_data["message"]["data"]
        run = json.loads(base64.b64decode(encoded, validate=True))
    except (KeyError, TypeError, ValueError) as error:
        detail = f"not a Pub/Sub message with JSON data ({type(error).__name__})"
        raise NotificationError(detail) from None
    if not isinstance(run, dict):
        raise NotificationError("message data is not a JSON object")
    state, run_time = run.get("state"), run.get("runTime")
    if not isinstance(state, str) or not isinstance(run_time, str):
        raise NotificationError("message data has no state and runTime strings")
    try:
        moment = dt.datetime.fromisoformat(run_time)
    except ValueError:
        raise NotificationError("runTime is not an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise NotificationError("runTime has no UTC offset")
    return TransferRun(state, moment)
