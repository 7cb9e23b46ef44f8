"""Capture throughput benchmark: prints figures, asserts nothing (``make bench``).

What it measures, on a ``LocalCloud`` it starts itself on free loopback ports (BigQuery
emulator on a fresh temporary data dir, fake-gcs-server with its memory backend): the capture
function served by functions-framework (gunicorn, WORKERS=1, THREADS=8), so the function is one
gunicorn arbiter plus one worker, whose CPU and memory psutil reads.

Figures:

* Cold start: process start -> first HTTP 200 for one valid event (port polled, then the event
  POSTed until accepted). A bare functions-framework function that returns "ok" is timed the
  same way in the same run, as a baseline for what the framework alone costs on this machine.
* One phase per batch size (1, 50, 500), each sending fresh events of every family from a
  second process (4 threads, one keep-alive ``requests.Session`` each):
  events/s, p50/p99 request latency, function CPU time per event (user+system deltas summed
  over the function's process tree), peak RSS (the kernel's high-water mark of the largest
  process of the tree), BigQuery insert requests per 1,000 events (from
  ``bigquery_insert_requests`` in the function's one-JSON-line-per-request log), non-200
  responses and dead-lettered events.
* A summary against the targets.
* With ``--baseline DIR`` (another checkout of this repository, e.g. a ``git worktree`` of an
  earlier commit), the same capture function of both checkouts on the same local cloud, in
  alternating pairs (ABBA): cold start and CPU per event at batch 500 of each, their medians
  and the ratio, against a goal of staying within 5 % of the baseline.
* With ``--compare-apis``, the capture function on each BigQuery path (``BIGQUERY_WRITE_API``
  false: insertAll over HTTP; true: the Storage Write API's default streams over gRPC) on the
  same local cloud, in alternating order (ABBA over ``--pairs``): cold start, then phases at
  batch 1, 50 and 500; per path the medians of CPU per event, peak RSS, p50 request latency
  and cold start, and the Write API's ratio to insertAll. ``--bigquery-api`` picks the path
  of the ordinary run and of ``--baseline``'s pairs (default: the configuration's).
* A machine gauge: CPU time of a fixed reference workload (json.dumps of one event), timed
  before the run and every ~2 s during each phase (by the otherwise idle parent). On a shared
  VM with steal time the CPU charged to a process varies many-fold; the ``gauge x`` column
  (median during the phase / best before the run) is a lower bound of how much the CPU figures
  of that phase are inflated by the machine rather than by the function. It cannot see CPU
  charged to threads that wait on a slow backend, which on such a VM can be far larger.

That every accepted event is stored exactly once is a test (tests/integration/
test_exactly_once.py), not a figure. The exit status is non-zero only when the local cloud
fails (a process does not start or dies); missed targets are only printed.
"""

import argparse
import compileall
import contextlib
import json
import multiprocessing
import os
import queue
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import Any

import psutil
import requests

from bench.results import recorded
from localcloud.cloud import CloudSettings, LocalCloud
from localcloud.processes import REPO, STATE_DIR, Service, free_port, function_server
from localcloud.sample_events import sample_batch, sample_event

PROJECT = "capture-bench"
LOG_DIR = STATE_DIR / "logs" / "capture-bench"
JSON_HEADERS = {"Content-Type": "application/json"}

# Targets the summary compares against.
TARGET_CPU_US_AT_500 = 25.0
TARGET_CPU_RATIO_1_TO_500 = 25.0
TARGET_INSERTS_PER_1K = 2.0
TARGET_PEAK_RSS_MB = 200.0
TARGET_COLD_START_S = 0.6

# The same server settings for the capture function and the bare baseline function.
SERVER_ENV = {
    "WORKERS": "1",
    "THREADS": "8",
    # Cloud Functions' Python buildpack sets this too; it also keeps log offsets per phase exact.
    "PYTHONUNBUFFERED": "1",
}

# --bigquery-api: the capture function's BIGQUERY_WRITE_API for each path.
BIGQUERY_APIS = {"insert-all": "false", "write-api": "true"}

BARE_FUNCTION = """import functions_framework


@functions_framework.http
def hello(request):
    return "ok"
"""


# --- events ------------------------------------------------------------------------------------


