"""Request path benchmark: where a request's wall time goes, per sink (``make bench``).

Prints figures, asserts nothing. On a ``LocalCloud`` it starts itself (BigQuery emulator,
fake-gcs-server, redis-server, all on loopback) the capture function and the collector run
under functions-framework (WORKERS=1, THREADS=8) with every sink on: BigQuery, the dead-letter
area, the archive and Redis. Requests are sent one at a time from one keep-alive session, so
each one's wall time is its own and not a queue's, at batches of 1, 50 and 500 events.

For every request it reads the function's own log line (``latency_ms`` and, per sink,
``sinks.<name>.latency_ms``: whatever sinks the pipeline reports) and prints, p50 and p95:

* the wall time the caller saw, and the function's logged time;
* each sink's time, their sum (what the sinks would take one after another) and the backend
  path: the longest of the parallel writes (BigQuery then its dead letters, beside the archive
  and any other sink) plus Redis, which runs after them because it is fed only what is durable;
* the function's own time outside the backends: the wall time less the backend path (HTTP on
  loopback, the framework, parsing, validation, the answer and the log line).

That the sinks run in parallel shows as the logged time below the sum of the sinks: in series
it could not be. Each phase also says how many requests wrote to the archive and their wall time
beside the others': every request while the archive is written per request, the flushing ones
only under a group commit (the others report no archive time).

The baseline of the same run is a bare functions-framework function answering "ok" over the
same loopback, the floor of what HTTP and the framework cost here. The emulators' times are
loopback figures, not the cloud's: the cost model (``cost/figures.py``) takes the function's
own time from here and adds published cloud latencies for the backends.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.capture_throughput import (
    JSON_HEADERS,
    SERVER_ENV,
    bare_function,
    precompile,
    request_bodies,
    run_benchmark,
)
from bench.collector_cpu import COLLECTOR_HEADERS, WRITE_KEY, build_requests
from bench.results import recorded
from event_capture.contracts import log_fields as log
from localcloud.cloud import CloudSettings, LocalCloud
from localcloud.processes import REPO, STATE_DIR, Service
from localcloud.sample_events import sample_batch

PROJECT = "request-path-bench"
LOG_DIR = STATE_DIR / "logs" / "request-path-bench"
BATCH_SIZES = (1, 50, 500)
# The sinks in the order the table prints them; a sink the pipeline reports under another name
# is printed after these and counted with the parallel writes.
KNOWN_SINKS = (log.SINK_BIGQUERY, log.SINK_DEAD_LETTER, log.SINK_GCS_ARCHIVE, log.SINK_REDIS)
# Runs after the durable writes (it is fed only what is stored), so it adds to the path.
SERIAL_SINKS = frozenset({log.SINK_REDIS})
# Written only with what BigQuery refused, after BigQuery: one chain.
AFTER_BIGQUERY = frozenset({log.SINK_DEAD_LETTER})


# --- one request's timings ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timing:
    """One request: the caller's wall time, the function's logged time and each sink's."""

    wall_ms: float
    logged_ms: float
    sinks: dict[str, float]

    @property
    def sum_ms(self) -> float:
        """The sinks one after another."""
        return sum(self.sinks.values())

    @property
    def backend_ms(self) -> float:
        """The sinks as the pipeline runs them: the parallel writes' longest, then Redis."""
        chain = sum(ms for name, ms in self.sinks.items() if name in AFTER_BIGQUERY)
        chain += self.sinks.get(log.SINK_BIGQUERY, 0.0)
        beside = [
            ms
            for name, ms in self.sinks.items()
            if name not in SERIAL_SINKS | AFTER_BIGQUERY | {log.SINK_BIGQUERY}
        ]
        serial = sum(ms for name, ms in self.sinks.items() if name in SERIAL_SINKS)
        return max([chain, *beside]) + serial

    @property
    def own_ms(self) -> float:
        """The function's time outside the backends, HTTP on loopback included."""
        return self.wall_ms - self.backend_ms


def timing(wall_seconds: float, line: dict[str, Any]) -> Timing:
    """A request's timing from its wall time and its log line (sinks that did not run, or
    report no time, are left out)."""
    sinks = {
        name: float(outcome.get("latency_ms", 0.0))
        for name, outcome in line.get(log.SINKS, {}).items()
        if outcome.get("latency_ms")
    }
    return Timing(wall_seconds * 1000, float(line.get(log.LATENCY_MS, 0.0)), sinks)


def request_lines(log_path: Path, offset: int, message: str) -> list[dict[str, Any]]:
    """The function's per-request lines (``message``) written after ``offset``."""
    with log_path.open("rb") as file:
        file.seek(offset)
        text = file.read().decode(errors="replace")
    lines = []
    for raw in text.splitlines():
        if not raw.startswith("{"):
            continue
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if entry.get("message") == message and log.SINKS in entry:
            lines.append(entry)
    return lines


