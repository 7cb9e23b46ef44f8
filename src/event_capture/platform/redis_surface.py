"""The Redis commands the code sends, one Protocol per user, and the client that has them all.

``clients.redis_connection`` returns redis-py's client as a ``RedisClient``, so mypy checks
the real one against every Protocol here; each user takes only its own part (the capture
path's activity sink ``ActivityRedis``, the features function ``FeatureRedis``, the
materializer ``SnapshotRedis``), and a test's stand-in implements only what its user sends.

A command queued on a pipeline answers in ``execute()``, in order; what the queuing call itself
returns is never used (redis-py returns the pipeline, but annotates the command's reply), hence
``object``. Replies are bytes, as the client is made without ``decode_responses``; redis-py
annotates them ``bytes | str``.
"""

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

Reply = bytes | str | None


class _Queued(Protocol):
    def execute(self) -> list[Any]:
        """Sends the queued commands in one round trip; their replies, in order (each
        command's own type, hence Any)."""
        ...


class ActivityPipeline(_Queued, Protocol):
    def lpush(self, name: str, /, *values: str) -> object: ...

    def hincrby(self, name: str, key: str, amount: int, /) -> object: ...

    def ltrim(self, name: str, start: int, end: int, /) -> object: ...

    def sadd(self, name: str, /, *values: str) -> object: ...

    def expire(self, name: str, time: int, /) -> object: ...


class ActivityRedis(Protocol):
    """What the capture path's activity sink sends: one pipeline per batch."""

    def pipeline(self, *, transaction: bool) -> ActivityPipeline: ...


class FeaturePipeline(_Queued, Protocol):
    def hget(self, name: str, key: str, /) -> object: ...

    def lrange(self, name: str, start: int, end: int, /) -> object: ...

    def smembers(self, name: str, /) -> object: ...


class FeatureRedis(Protocol):
    """What the features function reads."""

    def get(self, name: str, /) -> Reply: ...

    def hmget(self, name: str, keys: Sequence[str], /) -> Sequence[Reply]: ...

    def pipeline(self, *, transaction: bool) -> FeaturePipeline: ...


class SnapshotPipeline(_Queued, Protocol):
    # The fields are str; Any only because redis-py annotates ``mapping`` with a wider key type,
    # and a Mapping's key type is invariant: with str here its client would not match.
    def hset(self, name: str, /, *, mapping: Mapping[Any, str]) -> object: ...

    def expire(self, name: str, time: int, /) -> object: ...


class SnapshotRedis(Protocol):
    """What the materializer sends to load a snapshot and switch to it."""

    def get(self, name: str, /) -> Reply: ...

    def set(self, name: str, value: str, /, *, ex: int) -> object: ...

    def exists(self, *names: str) -> int: ...

    def delete(self, *names: str) -> int: ...

    def pipeline(self, *, transaction: bool) -> SnapshotPipeline: ...


class PurgeRedis(Protocol):
    """What the purge sends: a user's activity list read and cut of some entries, a day's
    counts lowered."""

    def lrange(self, name: str, start: int, end: int, /) -> list[bytes | str]: ...

    def lrem(self, name: str, count: int, value: str, /) -> int: ...

    def hget(self, name: str, key: str, /) -> Reply: ...

    def hincrby(self, name: str, key: str, amount: int = 1, /) -> int: ...


class RedisPipeline(ActivityPipeline, FeaturePipeline, SnapshotPipeline, Protocol):
    pass


class RedisClient(ActivityRedis, FeatureRedis, SnapshotRedis, PurgeRedis, Protocol):
    """Every command above: redis-py's client, as ``clients.redis_connection`` makes it."""

    def pipeline(self, *, transaction: bool) -> RedisPipeline: ...
