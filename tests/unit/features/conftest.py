"""The features tests run each case on both Redis backends (tests/fakes/redis.py)."""

from typing import Any

import pytest

from tests.fakes.redis import BACKENDS, RedisServer, backend


@pytest.fixture(params=BACKENDS)
def redis(request: pytest.FixtureRequest, redis_server: RedisServer | None) -> Any:
    """An empty Redis: the fake, or the module's redis-server (skipped where there is none)."""
    return backend(request.param, redis_server)