def request_bodies(events: list[dict[str, Any]], size: int) -> list[bytes]:
    """A single event object per request for batch size 1, otherwise ``{"events": [...]}``."""
    if size == 1:
        return [json.dumps(event).encode() for event in events]
    chunks = [events[start : start + size] for start in range(0, len(events), size)]
    return [json.dumps({"events": chunk}).encode() for chunk in chunks]


# --- the sender (runs in a second process) -----------------------------------------------------

# (wall seconds, per-request latency in seconds, per-request HTTP status or 0 on a transport error)
SendResult = tuple[float, list[float], list[int]]


def send_phase(url: str, bodies: list[bytes], threads: int) -> SendResult:
    """POST every body with ``threads`` keep-alive sessions; runs in the sender process."""
    work: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(bodies)):
        work.put(index)
    latencies = [0.0] * len(bodies)
    statuses = [0] * len(bodies)

    def worker() -> None:
        with requests.Session() as session:
            while True:
                try:
                    index = work.get_nowait()
                except queue.Empty:
                    return
                started = time.perf_counter()
                try:
                    response = session.post(
                        url, data=bodies[index], headers=JSON_HEADERS, timeout=120
                    )
                    statuses[index] = response.status_code
                except requests.RequestException:
                    statuses[index] = 0
                latencies[index] = time.perf_counter() - started

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.perf_counter() - started, latencies, statuses


# --- process readings (psutil) -----------------------------------------------------------------


