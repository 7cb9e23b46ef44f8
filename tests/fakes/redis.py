"""The two Redis backends the features and the capture sink's tests run against.

``FakeRedis`` holds the few commands the features code and the capture sink send, in memory;
``RedisServer`` starts a real redis-server (on a Unix socket in a temporary directory, so no
port can be taken) when one is installed. ``features/test_materialize.py`` and
``features/test_serve.py`` run every case on both; tests/unit/fakes/test_redis.py runs one script
of commands on both and compares every reply, so a case that passes on the fake alone still
means something. ``Recorder`` wraps either one to list the commands sent and to make one of
them fail.
"""

from __future__ import annotations

import builtins
import contextlib
import shutil
import subprocess
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from event_capture.platform.clients import redis_connection
from event_capture.platform.redis_surface import RedisClient

REDIS_SERVER = shutil.which("redis-server")
NO_SERVER = "redis-server is not installed (make test installs it)"


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int | float):
        return str(value).encode()
    raise TypeError(f"not a Redis value: {value!r}")


class FakeRedis:
    """The commands used here, with redis-py's replies (bytes, as without decode_responses).

    A TTL does not run down: nothing here waits for one, and the tests read it back. While
    ``down``, every command fails as a refused connection does. Each pipeline made is kept in
    ``pipelines``, with the commands queued on it."""

    def __init__(self, *, down: bool = False) -> None:
        self.data: dict[str, Any] = {}
        self.ttls: dict[str, int] = {}
        self.down = down
        self.pipelines: list[FakePipeline] = []

    def _reachable(self) -> None:
        if self.down:
            raise ConnectionError("Connection refused")

    # strings
    def get(self, key: str) -> bytes | None:
        self._reachable()
        value = self.data.get(key)
        assert value is None or isinstance(value, bytes), f"WRONGTYPE {key}"
        return value

    def set(self, key: str, value: Any, ex: int | None = None) -> bool:
        self._reachable()
        self.data[key] = _bytes(value)
        self.ttls.pop(key, None)
        if ex is not None:
            self.ttls[key] = int(ex)
        return True

    # keys
    def exists(self, *names: str) -> int:
        self._reachable()
        return sum(name in self.data for name in names)

    def delete(self, *names: str) -> int:
        self._reachable()
        removed = 0
        for name in names:
            if self.data.pop(name, None) is not None:
                removed += 1
            self.ttls.pop(name, None)
        return removed

    def expire(self, name: str, seconds: int) -> bool:
        self._reachable()
        if name not in self.data:
            return False
        self.ttls[name] = int(seconds)
        return True

    def ttl(self, name: str) -> int:
        self._reachable()
        if name not in self.data:
            return -2
        return self.ttls.get(name, -1)

    def keys(self, pattern: str = "*") -> list[bytes]:
        self._reachable()
        assert pattern == "*", "only every key"
        return [key.encode() for key in self.data]

    def flushall(self) -> bool:
        self._reachable()
        self.data.clear()
        self.ttls.clear()
        return True

    # hashes
    def _hash(self, name: str) -> dict[bytes, bytes]:
        value = self.data.setdefault(name, {})
        assert isinstance(value, dict), f"WRONGTYPE {name}"
        return value

    def hset(
        self, name: str, key: str | None = None, value: Any = None, mapping: Any = None
    ) -> int:
        self._reachable()
        fields = dict(mapping or {})
        if key is not None:
            fields[key] = value
        target = self._hash(name)
        added = 0
        for field_name, field_value in fields.items():
            added += _bytes(field_name) not in target
            target[_bytes(field_name)] = _bytes(field_value)
        return added

    def hget(self, name: str, key: str) -> bytes | None:
        self._reachable()
        value = self.data.get(name)
        return None if value is None else self._hash(name).get(_bytes(key))

    def hmget(self, name: str, keys: Sequence[str]) -> list[bytes | None]:
        self._reachable()
        return [self.hget(name, key) for key in keys]

    def hgetall(self, name: str) -> dict[bytes, bytes]:
        self._reachable()
        return dict(self._hash(name)) if name in self.data else {}

    def hincrby(self, name: str, key: str, amount: int = 1) -> int:
        self._reachable()
        target = self._hash(name)
        count = int(target.get(_bytes(key), b"0")) + amount
        target[_bytes(key)] = str(count).encode()
        return count

    # lists
    def _list(self, name: str) -> list[bytes]:
        value = self.data.setdefault(name, [])
        assert isinstance(value, list), f"WRONGTYPE {name}"
        return value

    def lpush(self, name: str, *values: Any) -> int:
        self._reachable()
        target = self._list(name)
        for value in values:
            target.insert(0, _bytes(value))
        return len(target)

    def rpush(self, name: str, *values: Any) -> int:
        self._reachable()
        target = self._list(name)
        target.extend(_bytes(value) for value in values)
        return len(target)

    def lrange(self, name: str, start: int, end: int) -> list[bytes | str]:
        return list(self._range(name, start, end))

    def _range(self, name: str, start: int, end: int) -> list[bytes]:
        self._reachable()
        if name not in self.data:
            return []
        items = self._list(name)
        stop = len(items) if end == -1 else end + 1
        return items[start:stop]

    def lrem(self, name: str, count: int, value: str) -> int:
        """Every element equal to ``value`` (the purge sends ``count`` 0 only)."""
        assert count == 0, "only LREM key 0 value is sent"
        self._reachable()
        if name not in self.data:
            return 0
        items = self._list(name)
        kept = [item for item in items if item != _bytes(value)]
        self.data[name] = kept
        return len(items) - len(kept)

    # sets (``builtins.set``: this class's own ``set`` is the Redis command)
    def _set(self, name: str) -> builtins.set[bytes]:
        value = self.data.setdefault(name, builtins.set())
        assert isinstance(value, set), f"WRONGTYPE {name}"
        return value

    def sadd(self, name: str, *values: Any) -> int:
        self._reachable()
        target = self._set(name)
        added = {_bytes(value) for value in values} - target
        target |= added
        return len(added)

    def smembers(self, name: str) -> builtins.set[bytes]:
        self._reachable()
        return builtins.set(self._set(name)) if name in self.data else builtins.set()

    def ltrim(self, name: str, start: int, end: int) -> bool:
        self._reachable()
        if name in self.data:
            kept = self._range(name, start, end)
            if kept:
                self.data[name] = kept
            else:
                self.delete(name)
        return True

    def pipeline(self, transaction: bool = True) -> FakePipeline:
        assert transaction is False, "no code here sends MULTI"
        pipe = FakePipeline(self, transaction)
        self.pipelines.append(pipe)
        return pipe


