"""Clocks that move only when a test moves them, or when the code under test sleeps on them.

``Clock`` stands in for ``time.monotonic`` and ``time.sleep``, ``WallClock`` for
``datetime.now(UTC)`` and a sleep, as the cost guard takes them. Both record every wait, so a
test counts and measures waits instead of spending them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Far from zero, as time.monotonic's readings are: code must not take 0 for "never".
START = 1_000.0


@dataclass
class Clock:
    """``time.monotonic`` (call it) and ``time.sleep`` (``sleep``): a sleep records its length and
    the reading it began at, then moves the clock on."""

    now: float = START
    waits: list[float] = field(default_factory=list)
    began_at: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.began_at.append(self.now)
        self.now += seconds


@dataclass
class WallClock:
    """``datetime.now(UTC)`` (call it) and a sleep (``sleep``). A sleep records its length and
    writes ``("sleep", seconds)`` in ``journal``, where a test reads the order of side effects;
    runs ``while_sleeping``, what happens elsewhere while the code waits; then moves the clock on
    (never back, should ``while_sleeping`` have moved it further)."""

    now: dt.datetime
    journal: list[tuple[Any, ...]] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    while_sleeping: Callable[[], None] | None = None

    def __call__(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.journal.append(("sleep", seconds))
        started = self.now
        if self.while_sleeping is not None:
            self.while_sleeping()
        self.now = max(self.now, started + dt.timedelta(seconds=seconds))

    def at(self, moment: dt.datetime) -> None:
        assert moment >= self.now
        self.now = moment
