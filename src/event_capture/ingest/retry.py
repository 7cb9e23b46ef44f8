"""Exponential backoff with full jitter inside a total deadline.

Full jitter (sleep a uniform random time up to the exponential cap) spreads the retries of many
instances that failed together, which fixed or equal-jitter backoff does not.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    initial_seconds: float = 0.1
    max_seconds: float = 4.0
    multiplier: float = 2.0

    def cap(self, attempt: int) -> float:
        """Upper bound of the wait before retry number ``attempt`` (1-based)."""
        return min(self.max_seconds, self.initial_seconds * self.multiplier ** (attempt - 1))


DEFAULT_BACKOFF = BackoffPolicy()


@dataclass(slots=True)
class Deadline:
    """A total time budget; waits never run past it."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def remaining(self) -> float:
        return max(0.0, self.seconds - (self.clock() - self.started))

    def backoff(self, policy: BackoffPolicy, attempt: int) -> bool:
        """Wait before retry ``attempt``; False when the wait would overrun the deadline."""
        wait = self.rand() * policy.cap(attempt)
        if wait >= self.remaining():
            return False
        self.sleep(wait)
        return True