@dataclass
class FakePipeline:
    """The commands the code queues (``redis_surface.RedisPipeline``), and ``get``; each runs
    on the fake at ``execute()``. ``commands`` keeps every one queued, as ``(name, *arguments)``."""

    redis: FakeRedis
    transaction: bool = False
    queued: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    commands: list[tuple[Any, ...]] = field(default_factory=list)

    def _queue(self, command: str, *args: Any, **kwargs: Any) -> FakePipeline:
        self.queued.append((command, args, kwargs))
        self.commands.append((command, *args, *kwargs.values()))
        return self

    def get(self, name: str, /) -> FakePipeline:
        return self._queue("get", name)

    def expire(self, name: str, time: int, /) -> FakePipeline:
        return self._queue("expire", name, time)

    def hset(self, name: str, /, *, mapping: Mapping[Any, str]) -> FakePipeline:
        return self._queue("hset", name, mapping=mapping)

    def hget(self, name: str, key: str, /) -> FakePipeline:
        return self._queue("hget", name, key)

    def hincrby(self, name: str, key: str, amount: int, /) -> FakePipeline:
        return self._queue("hincrby", name, key, amount)

    def lpush(self, name: str, /, *values: str) -> FakePipeline:
        return self._queue("lpush", name, *values)

    def lrange(self, name: str, start: int, end: int, /) -> FakePipeline:
        return self._queue("lrange", name, start, end)

    def ltrim(self, name: str, start: int, end: int, /) -> FakePipeline:
        return self._queue("ltrim", name, start, end)

    def sadd(self, name: str, /, *values: str) -> FakePipeline:
        return self._queue("sadd", name, *values)

    def smembers(self, name: str, /) -> FakePipeline:
        return self._queue("smembers", name)

    def execute(self) -> list[Any]:
        queued, self.queued = self.queued, []
        self.redis._reachable()
        return [getattr(self.redis, name)(*args, **kwargs) for name, args, kwargs in queued]


