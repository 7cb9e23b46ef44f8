"""The real Pulumi program, run under Pulumi's mocks once per session with the defaults."""

import pytest

from tools.mocked_stack import MockedStack, run_mocked
from tools.sample_stacks import (
    REQUIRED_CONFIG,
    WITH_COLLECTOR,
    WITH_EVERYTHING,
    WITH_PRINCIPALS,
    WITH_REDIS,
)


@pytest.fixture(scope="session")
def stack() -> MockedStack:
    """Defaults only: what a new production stack gets."""
    return run_mocked(REQUIRED_CONFIG)


@pytest.fixture(scope="session")
def stack_with_principals() -> MockedStack:
    """With an app principal and an operator, the grants that only exist when configured."""
    return run_mocked(WITH_PRINCIPALS)


@pytest.fixture(scope="session")
def stack_with_redis() -> MockedStack:
    """With the Redis sink and online features: the secret, the features function and the
    materializer."""
    return run_mocked(WITH_REDIS)


@pytest.fixture(scope="session")
def stack_with_collector() -> MockedStack:
    """With the collector, private: callable with the app's ID token only."""
    return run_mocked(WITH_COLLECTOR)


@pytest.fixture(scope="session")
def stack_with_everything() -> MockedStack:
    """Every function, the collector public, with webhook secrets and the Redis sink."""
    return run_mocked(WITH_EVERYTHING)
