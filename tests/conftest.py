"""Fixtures of the stand-ins in tests/fakes that tests in several folders use."""

import pytest

from tests.fakes.clock import Clock


@pytest.fixture
def clock() -> Clock:
    """A monotonic clock at ``clock.START`` that moves only when the test or a sleep moves it."""
    return Clock()
