"""Fixtures of the stand-ins in tests/fakes that tests in several folders use."""

from collections.abc import Iterator

import pytest

from tests.fakes.clock import Clock
from tests.fakes.redis import RedisServer, optional_server


@pytest.fixture
def clock() -> Clock:
    """A monotonic clock at ``clock.START`` that moves only when the test or a sleep moves it."""
    return Clock()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer | None]:
    """A redis-server of the test module's own, or None where none is installed."""
    with optional_server(tmp_path_factory) as running:
        yield running
