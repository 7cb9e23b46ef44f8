"""The Redis stand-ins (tests/fakes/redis.py): the fake answers as redis-server does, and the
recorder fails what it is told to.

One script of commands runs on both and every reply is compared, so a features test that
passes on the fake alone still means something.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.redis import (
    NO_SERVER,
    FakeRedis,
    InjectedError,
    Recorder,
    RedisServer,
)


def script(r: Any) -> list[Any]:
    """Every command with the arguments the features code and the capture sink use."""
    replies: list[Any] = [
        r.get("s"),
        r.set("s", "v1", ex=600),
        r.get("s"),
        r.ttl("s"),
        r.set("s", "v2"),
        r.ttl("s"),
        r.exists("s", "missing", "s"),
        r.expire("missing", 10),
        r.ttl("missing"),
        r.hset("h", mapping={"a": "1", "b": "2"}),
        r.hset("h", mapping={"b": "3", "c": "4"}),
        r.hget("h", "b"),
        r.hget("h", "zz"),
        r.hget("no-hash", "a"),
        r.hmget("h", ["a", "zz", "c"]),
        r.hgetall("h"),
        r.hgetall("no-hash"),
        r.ttl("h"),
        r.expire("h", 300),
        r.ttl("h"),
        r.hset("h", mapping={"d": "5"}),
        r.ttl("h"),
        r.hincrby("counts", "search", 1),
        r.hincrby("counts", "search", 1),
        r.lpush("l", "e1"),
        r.lpush("l", "e2"),
        r.rpush("l", "e0"),
        r.lrange("l", 0, 1),
        r.lrange("l", 0, -1),
        r.lrange("no-list", 0, 9),
        r.ltrim("l", 0, 1),
        r.lrange("l", 0, -1),
        r.ltrim("l", 5, 9),
        r.exists("l"),
        r.delete("h", "missing", "s"),
        r.exists("h", "s"),
        r.ttl("h"),
        sorted(r.keys("*")),
    ]
    pipe = r.pipeline(transaction=False)
    pipe.hset("p", mapping={"x": "1"})
    pipe.expire("p", 60)
    pipe.hget("p", "x")
    pipe.lrange("no-list", 0, 9)
    pipe.get("no-string")
    replies.append(pipe.execute())
    return replies


def test_the_fake_answers_every_command_as_redis_server_does(
    redis_server: RedisServer | None,
) -> None:
    if redis_server is None:
        pytest.skip(NO_SERVER)
    real = redis_server.client()
    real.flushall()

    assert script(FakeRedis()) == script(real)


def test_the_script_is_not_vacuous() -> None:
    # A fake that answered None to everything would agree with itself, not with the server.
    replies = script(FakeRedis())

    assert replies[2] == b"v1"
    assert replies[14] == [b"1", None, b"4"]
    assert replies[31] == [b"e2", b"e1"]
    assert replies[-1] == [1, True, b"1", [], None]


def test_a_recorder_fails_the_nth_command_of_a_name_and_sends_nothing_of_its_pipeline() -> None:
    fake = FakeRedis()
    recorder = Recorder(fake, fail={("hset", 2)})
    recorder.hset("a", mapping={"k": "v"})
    pipe = recorder.pipeline(transaction=False)
    pipe.expire("a", 5)
    pipe.hset("b", mapping={"k": "v"})

    with pytest.raises(InjectedError):
        pipe.execute()

    assert fake.hgetall("b") == {}
    assert fake.ttl("a") == -1
    assert recorder.names() == ["hset"]
    assert recorder.round_trips == 2
