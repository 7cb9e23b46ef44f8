"""Read a user's or a product's features from Redis: the snapshot, merged with live activity.

One round trip per answer in the usual case (snapshot meta, the user's document, their
activity and their linked devices in one pipeline); a second when devices are linked to the
user (their activity before the login counts as the user's), and one for "similar to what you
just viewed". The pointer to
the current snapshot is cached for ``pointer_seconds``: a replaced snapshot outlives the
switch by minutes (``keys.REPLACED_TTL_SECONDS``), so a cached pointer never reads a half.
"""

import datetime as dt
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from event_capture.contracts import live_activity
from event_capture.contracts import redis_keys as keys
from event_capture.features import live
from event_capture.features.documents import ProductDocument, UserDocument
from event_capture.platform.redis_surface import FeatureRedis, Reply
from event_capture.schemas.features import (
    DeviceFeatures,
    Part,
    ProductSimilar,
    RecentItems,
    SimilarProduct,
    UserFeatures,
)


class RedisUnavailableError(Exception):
    """Redis did not answer in time or refused; the message is the error's type and text."""


@dataclass
class Reading:
    """What one answer cost, for its log line."""

    round_trips: int = 0
    snapshot: str | None = None


def _text(value: Reply) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _document[D: BaseModel](model: type[D], raw: str | bytes) -> D | None:
    # A document this version cannot read (written by a newer materializer, or damaged) is
    # served as absent rather than failing the answer; the next load rewrites it.
    try:
        return model.model_validate_json(raw)
    except ValidationError:
        return None


