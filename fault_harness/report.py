"""What a scenario's run came to: the waits' figures, what broke a guarantee, one line of
summary."""

import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from event_capture.schemas.responses import SinkStatus
from fault_harness.check import ArchiveCheck, Check
from fault_harness.senders import ACKNOWLEDGED, Attempt, Batch
from tools.replay import ReplayReport

# Sink statuses in an answer that mean the sink did not take the rows.
FAILING = frozenset({SinkStatus.FAILED, SinkStatus.PARTIAL, SinkStatus.SKIPPED})
# The function's timeout where it is deployed: no request may wait longer than this.
DEPLOYED_REQUEST_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True, kw_only=True)
class Stats:
    count: int
    median: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "Stats":
        if not values:
            return cls(count=0, median=math.nan, p99=math.nan, max=math.nan)
        ordered = sorted(values)
        rank = max(0, math.ceil(0.99 * len(ordered)) - 1)
        return cls(
            count=len(ordered),
            median=statistics.median(ordered),
            p99=ordered[rank],
            max=ordered[-1],
        )


@dataclass(frozen=True, kw_only=True)
class ScenarioReport:
    scenario: str
    description: str
    budget_seconds: float
    batches: list[Batch]
    windows: list[tuple[float, float]]
    during: list[Attempt]
    replays: list[ReplayReport]
    check: Check
    archive: ArchiveCheck
    notes: list[str]
    # Wall time of the run's phases: the function's start, the load and the fault ("send"),
    # replay and the check.
    seconds: Mapping[str, float]

    @property
    def attempts(self) -> list[Attempt]:
        return [a for b in self.batches for a in b.attempts]

    @property
    def waits(self) -> Stats:
        return Stats.of([a.waited for a in self.attempts])

    @property
    def waits_during_fault(self) -> Stats:
        return Stats.of([a.waited for a in self.during])

    @property
    def time_to_answer(self) -> Stats:
        return Stats.of([b.time_to_answer for b in self.batches])

    @property
    def statuses(self) -> Counter[str]:
        return Counter(str(a.status) if a.status else "no answer" for a in self.attempts)

    @property
    def sink_failures(self) -> Counter[str]:
        return Counter(
            f"{sink} {status}"
            for a in self.attempts
            for sink, status in a.sinks.items()
            if status in FAILING
        )

    @property
    def dead_lettered(self) -> int:
        return sum(a.dead_lettered for a in self.attempts)

    @property
    def fault_seen(self) -> bool:
        """Whether clients saw the fault at all: an attempt without a 2xx, a sink failing in an
        answer, or rows dead-lettered. A run where none did tested nothing."""
        return any(
            a.status not in ACKNOWLEDGED or a.dead_lettered or _failing(a) for a in self.attempts
        )

    @property
    def not_acknowledged(self) -> list[Batch]:
        return [b for b in self.batches if not b.acknowledged]

    def problems(self) -> list[str]:
        """What breaks a guarantee: acknowledged events lost or read twice, or not in the
        archive after the backfill; dead letters left, batches the client gave up on or that
        got a 4xx, a wait past the deployed timeout. Duplicates (raw rows, archive lines) are
        counted, not failed: at-least-once allows them."""
        check = self.check
        found = []
        if check.missing:
            found.append(f"{len(check.missing)} acknowledged events missing: {check.missing[:5]}")
        if check.repeated_in_views:
            found.append(
                f"{len(check.repeated_in_views)} events more than once in the _dedup views: "
                f"{check.repeated_in_views[:5]}"
            )
        if self.archive.missing:
            found.append(
                f"{len(self.archive.missing)} acknowledged events not in the archive after the "
                f"backfill: {self.archive.missing[:5]}"
            )
        if check.dead_letters_left:
            found.append(f"{check.dead_letters_left} dead-letter objects left after replay")
        for batch in self.not_acknowledged:
            last = batch.attempts[-1] if batch.attempts else None
            found.append(
                f"batch {batch.index} not acknowledged after {len(batch.attempts)} attempts "
                f"(last: {batch.status or (last.error if last else 'never sent')})"
            )
        if self.waits.max > DEPLOYED_REQUEST_TIMEOUT_SECONDS:
            found.append(f"a request waited {self.waits.max:.1f} s")
        return found

    def summary(self) -> str:
        w, d, t = self.waits, self.waits_during_fault, self.time_to_answer
        return (
            f"{self.scenario}: {self.check.acknowledged}/{self.check.sent} acknowledged, "
            f"{len(self.check.missing)} missing, {self.check.raw_duplicates} raw duplicates, "
            f"archive {self.archive.backfilled} backfilled / {len(self.archive.missing)} missing "
            f"/ {self.archive.duplicates} duplicate lines, "
            f"{len(self.attempts)} attempts {dict(self.statuses)}; "
            f"waits p50/p99/max {w.median:.2f}/{w.p99:.2f}/{w.max:.2f} s, "
            f"during the fault {d.median:.2f}/{d.p99:.2f}/{d.max:.2f} s ({d.count}); "
            f"time to answer p50/max {t.median:.2f}/{t.max:.2f} s"
        )


def _failing(attempt: Attempt) -> set[str]:
    """Sinks of the answer that failed, or were skipped (an open circuit); Redis is off."""
    return {sink for sink, status in attempt.sinks.items() if status in FAILING}
