"""Every Redis key the project uses, in one place.

Readable on purpose: ``redis-cli`` shows what a user is told without any SDK.

Live, written by the capture function on every accepted request (``REDIS_ENABLED=true``):

- ``capture:activity:<user_id>``: LIST, newest first, of compact recent events (JSON), capped
  at ``REDIS_ACTIVITY_LENGTH``, expiring ``REDIS_TTL_SECONDS`` after the user's last event.
- ``capture:device-activity:<anonymous_id>``: the same, for a device's events without a user
  id (before a login).
- ``capture:devices:<user_id>``: SET of the anonymous ids linked to the user (an ``identify``,
  or an event with both ids), expiring ``REDIS_TTL_SECONDS`` after the newest link; the features
  function reads their activity as the user's.
- ``capture:counts:<YYYY-MM-DD>``: HASH of event type to count for the day received.

Nightly, written by the materializer, one set per snapshot (``<snapshot>`` is
``<snapshot_date>.<digest>``, the digest of its content):

- ``features:current``: STRING, the snapshot readers use. Switching it is the atomic step:
  a reader sees the old snapshot or the new one, never a mix.
- ``features:snapshot:<snapshot>:meta``: HASH (snapshot_date, users, products, loaded_at).
- ``features:snapshot:<snapshot>:users``: HASH of user_id to the user's nightly document
  (JSON: profile, reorder history, recommendations).
- ``features:snapshot:<snapshot>:products``: HASH of product_id to its similar products (JSON).

A snapshot's keys expire ``SNAPSHOT_TTL_SECONDS`` after loading, and a replaced snapshot
``REPLACED_TTL_SECONDS`` after the switch (long enough for a reader that read the pointer just
before it).
"""

from datetime import timedelta

from event_capture.schemas.retention import RETENTION

ACTIVITY_PREFIX = "capture:activity:"
DEVICE_ACTIVITY_PREFIX = "capture:device-activity:"
DEVICES_PREFIX = "capture:devices:"
COUNTS_PREFIX = "capture:counts:"
CURRENT_SNAPSHOT = "features:current"
SNAPSHOT_PREFIX = "features:snapshot:"

# A week of snapshots is kept in BigQuery; one that is not replaced within that time has stopped
# being refreshed, and vanishing (detectable: "snapshot_missing") beats serving it for ever.
SNAPSHOT_TTL_SECONDS = int(timedelta(days=7).total_seconds())
REPLACED_TTL_SECONDS = 300
assert timedelta(seconds=SNAPSHOT_TTL_SECONDS) <= RETENTION


def activity_key(user_id: str) -> str:
    return f"{ACTIVITY_PREFIX}{user_id}"


def device_activity_key(anonymous_id: str) -> str:
    return f"{DEVICE_ACTIVITY_PREFIX}{anonymous_id}"


def devices_key(user_id: str) -> str:
    return f"{DEVICES_PREFIX}{user_id}"


def subject_activity_key(user_id: str | None, anonymous_id: str | None) -> str:
    """The list an event's entry goes to: its user's, else its device's."""
    if user_id is not None:
        return activity_key(user_id)
    if anonymous_id is not None:
        return device_activity_key(anonymous_id)
    raise ValueError("an event has a user_id or an anonymous_id")


def daily_counts_key(day: str) -> str:
    return f"{COUNTS_PREFIX}{day}"


def snapshot_meta_key(snapshot: str) -> str:
    return f"{SNAPSHOT_PREFIX}{snapshot}:meta"


def snapshot_users_key(snapshot: str) -> str:
    return f"{SNAPSHOT_PREFIX}{snapshot}:users"


def snapshot_products_key(snapshot: str) -> str:
    return f"{SNAPSHOT_PREFIX}{snapshot}:products"


def snapshot_keys(snapshot: str) -> tuple[str, str, str]:
    return (
        snapshot_meta_key(snapshot),
        snapshot_users_key(snapshot),
        snapshot_products_key(snapshot),
    )