class FeatureReader:
    def __init__(
        self,
        redis: Callable[[], FeatureRedis],
        *,
        activity_length: int = 100,
        pointer_seconds: float = 1.0,
        today: Callable[[], dt.date] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis_factory = redis
        self._redis: FeatureRedis | None = None
        self._lock = threading.Lock()
        self._activity_length = activity_length
        self._pointer_seconds = pointer_seconds
        self._today = today or (lambda: dt.datetime.now(dt.UTC).date())
        self._monotonic = monotonic
        self._pointer: tuple[str | None, float] | None = None

    def _client(self) -> FeatureRedis:
        with self._lock:
            if self._redis is None:
                self._redis = self._redis_factory()
            return self._redis

    def _call[T](self, reading: Reading, fn: Callable[[FeatureRedis], T]) -> T:
        reading.round_trips += 1
        try:
            return fn(self._client())
        except Exception as error:  # redis' ConnectionError, TimeoutError and kin
            raise RedisUnavailableError(f"{type(error).__name__}: {error}"[:200]) from error

    def _snapshot(self, reading: Reading) -> str | None:
        now = self._monotonic()
        cached = self._pointer
        if cached is None or now - cached[1] > self._pointer_seconds:
            pointer = _text(self._call(reading, lambda r: r.get(keys.CURRENT_SNAPSHOT)))
            self._pointer = cached = (pointer, now)
        reading.snapshot = cached[0]
        return cached[0]

    def _forget_pointer(self) -> None:
        self._pointer = None

    def _served_date(self, meta_date: Reply) -> dt.date | None:
        """The snapshot's date from its meta, or None when the meta is gone."""
        if meta_date is None:
            # Expired or never completed: the pointer is stale; read it again next time.
            self._forget_pointer()
            return None
        return dt.date.fromisoformat(_text(meta_date) or "")

    def user(
        self, user_id: str, parts: Collection[Part], limit: int, reading: Reading | None = None
    ) -> UserFeatures:
        """The user's answer; raises ``RedisUnavailableError`` when Redis cannot be read."""
        reading = reading or Reading()
        snapshot = self._snapshot(reading)

        def read(r: FeatureRedis) -> list[Any]:
            pipe = r.pipeline(transaction=False)
            if snapshot:
                pipe.hget(keys.snapshot_meta_key(snapshot), "snapshot_date")
                pipe.hget(keys.snapshot_users_key(snapshot), user_id)
            pipe.lrange(keys.activity_key(user_id), 0, self._activity_length - 1)
            pipe.smembers(keys.devices_key(user_id))
            return pipe.execute()

        answer = self._call(reading, read)
        snapshot_date: dt.date | None = None
        document: UserDocument | None = None
        if snapshot:
            meta_date, raw_document, activity, devices = answer
            snapshot_date = self._served_date(meta_date)
            if snapshot_date is not None and raw_document is not None:
                document = _document(UserDocument, raw_document)
        else:
            activity, devices = answer
        entries = live_activity.parse(activity)
        if devices:
            entries = self._with_devices(entries, sorted(_text(d) or "" for d in devices), reading)
        since = live.Since.of(entries, snapshot_date)
        recent = live.recent_items(entries, limit)
        features = UserFeatures(
            user_id=user_id,
            known=document is not None or bool(entries),
            snapshot=snapshot_date,
            degraded=[] if snapshot_date else ["snapshot_missing"],
            profile=document.profile if document and "profile" in parts else None,
            reorder_due=live.reorder_due(document.reorder, since, self._today(), limit)
            if document and "reorder_due" in parts
            else [],
            recommendations=live.recommendations(document, since, limit)
            if document and "recommendations" in parts
            else [],
            recent=recent if "recent" in parts else RecentItems(),
        )
        if "similar_to_recent" in parts and snapshot_date and snapshot:
            similar = self._similar_to_recent(snapshot, recent, since, limit, reading)
            features = features.model_copy(update={"similar_to_recent": similar})
        return features

    def device(
        self, anonymous_id: str, limit: int, reading: Reading | None = None
    ) -> DeviceFeatures:
        """A device's own live parts; raises ``RedisUnavailableError``."""
        reading = reading or Reading()
        snapshot = self._snapshot(reading)

        def read(r: FeatureRedis) -> list[Any]:
            pipe = r.pipeline(transaction=False)
            if snapshot:
                pipe.hget(keys.snapshot_meta_key(snapshot), "snapshot_date")
            pipe.lrange(keys.device_activity_key(anonymous_id), 0, self._activity_length - 1)
            return pipe.execute()

        answer = self._call(reading, read)
        snapshot_date: dt.date | None = None
        if snapshot:
            meta_date, activity = answer
            snapshot_date = self._served_date(meta_date)
        else:
            [activity] = answer
        entries = live_activity.parse(activity)
        since = live.Since.of(entries, snapshot_date)
        recent = live.recent_items(entries, limit)
        similar = (
            self._similar_to_recent(snapshot, recent, since, limit, reading)
            if snapshot and snapshot_date
            else []
        )
        return DeviceFeatures(
            anonymous_id=anonymous_id,
            known=bool(entries),
            snapshot=snapshot_date,
            degraded=[] if snapshot_date else ["snapshot_missing"],
            recent=recent,
            similar_to_recent=similar,
        )

    def _similar_to_recent(
        self, snapshot: str, recent: RecentItems, since: live.Since, limit: int, reading: Reading
    ) -> list[SimilarProduct]:
        sources = live.similar_sources(recent)
        if not sources:
            return []
        products_key = keys.snapshot_products_key(snapshot)
        raw = self._call(reading, lambda r: r.hmget(products_key, sources))
        documents = [_document(ProductDocument, d) if d else None for d in raw]
        return live.similar_to_recent(sources, documents, since, limit)

    def _with_devices(
        self, entries: list[live_activity.Entry], devices: list[str], reading: Reading
    ) -> list[live_activity.Entry]:
        """The user's entries and their linked devices', newest first, as one list."""
        length = self._activity_length

        def read(r: FeatureRedis) -> list[Any]:
            pipe = r.pipeline(transaction=False)
            for device in devices:
                pipe.lrange(keys.device_activity_key(device), 0, length - 1)
            return pipe.execute()

        lists = self._call(reading, read)
        merged = entries + [e for raw in lists for e in live_activity.parse(raw)]
        merged.sort(key=lambda e: e.occurred_at, reverse=True)
        return merged[:length]

    def similar(
        self, product_id: str, limit: int, reading: Reading | None = None
    ) -> ProductSimilar:
        """A product's similar products (nightly only); raises ``RedisUnavailableError``."""
        reading = reading or Reading()
        snapshot = self._snapshot(reading)
        if not snapshot:
            return ProductSimilar.defaults(product_id, "snapshot_missing")

        def read(r: FeatureRedis) -> list[Any]:
            pipe = r.pipeline(transaction=False)
            pipe.hget(keys.snapshot_meta_key(snapshot), "snapshot_date")
            pipe.hget(keys.snapshot_products_key(snapshot), product_id)
            return pipe.execute()

        meta_date, raw = self._call(reading, read)
        if meta_date is None:
            self._forget_pointer()
            return ProductSimilar.defaults(product_id, "snapshot_missing")
        document = _document(ProductDocument, raw) if raw else None
        return ProductSimilar(
            product_id=product_id,
            known=document is not None,
            snapshot=dt.date.fromisoformat(_text(meta_date) or ""),
            similar=document.similar[:limit] if document else [],
        )