def process_tree(service: Service) -> list[Any]:
    """The service's process and its live descendants (gunicorn's workers)."""
    if service.process is None:
        return []
    try:
        root = psutil.Process(service.process.pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(services: list[Service]) -> float:
    """User+system time of the services' live trees, plus that of their reaped children."""
    total = 0.0
    for service in services:
        for process in process_tree(service):
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
    return total


def high_water_mb(process: Any) -> float:
    """The kernel's peak RSS of a process (VmHWM), which psutil does not expose; where there is
    none (not Linux), the current RSS, so sampling still finds the peak approximately."""
    try:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float(process.memory_info().rss) / 2**20


@dataclass
class PeakRss:
    """The largest RSS per process of a service's tree, in MB, read while it still runs."""

    service: Service
    peaks: dict[int, float] = field(default_factory=dict)

    def sample(self) -> None:
        for process in process_tree(self.service):
            with contextlib.suppress(psutil.NoSuchProcess):
                mb = high_water_mb(process)
                self.peaks[process.pid] = max(mb, self.peaks.get(process.pid, 0.0))

    @property
    def largest(self) -> float:
        return max(self.peaks.values(), default=0.0)


@dataclass(frozen=True, slots=True)
class Gauge:
    best_us: float
    median_us: float

    def __str__(self) -> str:
        return (
            f"json.dumps of one event {self.best_us:.2f} µs CPU best, {self.median_us:.2f} µs "
            f"median ({self.median_us / self.best_us:.1f}x)"
        )


GAUGE_EVENT = sample_event("search", rng=random.Random(0))


def _gauge_round(number: int = 2_000) -> float:
    started = time.process_time()
    for _ in range(number):
        json.dumps(GAUGE_EVENT)
    return (time.process_time() - started) / number * 1e6


def machine_gauge(rounds: int = 15) -> Gauge:
    """CPU µs per json.dumps of a fixed event over ``rounds`` rounds: best and median."""
    per_op = [_gauge_round() for _ in range(rounds)]
    return Gauge(min(per_op), statistics.median(per_op))


def wait_for_sender(
    pending: AsyncResult[SendResult], rss: PeakRss, gauge_every: float = 2.0
) -> tuple[SendResult, float]:
    """Wait for the sender, sampling RSS every 0.2 s and timing one gauge round every
    ``gauge_every`` s; returns the sender's result and the gauge's median."""
    per_op = [_gauge_round()]
    next_gauge = time.monotonic() + gauge_every
    while not pending.ready():
        pending.wait(0.2)
        rss.sample()
        if time.monotonic() >= next_gauge:
            per_op.append(_gauge_round())
            next_gauge += gauge_every
    per_op.append(_gauge_round())
    return pending.get(), statistics.median(per_op)


# --- the function's structured log -------------------------------------------------------------


def capture_log_lines(log_path: Path, offset: int) -> list[dict[str, Any]]:
    """The per-request ``capture`` lines written after ``offset`` (other output is skipped)."""
    with log_path.open("rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    lines = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("message") == "capture" and "bigquery_insert_requests" in entry:
            lines.append(entry)
    return lines


def wait_for_log_lines(
    log_path: Path, offset: int, expected: int, timeout: float = 10.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        lines = capture_log_lines(log_path, offset)
        if len(lines) >= expected or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


# --- cold start --------------------------------------------------------------------------------


def bare_function(directory: Path) -> Service:
    source = directory / "main.py"
    source.write_text(BARE_FUNCTION)
    return function_server(
        name="bare-function",
        source=source,
        target="hello",
        env=SERVER_ENV,
        port=free_port(),
        log_path=LOG_DIR / "bare-function.log",
    )


@dataclass(frozen=True, slots=True)
class ColdStart:
    port_open_s: float
    first_200_s: float
    attempts: int


def measure_cold_start(service: Service, body: bytes, timeout: float = 120.0) -> ColdStart:
    """Start ``service`` and POST ``body`` until it answers 200; times from process start."""
    service.start()
    port_open_s = time.perf_counter() - service.started_at
    deadline = time.monotonic() + timeout
    attempts = 0
    while time.monotonic() < deadline:
        attempts += 1
        try:
            response = requests.post(service.url, data=body, headers=JSON_HEADERS, timeout=timeout)
            if response.status_code == 200:
                return ColdStart(port_open_s, time.perf_counter() - service.started_at, attempts)
        except requests.RequestException:
            pass
        if not service.running:
            break
        time.sleep(0.01)
    raise RuntimeError(f"{service.name} gave no HTTP 200 within {timeout:g}s; see its log")


# --- phases ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PhaseResult:
    batch_size: int
    events: int
    seconds: float
    latencies: list[float]
    statuses: list[int]
    cpu_seconds: float
    peak_rss_mb: float
    insert_requests: int
    dead_lettered: int
    logged_requests: int
    emulator_cpu_seconds: float
    steal_pct: float
    gauge_us: float

    @property
    def requests(self) -> int:
        return len(self.statuses)

    @property
    def non_200(self) -> int:
        return sum(1 for status in self.statuses if status != 200)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_seconds / self.events * 1e6

    @property
    def emulator_cpu_us_per_event(self) -> float:
        return self.emulator_cpu_seconds / self.events * 1e6

    @property
    def inserts_per_1k(self) -> float:
        return self.insert_requests / self.events * 1000

    def latency_ms(self, percentile: float) -> float:
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, round(percentile / 100 * len(ordered)) - 1))
        return ordered[rank] * 1000


def run_phase(
    pool: Pool,
    cloud: LocalCloud,
    function: Service,
    rss: PeakRss,
    events: list[dict[str, Any]],
    batch_size: int,
    threads: int,
) -> PhaseResult:
    """Send ``events`` in batches of ``batch_size`` and read the figures around it."""
    assert function.log_path is not None
    bodies = request_bodies(events, batch_size)
    emulators = [cloud.bigquery, cloud.gcs]
    offset = function.log_path.stat().st_size
    cpu_before, emulators_before = cpu_seconds([function]), cpu_seconds(emulators)
    psutil.cpu_times_percent()  # starts the machine-wide interval that the call below ends
    pending = pool.apply_async(send_phase, (function.url, bodies, threads))
    (seconds, latencies, statuses), gauge_us = wait_for_sender(pending, rss)
    steal_pct = float(psutil.cpu_times_percent().steal)
    cpu_after, emulators_after = cpu_seconds([function]), cpu_seconds(emulators)
    if not function.running:
        raise RuntimeError(f"the capture function died during the batch-{batch_size} phase")
    lines = wait_for_log_lines(function.log_path, offset, expected=len(bodies))
    return PhaseResult(
        batch_size=batch_size,
        events=len(events),
        seconds=seconds,
        latencies=latencies,
        statuses=statuses,
        cpu_seconds=cpu_after - cpu_before,
        peak_rss_mb=rss.largest,
        insert_requests=sum(int(line["bigquery_insert_requests"]) for line in lines),
        dead_lettered=sum(int(line["events_dead_lettered"]) for line in lines),
        logged_requests=len(lines),
        emulator_cpu_seconds=emulators_after - emulators_before,
        steal_pct=steal_pct,
        gauge_us=gauge_us,
    )


# --- report ------------------------------------------------------------------------------------


def print_phases(results: list[PhaseResult], gauge: Gauge) -> None:
    header = (
        f"{'batch':>5} {'events':>7} {'reqs':>6} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'CPU µs/ev':>10} {'peak RSS MB':>12} {'BQ ins/1k ev':>13} {'non-200':>8} "
        f"{'dead-lett.':>10} {'emu CPU µs/ev':>14} {'steal %':>8} {'gauge x':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.batch_size:>5} {r.events:>7} {r.requests:>6} {r.events_per_second:>9.1f} "
            f"{r.latency_ms(50):>8.1f} {r.latency_ms(99):>8.1f} {r.cpu_us_per_event:>10.1f} "
            f"{r.peak_rss_mb:>12.1f} {r.inserts_per_1k:>13.1f} {r.non_200:>8} "
            f"{r.dead_lettered:>10} {r.emulator_cpu_us_per_event:>14.1f} {r.steal_pct:>8.1f} "
            f"{r.gauge_us / gauge.best_us:>8.1f}"
        )
    for r in results:
        if r.logged_requests != r.requests:
            print(
                f"note: batch {r.batch_size}: {r.logged_requests} log lines for "
                f"{r.requests} requests; insert requests per 1k events counts logged ones only"
            )
        codes = Counter(r.statuses)
        if r.non_200:
            print(f"note: batch {r.batch_size}: statuses {dict(sorted(codes.items()))}")


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def print_summary(
    by_batch: dict[int, PhaseResult], cold: ColdStart, bare: ColdStart, rss: dict[str, float]
) -> None:
    print("\nTargets")
    lines: list[tuple[str, str, bool]] = []
    if 500 in by_batch:
        cpu500 = by_batch[500].cpu_us_per_event
        lines.append(
            (
                f"function CPU per event at batch 500 ≤ {TARGET_CPU_US_AT_500:g} µs",
                f"{cpu500:.1f} µs",
                cpu500 <= TARGET_CPU_US_AT_500,
            )
        )
        inserts = by_batch[500].inserts_per_1k
        lines.append(
            (
                f"BigQuery insert requests per 1,000 events at batch 500 ≤ "
                f"{TARGET_INSERTS_PER_1K:g}",
                f"{inserts:.1f}",
                inserts <= TARGET_INSERTS_PER_1K,
            )
        )
        if 1 in by_batch:
            ratio = by_batch[1].cpu_us_per_event / cpu500
            lines.append(
                (
                    f"CPU per event batch 1 / batch 500 ≥ {TARGET_CPU_RATIO_1_TO_500:g} "
                    "(same-run baseline)",
                    f"{ratio:.1f}x ({by_batch[1].cpu_us_per_event:.0f} / {cpu500:.1f} µs)",
                    ratio >= TARGET_CPU_RATIO_1_TO_500,
                )
            )
    peak = max(rss.values())
    lines.append(
        (f"peak RSS < {TARGET_PEAK_RSS_MB:g} MB", f"{peak:.1f} MB", peak < TARGET_PEAK_RSS_MB)
    )
    lines.append(
        (
            f"cold start ≤ {TARGET_COLD_START_S:g} s",
            f"{cold.first_200_s:.2f} s",
            cold.first_200_s <= TARGET_COLD_START_S,
        )
    )
    for name, value, met in lines:
        print(f"  {_verdict(met):<7} {name}: {value}")
    print(
        f"\nCold start baseline (same run): a bare functions-framework function answered its "
        f"first 200 after {bare.first_200_s:.2f} s (port open {bare.port_open_s:.2f} s); "
        f"the capture function after {cold.first_200_s:.2f} s (port open "
        f"{cold.port_open_s:.2f} s, {cold.attempts} POST(s)), i.e. "
        f"{cold.first_200_s - bare.first_200_s:+.2f} s over the framework alone."
    )
    rss_text = ", ".join(f"{name} {mb:.1f} MB" for name, mb in rss.items())
    print(f"Peak RSS (kernel high-water mark, VmHWM) per process: {rss_text}")


# --- paired against a baseline checkout ------------------------------------------------------

TARGET_BASELINE_RATIO = 1.05


def baseline_function(cloud: LocalCloud, checkout: Path, log_path: Path) -> Service:
    """The capture function of another checkout on this cloud: its ``main.py``, and its packages
    ahead of this checkout's on the path (the namespace finds each module there first)."""
    roots = os.pathsep.join(str(checkout / root) for root in ("src", "client/src"))
    return function_server(
        name="capture-baseline",
        source=checkout / "functions" / "capture" / "main.py",
        target="capture",
        env={**cloud.env(**SERVER_ENV), "PYTHONPATH": roots},
        port=free_port(),
        log_path=log_path,
    )


@dataclass(frozen=True, slots=True)
class PairRun:
    baseline: bool
    cold: ColdStart
    phase: PhaseResult


def run_pairs(
    pool: Pool, cloud: LocalCloud, args: argparse.Namespace, rng: random.Random
) -> list[PairRun]:
    """Each function started cold, answering its first event, then a batch-500 phase; the two
    in ABBA order so that a drift of the machine weighs on both alike."""
    pool.apply(time.sleep, (0,))
    runs: list[PairRun] = []
    for pair in range(args.pairs):
        order = (False, True) if pair % 2 == 0 else (True, False)
        for is_baseline in order:
            name = "capture-baseline" if is_baseline else "capture-function"
            log_path = LOG_DIR / f"{name}-pair{pair}.log"
            if is_baseline:
                service = baseline_function(cloud, args.baseline, log_path)
            else:
                service = cloud.function(env=function_env(args), log_path=log_path)
            probe = sample_batch(1, seed=rng.randrange(2**32))[0]
            try:
                cold = measure_cold_start(service, json.dumps(probe).encode())
                events = sample_batch(args.events, users=5_000, seed=rng.randrange(2**32))
                phase = run_phase(pool, cloud, service, PeakRss(service), events, 500, args.threads)
            finally:
                service.stop()
            runs.append(PairRun(is_baseline, cold, phase))
    return runs


def function_env(args: argparse.Namespace, api: str | None = None) -> dict[str, str]:
    """The server settings, and the BigQuery path (``api``, else ``--bigquery-api``) if any."""
    chosen = api or args.bigquery_api
    return {**SERVER_ENV, **({"BIGQUERY_WRITE_API": BIGQUERY_APIS[chosen]} if chosen else {})}


# --- the two BigQuery paths against each other --------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiRun:
    api: str
    cold: ColdStart
    phases: dict[int, PhaseResult]


def run_apis(
    pool: Pool, cloud: LocalCloud, args: argparse.Namespace, rng: random.Random
) -> list[ApiRun]:
    """Each path's function started cold, answering its first event, then the phases at batch
    1, 50 and 500; the paths in ABBA order so that a drift of the machine weighs on both."""
    pool.apply(time.sleep, (0,))
    runs: list[ApiRun] = []
    for pair in range(args.pairs):
        order = ("insert-all", "write-api") if pair % 2 == 0 else ("write-api", "insert-all")
        for api in order:
            log_path = LOG_DIR / f"capture-{api}-pair{pair}.log"
            service = cloud.function(env=function_env(args, api), log_path=log_path)
            probe = sample_batch(1, seed=rng.randrange(2**32))[0]
            phases: dict[int, PhaseResult] = {}
            try:
                cold = measure_cold_start(service, json.dumps(probe).encode())
                rss = PeakRss(service)
                plan = [(1, args.batch1_events), (50, args.events), (500, args.events)]
                for batch_size, count in plan:
                    events = sample_batch(count, users=5_000, seed=rng.randrange(2**32))
                    phases[batch_size] = run_phase(
                        pool, cloud, service, rss, events, batch_size, args.threads
                    )
            finally:
                service.stop()
            runs.append(ApiRun(api, cold, phases))
    return runs


def print_apis(runs: list[ApiRun], gauge: Gauge) -> None:
    print("\nBigQuery paths, same run and cloud, alternating (ABBA): insertAll vs Write API")
    header = (
        f"{'path':<11} {'cold s':>7} {'CPU µs/ev @1':>13} {'@50':>7} {'@500':>7} "
        f"{'p50 ms @1':>10} {'@50':>8} {'@500':>8} {'peak RSS MB':>12} {'dead-lett.':>10} "
        f"{'gauge x @500':>13}"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        p = run.phases
        print(
            f"{run.api:<11} {run.cold.first_200_s:>7.2f} {p[1].cpu_us_per_event:>13.1f} "
            f"{p[50].cpu_us_per_event:>7.1f} {p[500].cpu_us_per_event:>7.1f} "
            f"{p[1].latency_ms(50):>10.1f} {p[50].latency_ms(50):>8.1f} "
            f"{p[500].latency_ms(50):>8.1f} {max(r.peak_rss_mb for r in p.values()):>12.1f} "
            f"{sum(r.dead_lettered for r in p.values()):>10} "
            f"{p[500].gauge_us / gauge.best_us:>13.1f}"
        )
    figures: list[tuple[str, Callable[[ApiRun], float]]] = [
        ("cold start s", lambda run: run.cold.first_200_s),
        *(
            (f"CPU µs per event at batch {size}", _phase_figure(size, "cpu"))
            for size in (1, 50, 500)
        ),
        *(
            (f"p50 request wall time ms at batch {size}", _phase_figure(size, "p50"))
            for size in (1, 50, 500)
        ),
        ("peak RSS MB", lambda run: max(r.peak_rss_mb for r in run.phases.values())),
    ]
    print("medians, Write API / insertAll:")
    for label, figure in figures:
        old = statistics.median(figure(run) for run in runs if run.api == "insert-all")
        new = statistics.median(figure(run) for run in runs if run.api == "write-api")
        print(f"  {label:<40} insertAll {old:>9.2f}  Write API {new:>9.2f}  {new / old:>6.3f}x")


def _phase_figure(size: int, what: str) -> Callable[[ApiRun], float]:
    if what == "cpu":
        return lambda run: run.phases[size].cpu_us_per_event
    return lambda run: run.phases[size].latency_ms(50)


def _cold_start(run: PairRun) -> float:
    return run.cold.first_200_s


def _cpu_at_500(run: PairRun) -> float:
    return run.phase.cpu_us_per_event


def print_pairs(runs: list[PairRun], checkout: Path, gauge: Gauge) -> None:
    print(f"\nPaired against {checkout} ({_short_commit(checkout)}), same run, ABBA:")
    print(f"{'':10} {'cold start s':>13} {'CPU µs/ev at 500':>17} {'gauge x':>8}")
    for run in runs:
        print(
            f"{'baseline' if run.baseline else 'this':10} {run.cold.first_200_s:>13.2f} "
            f"{run.phase.cpu_us_per_event:>17.1f} {run.phase.gauge_us / gauge.best_us:>8.1f}"
        )
    figures: tuple[tuple[str, Callable[[PairRun], float]], ...] = (
        ("cold start", _cold_start),
        ("function CPU per event at batch 500", _cpu_at_500),
    )
    for label, figure in figures:
        this = statistics.median(figure(run) for run in runs if not run.baseline)
        base = statistics.median(figure(run) for run in runs if run.baseline)
        ratio = this / base
        print(
            f"  {_verdict(ratio <= TARGET_BASELINE_RATIO):<7} {label}, median: this {this:.2f}, "
            f"baseline {base:.2f}: {ratio:.3f}x (within {TARGET_BASELINE_RATIO - 1:.0%} of it)"
        )


def _short_commit(checkout: Path) -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=checkout,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "commit unknown"
    return done.stdout.strip()


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, default=20_000, help="events per phase for batch 50 and 500"
    )
    parser.add_argument(
        "--batch1-events",
        type=int,
        default=2_000,
        help="events for the batch-1 phase (one request each, so fewer by default)",
    )
    parser.add_argument("--threads", type=int, default=4, help="sender threads")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--baseline",
        type=_checkout,
        help="another checkout of this repository whose capture function to pair against",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=3,
        help="alternating pairs with --baseline or --compare-apis (default 3)",
    )
    parser.add_argument(
        "--bigquery-api",
        choices=sorted(BIGQUERY_APIS),
        help="the capture function's BigQuery path (default: the configuration's)",
    )
    parser.add_argument(
        "--compare-apis",
        action="store_true",
        help="after the run, insertAll and the Write API against each other (ABBA)",
    )
    parser.add_argument(
        "--skip-phases",
        action="store_true",
        help="leave out the ordinary run's phases (with --compare-apis or --baseline)",
    )
    return parser.parse_args(argv)