def wait_for_lines(
    log_path: Path, offset: int, message: str, expected: int, timeout: float = 10.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        lines = request_lines(log_path, offset, message)
        if len(lines) >= expected or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def send_one_by_one(
    url: str, bodies: Sequence[bytes], headers: dict[str, str]
) -> tuple[list[float], list[int]]:
    """Each body POSTed after the previous answer: wall seconds and status of each."""
    walls, statuses = [], []
    with requests.Session() as session:
        for body in bodies:
            started = time.perf_counter()
            response = session.post(url, data=body, headers=headers, timeout=120)
            walls.append(time.perf_counter() - started)
            statuses.append(response.status_code)
    return walls, statuses


@dataclass(frozen=True, slots=True)
class Phase:
    path: str
    batch_size: int
    timings: list[Timing]
    non_200: int


def run_phase(
    path: str,
    function: Service,
    url: str,
    bodies: Sequence[bytes],
    headers: dict[str, str],
    message: str,
    batch_size: int,
) -> Phase:
    assert function.log_path is not None
    offset = function.log_path.stat().st_size
    walls, statuses = send_one_by_one(url, bodies, headers)
    if not function.running:
        raise RuntimeError(f"{function.name} died during the batch-{batch_size} phase")
    lines = wait_for_lines(function.log_path, offset, message, len(bodies))
    if len(lines) != len(bodies):
        raise RuntimeError(
            f"{function.name}: {len(lines)} log lines for {len(bodies)} requests; see its log"
        )
    # One request at a time: the n-th line is the n-th request's.
    timings = [timing(wall, line) for wall, line in zip(walls, lines, strict=True)]
    return Phase(path, batch_size, timings, sum(status != 200 for status in statuses))


# --- figures -----------------------------------------------------------------------------------


def percentile(values: Iterable[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))
    return ordered[rank]


def sink_names(phases: Sequence[Phase]) -> list[str]:
    seen = {name for phase in phases for t in phase.timings for name in t.sinks}
    return [n for n in KNOWN_SINKS if n in seen] + sorted(seen - set(KNOWN_SINKS))


@dataclass(frozen=True, slots=True)
class OwnTime:
    """The function's own time fitted as ``per_request_ms + per_event_us x batch``."""

    per_request_ms: float
    per_event_us: float


def fit_own_time(phases: Sequence[Phase]) -> OwnTime:
    """Through the p50 own time of the smallest and the largest batch."""
    first, last = min(phases, key=lambda p: p.batch_size), max(phases, key=lambda p: p.batch_size)
    low = statistics.median(t.own_ms for t in first.timings)
    high = statistics.median(t.own_ms for t in last.timings)
    if last.batch_size == first.batch_size:
        return OwnTime(low, 0.0)
    per_event = (high - low) / (last.batch_size - first.batch_size)
    return OwnTime(low - per_event * first.batch_size, per_event * 1000)


def archive_writes(phase: Phase) -> str:
    """How many requests wrote to the archive, and what that cost them: with the archive
    written per request, every one; with a group commit, the flushing ones only."""
    writing = [t for t in phase.timings if log.SINK_GCS_ARCHIVE in t.sinks]
    others = [t for t in phase.timings if log.SINK_GCS_ARCHIVE not in t.sinks]
    text = f"requests that wrote to the archive: {len(writing)} of {len(phase.timings)}"
    if writing and others:
        text += (
            f"; their wall time p50 {statistics.median(t.wall_ms for t in writing):.1f} ms, "
            f"the others' {statistics.median(t.wall_ms for t in others):.1f} ms"
        )
    return text


Figure = tuple[str, Callable[[Timing], float]]


def _sink_figure(name: str) -> Figure:
    return (name, lambda t: t.sinks.get(name, 0.0))


def print_phases(title: str, phases: Sequence[Phase], floor_ms: float) -> None:
    names = sink_names(phases)
    figures: list[Figure] = [
        ("wall", lambda t: t.wall_ms),
        ("logged", lambda t: t.logged_ms),
        *[_sink_figure(name) for name in names],
        ("sum of sinks", lambda t: t.sum_ms),
        ("backend path", lambda t: t.backend_ms),
        ("own time", lambda t: t.own_ms),
    ]
    print(f"\n{title}: ms a request, p50 / p95 ({len(phases[0].timings)} requests a batch)")
    header = f"{'batch':>5} " + " ".join(f"{label:>15}" for label, _ in figures)
    print(header)
    print("-" * len(header))
    for phase in phases:
        cells = []
        for _, figure in figures:
            values = [figure(t) for t in phase.timings]
            cells.append(f"{percentile(values, 0.5):>7.1f}/{percentile(values, 0.95):<7.1f}")
        print(f"{phase.batch_size:>5} " + " ".join(cells))
    for phase in phases:
        ratios = [t.logged_ms / t.sum_ms for t in phase.timings if t.sum_ms > 0]
        slowest = [t.logged_ms / max(t.sinks.values()) for t in phase.timings if t.sinks]
        note = f"; {phase.non_200} answers not 200" if phase.non_200 else ""
        print(
            f"  batch {phase.batch_size}: logged time / sum of sinks, median "
            f"{statistics.median(ratios or [0.0]):.2f} (in series it could not be below 1); "
            f"/ slowest sink {statistics.median(slowest or [0.0]):.2f}; own time "
            f"{statistics.median(t.own_ms for t in phase.timings) / floor_ms:.1f}x the bare "
            f"function's wall time{note}"
        )
        print(f"    {archive_writes(phase)}")
    own = fit_own_time(phases)
    print(
        f"  own time (p50, fitted through batch {phases[0].batch_size} and "
        f"{phases[-1].batch_size}): {own.per_request_ms:.2f} ms a request + "
        f"{own.per_event_us:.1f} µs an event"
    )


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests", type=int, default=60, help="requests per batch size and path (default 60)"
    )
    parser.add_argument(
        "--batches",
        type=lambda text: tuple(int(part) for part in text.split(",")),
        default=BATCH_SIZES,
        help="batch sizes, comma-separated (default 1,50,500)",
    )
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def _warm(url: str, bodies: Sequence[bytes], headers: dict[str, str]) -> None:
    """Clients are created on first use: two requests before any timing."""
    send_one_by_one(url, bodies[:2], headers)


