"""When a call happened: its client timestamp, corrected for the client's clock skew the way
Segment does (``timestamp = receivedAt - (sentAt - originalTimestamp)``).

``sentAt`` and the call's timestamp are both read from the client's clock, so their difference
is how long the call waited in the SDK's queue, whatever that clock's error; subtracting it from
the server's ``receivedAt`` places the call on the server's clock.
"""

from datetime import datetime
from typing import Any


class SkewOutOfRangeError(ValueError):
    """sentAt and the timestamp are so far apart that the corrected time cannot exist."""


def _aware(value: Any) -> datetime | None:
    if type(value) is not str:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.utcoffset() is not None else None


def parsed(value: Any) -> Any:
    """A usable timestamp as a datetime, anything else as it is: a batch's ``sentAt`` is
    parsed once for all its calls, not once per call."""
    return _aware(value) or value


def occurred_at(timestamp: Any, sent_at: Any, received_at: datetime) -> Any:
    """The corrected time as ISO 8601 text; without a timestamp, ``received_at``.

    A timestamp that does not parse is returned as sent, so validation names its rule; without
    a usable ``sentAt`` (text, or already ``parsed``) no correction is possible and the
    timestamp is kept as sent.
    """
    if timestamp is None:
        return received_at.isoformat()
    moment = _aware(timestamp)
    sent = sent_at if isinstance(sent_at, datetime) else _aware(sent_at)
    if moment is None or sent is None:
        return timestamp
    try:
        return (received_at - (sent - moment)).isoformat()
    except OverflowError:
        raise SkewOutOfRangeError from None
