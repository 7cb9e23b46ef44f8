"""Recent per-user activity in Redis for real-time features (off unless REDIS_ENABLED=true).

Per user (or per device, for an event without a user id), a capped list of compact recent
events; per user, the set of devices linked to them; per day, counters by event type (the keys:
``contracts.redis_keys``; the entry: ``contracts.live_activity``). The features function reads
the list for its live part. Every key has a TTL so nothing outlives the raw-event retention.
Redis is a cache here, not a record: failures are reported and logged, never fail the request.
"""

from collections.abc import Callable, Sequence

from event_capture.contracts import live_activity
from event_capture.contracts.redis_keys import (
    daily_counts_key,
    devices_key,
    subject_activity_key,
)
from event_capture.ingest.retry import describe
from event_capture.ingest.row import Request, Row
from event_capture.ingest.sinks.result import FailureKind, SinkResult, all_failed
from event_capture.platform.redis_surface import ActivityRedis
from event_capture.schemas.identity_link import IdentityLink


class RedisActivitySink:
    def __init__(
        self, client: Callable[[], ActivityRedis], *, max_length: int, ttl_seconds: int
    ) -> None:
        self._client_factory = client
        self._client: ActivityRedis | None = None
        self._max_length = max_length
        self._ttl_seconds = ttl_seconds

    def write(self, rows: Sequence[Row], request: Request) -> SinkResult:
        try:
            if self._client is None:
                self._client = self._client_factory()
            # One round trip for the whole batch; no MULTI, since partial application is
            # harmless for a cache and a transaction would block other writers.
            pipe = self._client.pipeline(transaction=False)
            lists: set[str] = set()
            linked: set[str] = set()
            # Counted by the day the function received the events, as the tables partition.
            counts = daily_counts_key(f"{request.received_at:%Y-%m-%d}")
            for row in rows:
                if row.user_id is not None and row.anonymous_id is not None:
                    # Only trusted user ids reach the pipeline, so the link is too (links.py).
                    pipe.sadd(devices_key(row.user_id), row.anonymous_id)
                    linked.add(devices_key(row.user_id))
                if row.table == IdentityLink.TABLE:
                    continue  # a link, not activity
                key = subject_activity_key(row.user_id, row.anonymous_id)
                pipe.lpush(key, live_activity.encode(row.data))
                lists.add(key)
                pipe.hincrby(counts, row.event_type, 1)
            for key in lists:
                pipe.ltrim(key, 0, self._max_length - 1)
                pipe.expire(key, self._ttl_seconds)
            for key in linked:
                pipe.expire(key, self._ttl_seconds)
            pipe.expire(counts, self._ttl_seconds)
            pipe.execute()
        except Exception as error:  # noqa: BLE001 - a cache failure never fails capture
            detail = describe(error)
            return SinkResult.of(
                [], all_failed(rows, FailureKind.UNDELIVERED, detail), error=detail
            )
        return SinkResult.of(list(rows), [])
