"""The faults: what each scenario injects and undoes while the senders keep sending, and the
run's clock, fault windows and requests in flight that it is given."""

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from event_capture.contracts.archive_layout import FLUSH_SECONDS
from fault_harness.senders import Attempt, Batch
from fault_harness.target import request_budget
from localcloud.cloud import LocalCloud
from localcloud.processes import Service


class FaultRun:
    """What a scenario's ``inject`` is given: the cloud, the function and the load's progress."""

    def __init__(
        self,
        cloud: LocalCloud,
        function: Service,
        batches: list[Batch],
        env: Mapping[str, str],
    ) -> None:
        self.cloud = cloud
        self.function = function
        self.batches = batches
        # The function's configuration, and so one request's whole budget.
        self.env = env
        self.budget = request_budget(env)
        self.started = time.perf_counter()
        self.windows: list[tuple[float, float]] = []
        self.notes: list[str] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._in_flight = 0

    def now(self) -> float:
        return time.perf_counter() - self.started

    @contextlib.contextmanager
    def fault(self) -> Iterator[None]:
        """Marks the block as a fault window: attempts started in it count as during the fault."""
        start = self.now()
        try:
            yield
        finally:
            self.windows.append((start, self.now()))

    def during_fault(self, attempt: Attempt) -> bool:
        return any(start <= attempt.started <= end for start, end in self.windows)

    def wait_in_flight(self, count: int = 1, timeout: float = 30.0) -> bool:
        """Wait until at least ``count`` requests are in flight (sent, not answered)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._in_flight >= count, timeout)

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        """Counts the block as one request in flight."""
        self._count(+1)
        try:
            yield
        finally:
            self._count(-1)

    def _count(self, delta: int) -> None:
        with self._changed:
            self._in_flight += delta
            self._changed.notify_all()


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str
    description: str
    # How long the fault is expected to last, given a request's budget: the load is paced to
    # span it.
    hold_seconds: Callable[[float], float]
    # Injects the fault and undoes it; the senders keep sending meanwhile.
    inject: Callable[[FaultRun], None]
    # Added to the function's configuration for this scenario.
    function_env: Mapping[str, str] = field(default_factory=dict)


def no_fault(seconds: float = 3.0) -> Scenario:
    """The same load with nothing injected: the run's baseline for the waits."""

    def inject(run: FaultRun) -> None:
        with run.fault():
            time.sleep(seconds)

    return Scenario(
        name="no-fault",
        description=f"nothing injected for {seconds:g} s (the baseline)",
        hold_seconds=lambda _budget: seconds,
        inject=inject,
    )


def bigquery_killed(down_seconds: float = 4.0, name: str = "bigquery-killed") -> Scenario:
    def inject(run: FaultRun) -> None:
        with run.fault(), run.cloud.outage(run.cloud.bigquery, kill=True):
            time.sleep(down_seconds)

    return Scenario(
        name=name,
        description=f"BigQuery SIGKILLed, restarted after {down_seconds:g} s",
        hold_seconds=lambda _budget: down_seconds + 1,
        inject=inject,
    )


def bigquery_frozen(frozen_seconds: float = 5.0) -> Scenario:
    def inject(run: FaultRun) -> None:
        with run.fault(), run.cloud.frozen(run.cloud.bigquery):
            time.sleep(frozen_seconds)

    return Scenario(
        name="bigquery-frozen",
        description=f"BigQuery SIGSTOPped for {frozen_seconds:g} s (past its deadline)",
        hold_seconds=lambda _budget: frozen_seconds,
        inject=inject,
    )


def gcs_killed(down_seconds: float = 4.0) -> Scenario:
    def inject(run: FaultRun) -> None:
        with run.fault(), run.cloud.outage(run.cloud.gcs, kill=True):
            time.sleep(down_seconds)

    return Scenario(
        name="gcs-killed",
        description=f"Cloud Storage SIGKILLed, restarted after {down_seconds:g} s",
        hold_seconds=lambda _budget: down_seconds + 0.5,
        inject=inject,
    )


def worker_killed(kills: int = 3, gap_seconds: float = 1.0) -> Scenario:
    def inject(run: FaultRun) -> None:
        with run.fault():
            for _ in range(kills):
                if not run.wait_in_flight(1, timeout=30):
                    run.notes.append("no request in flight to kill the worker under")
                    continue
                # A moment into the request, so the worker is inside the pipeline, not
                # still reading the body.
                time.sleep(0.05)
                pid = run.function.kill_worker()
                run.notes.append(f"killed worker {pid} at {run.now():.2f} s")
                time.sleep(gap_seconds)

    return Scenario(
        name="worker-killed",
        description=f"the function's gunicorn worker SIGKILLed mid-request, {kills} times",
        hold_seconds=lambda _budget: kills * (gap_seconds + 1.5),
        inject=inject,
        # The deployed interval: each kill loses every archive line the worker held since its
        # last write, which the backfill must then write.
        function_env={"ARCHIVE_FLUSH_SECONDS": str(FLUSH_SECONDS)},
    )


def both_down(beyond_budget_seconds: float = 3.0) -> Scenario:
    """BigQuery and Cloud Storage down together for longer than a request's whole budget."""

    def inject(run: FaultRun) -> None:
        down = run.budget + beyond_budget_seconds
        run.notes.append(f"both down for {down:g} s (budget {run.budget:g} s)")
        with run.fault(), run.cloud.outage(run.cloud.bigquery, run.cloud.gcs, kill=True):
            time.sleep(down)

    return Scenario(
        name="both-down",
        description=(
            f"BigQuery and Cloud Storage SIGKILLed for a request's budget "
            f"+ {beyond_budget_seconds:g} s"
        ),
        hold_seconds=lambda budget: budget + beyond_budget_seconds + 1,
        inject=inject,
    )


def all_scenarios() -> list[Scenario]:
    return [
        bigquery_killed(),
        bigquery_frozen(),
        bigquery_killed(40.0, name="bigquery-killed-40s"),
        gcs_killed(),
        worker_killed(),
        both_down(),
    ]