def _checkout(text: str) -> Path:
    path = Path(text).resolve()
    if not (path / "functions" / "capture" / "main.py").is_file():
        raise argparse.ArgumentTypeError(f"{text}: not a checkout of this repository")
    return path


def precompile(*checkouts: Path) -> None:
    # Deploys ship compiled bytecode, so the cold start should not include compiling the
    # function's own modules; compileall writes it whatever PYTHONDONTWRITEBYTECODE says.
    for checkout in checkouts:
        for directory in ("functions/capture", "src", "client/src"):
            compileall.compile_dir(checkout / directory, quiet=1)


def run(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    print(
        f"capture throughput benchmark: {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}, sender threads "
        f"{args.threads}, function WORKERS={SERVER_ENV['WORKERS']} THREADS={SERVER_ENV['THREADS']}"
    )
    precompile(REPO, *([args.baseline] if args.baseline else []))
    gauge = machine_gauge()
    print(f"machine gauge before: {gauge}")
    for old in LOG_DIR.glob("*.log"):
        old.unlink()

    started = time.perf_counter()
    settings = CloudSettings(
        project=PROJECT, bucket=f"{PROJECT}-events", log_dir=LOG_DIR, persistent_gcs=False
    )
    with LocalCloud(settings) as cloud, tempfile.TemporaryDirectory() as workdir:
        print(f"emulators started and bootstrapped in {time.perf_counter() - started:.1f} s")
        bare = bare_function(Path(workdir))
        try:
            bare_cold = measure_cold_start(bare, b"{}")
        finally:
            bare.stop()

        if args.skip_phases:
            compare(cloud, args, rng, gauge)
            print(f"\ntotal run time {time.perf_counter() - started:.1f} s (after imports)")
            return
        function = cloud.function(env=function_env(args))
        probe = sample_batch(1, seed=rng.randrange(2**32))[0]
        cold = measure_cold_start(function, json.dumps(probe).encode())
        print(
            f"cold start: {cold.first_200_s:.2f} s to the first accepted event "
            f"(port open after {cold.port_open_s:.2f} s); bare functions-framework "
            f"baseline {bare_cold.first_200_s:.2f} s"
        )

        plan = [(1, args.batch1_events), (50, args.events), (500, args.events)]
        print(
            f"\nphases: batch 1 sends {args.batch1_events:,} events (one request each, fewer to "
            f"keep the run short; per-event figures stay comparable), batch 50 and 500 send "
            f"{args.events:,} each; events are fresh, every family mixed\n"
        )
        rss = PeakRss(function)
        results: list[PhaseResult] = []
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            pool.apply(time.sleep, (0,))  # start the sender before any timing
            for batch_size, count in plan:
                events = sample_batch(count, users=5_000, seed=rng.randrange(2**32))
                results.append(
                    run_phase(pool, cloud, function, rss, events, batch_size, args.threads)
                )
        print_phases(results, gauge)
        print(
            "gauge x: CPU of a fixed reference workload during the phase / its best before the "
            "run; above 1, that phase's CPU figures are inflated by the machine by at least "
            "that factor"
        )
        print(f"machine gauge after: {machine_gauge()}")

        assert function.process is not None
        arbiter = function.process.pid
        rss.sample()
        named = {
            ("arbiter" if pid == arbiter else f"worker {pid}"): mb for pid, mb in rss.peaks.items()
        }
        print_summary({r.batch_size: r for r in results}, cold, bare_cold, named)
        compare(cloud, args, rng, gauge)
    print(f"\ntotal run time {time.perf_counter() - started:.1f} s (after imports)")


def compare(cloud: LocalCloud, args: argparse.Namespace, rng: random.Random, gauge: Gauge) -> None:
    """The same-run comparisons asked for: against a baseline checkout, between the APIs."""
    if args.baseline is not None:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            pairs = run_pairs(pool, cloud, args, rng)
        print_pairs(pairs, args.baseline, gauge)
    if args.compare_apis:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            apis = run_apis(pool, cloud, args, rng)
        print_apis(apis, gauge)


def run_benchmark(run: Callable[[argparse.Namespace], None], args: argparse.Namespace) -> int:
    """A benchmark's exit status: 130 on Ctrl-C, 1 with one line when the local cloud fails
    (a process does not start or dies), else 0; missed targets are only printed."""
    try:
        run(args)
    except KeyboardInterrupt:
        print("\ninterrupted; the local cloud is stopped", file=sys.stderr)
        return 130
    except RuntimeError as error:
        print(f"\nthe local cloud failed: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_benchmark(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(recorded("capture_throughput", main))