def run(args: argparse.Namespace) -> None:
    print(
        f"request path benchmark: {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}, function "
        f"WORKERS={SERVER_ENV['WORKERS']} THREADS={SERVER_ENV['THREADS']}, one request at a time"
    )
    precompile(REPO)
    for old in LOG_DIR.glob("*.log"):
        old.unlink()
    started = time.perf_counter()
    settings = CloudSettings(
        project=PROJECT,
        bucket=f"{PROJECT}-events",
        log_dir=LOG_DIR,
        persistent_gcs=False,
        redis=True,
    )
    with LocalCloud(settings) as cloud, tempfile.TemporaryDirectory() as workdir:
        print(f"emulators started and bootstrapped in {time.perf_counter() - started:.1f} s")
        bare = bare_function(Path(workdir)).start()
        try:
            walls, _ = send_one_by_one(bare.url, [b"{}"] * (args.requests + 2), JSON_HEADERS)
        finally:
            bare.stop()
        floor_ms = statistics.median(walls[2:]) * 1000
        print(
            f"baseline: a bare functions-framework function answers in {floor_ms:.2f} ms p50 "
            f"({percentile(walls[2:], 0.95) * 1000:.2f} ms p95) on the same loopback"
        )

        capture = cloud.function(env=SERVER_ENV).start()
        # A server key: a backend's calls keep their user ids without a proof (a client key's
        # would be refused for want of one, and nothing would reach a sink).
        collector = cloud.start_collector(
            write_keys=[{"id": "backend", "class": "server", "key": WRITE_KEY}], env=SERVER_ENV
        )
        collector_url = collector.url.rstrip("/") + "/v1/batch"
        capture_phases, collector_phases = [], []
        for index, size in enumerate(args.batches):
            events = sample_batch(size * (args.requests + 2), seed=args.seed + index)
            bodies = request_bodies(events, size)
            _warm(capture.url, bodies, JSON_HEADERS)
            capture_phases.append(
                run_phase(
                    "capture",
                    capture,
                    capture.url,
                    bodies[2:],
                    JSON_HEADERS,
                    log.CAPTURE_MESSAGE,
                    size,
                )
            )
            calls = build_requests(
                size, size * (args.requests + 2), seed=args.seed + index
            ).collector
            _warm(collector_url, calls, COLLECTOR_HEADERS)
            collector_phases.append(
                run_phase(
                    "collector",
                    collector,
                    collector_url,
                    calls[2:],
                    COLLECTOR_HEADERS,
                    log.COLLECTOR_MESSAGE,
                    size,
                )
            )
        print_phases("capture function (POST /)", capture_phases, floor_ms)
        print_phases("collector (POST /v1/batch, Segment calls)", collector_phases, floor_ms)
        print(
            "\nwall: what the caller waited; logged: the function's latency_ms; backend path: "
            "the longest parallel write (BigQuery and its dead letters, beside the archive) plus "
            "Redis after them; own time: wall less the backend path. The emulators answer on "
            "loopback: their times are not the cloud's, the own time is what carries over."
        )
    print(f"\ntotal run time {time.perf_counter() - started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    return run_benchmark(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(recorded("request_path", main))