@dataclass(frozen=True)
class Command:
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    # Which round trip sent it (a pipeline is one), counted from 1.
    trip: int


class InjectedError(ConnectionError):
    """What a Recorder raises in place of the command it was told to fail."""


class Recorder:
    """Either backend, listing every command it sends. Each ``(name, n)`` of ``fail`` makes the
    ``n``th command of that name fail (1-based, counted as commands are sent); a pipeline
    holding one sends nothing, as when the connection drops before the reply."""

    def __init__(self, redis: Any, fail: Collection[tuple[str, int]] = ()) -> None:
        self.redis = redis
        self.sent: list[Command] = []
        self.round_trips = 0
        self._fail = set(fail)
        self._seen: dict[str, int] = {}

    def names(self) -> list[str]:
        return [command.name for command in self.sent]

    def _send(self, commands: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> None:
        self.round_trips += 1
        for name, _, _ in commands:
            self._seen[name] = self._seen.get(name, 0) + 1
            if (name, self._seen[name]) in self._fail:
                raise InjectedError(f"injected failure of {name} #{self._seen[name]}")
        self.sent.extend(Command(*command, trip=self.round_trips) for command in commands)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.redis, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self._send([(name, args, kwargs)])
            return method(*args, **kwargs)

        return call

    def pipeline(self, transaction: bool = True) -> RecordingPipeline:
        return RecordingPipeline(self, self.redis.pipeline(transaction=transaction))


@dataclass
class RecordingPipeline:
    recorder: Recorder
    pipe: Any
    queued: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)

    def __getattr__(self, name: str) -> Callable[..., RecordingPipeline]:
        def queue(*args: Any, **kwargs: Any) -> RecordingPipeline:
            self.queued.append((name, args, kwargs))
            return self

        return queue

    def execute(self) -> list[Any]:
        queued, self.queued = self.queued, []
        self.recorder._send(queued)
        for name, args, kwargs in queued:
            getattr(self.pipe, name)(*args, **kwargs)
        result: list[Any] = self.pipe.execute()
        return result


@dataclass
class RedisServer:
    """A redis-server of its own, listening on a Unix socket only (``--port 0``)."""

    process: subprocess.Popen[str]
    socket: Path

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def client(self) -> Any:
        # The features function's own client (one attempt, no retries), with room for a busy CI.
        return redis_connection(self.url, 5.0)

    @classmethod
    @contextlib.contextmanager
    def start(cls, directory: Path) -> Iterator[RedisServer]:
        assert REDIS_SERVER is not None, NO_SERVER
        socket = directory / "redis.sock"
        argv = [REDIS_SERVER, "--port", "0", "--unixsocket", str(socket)]
        argv += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", str(directory)]
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            assert process.stdout is not None
            # Its log says when it listens; no polling. At EOF it exited (the log says why).
            log = []
            for line in process.stdout:
                log.append(line)
                if "ready to accept connections" in line.lower():
                    break
            else:
                raise RuntimeError("redis-server did not start:\n" + "".join(log))
            # Keep reading its log, so a full pipe never blocks it.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            yield cls(process, socket)
        finally:
            process.terminate()
            process.wait(timeout=10)


@contextlib.contextmanager
def optional_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer | None]:
    """A running redis-server, or None where none is installed (``backend`` then skips)."""
    if REDIS_SERVER is None:
        yield None
        return
    with RedisServer.start(tmp_path_factory.mktemp("redis")) as running:
        yield running


BACKENDS = ("fake", "redis-server")


def backend(kind: str, server: RedisServer | None) -> Any:
    """An empty Redis of ``kind``: a fresh fake, or the flushed server."""
    if kind == "fake":
        # Held to every command the code sends; the tests also read back with others.
        fake: RedisClient = FakeRedis()
        return fake
    if server is None:
        pytest.skip(NO_SERVER)
    client = server.client()
    client.flushall()
    return client
