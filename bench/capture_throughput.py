"""Capture throughput benchmark: prints figures, asserts nothing (``make bench``).

What it measures, on a local stack it starts itself on free loopback ports:

* BigQuery emulator (fresh temp data dir) and fake-gcs-server (memory backend), bootstrapped
  with the ``events`` dataset, its tables and the bucket;
* the capture function served by functions-framework (gunicorn, WORKERS=1, THREADS=8), so the
  function is one gunicorn arbiter plus one worker whose CPU and memory are read from /proc.

Figures:

* Cold start: process start -> first HTTP 200 for one valid event (port polled, then the event
  POSTed until accepted). A bare functions-framework function that returns "ok" is timed the
  same way in the same run, as a baseline for what the framework alone costs on this machine.
* One phase per batch size (1, 50, 500), each sending fresh events of every family from a
  second process (4 threads, one keep-alive ``requests.Session`` each):
  events/s, p50/p99 request latency, function CPU time per event (utime+stime deltas summed
  over the function's process tree), peak RSS (VmHWM, largest process of the tree), BigQuery
  insert requests per 1,000 events (from ``bigquery_insert_requests`` in the function's
  one-JSON-line-per-request log) and non-200 responses.
* A summary against the targets, and where the accepted events ended up: per table, the rows
  and distinct event_ids in the emulator (``SELECT event_id`` with the partition filter
  ``received_at > TIMESTAMP('2000-01-01')``) and the insert ids in the bucket's dead-letter area.
  The function answers 200 once an event is durable in either place (a BigQuery insert that
  runs past its deadline is dead-lettered), so every accepted event must be found in one of
  them, and no event may be stored twice in a table: the last request is sent again on
  purpose, and its insertIds must keep it from being counted twice.
* A machine gauge: CPU time of a fixed reference workload (json.dumps of one event), timed
  before the run and every ~2 s during each phase (by the otherwise idle parent). On a shared
  VM with steal time the CPU charged to a process varies many-fold; the ``gauge x`` column
  (median during the phase / best before the run) is a lower bound of how much the CPU figures
  of that phase are inflated by the machine rather than by the function. It cannot see CPU
  charged to threads that wait on a slow backend, which on such a VM can be far larger.

The exit status is non-zero only when the stack fails (a process does not start or dies) or an
accepted event is missing or duplicated; missed targets are only printed.
"""

import argparse
import compileall
import json
import multiprocessing
import os
import queue
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FUNCTION_ROOT = REPO / "functions" / "capture"
for _path in (FUNCTION_ROOT, REPO):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import requests  # noqa: E402

from localcloud.processes import (  # noqa: E402
    STATE_DIR,
    Service,
    bigquery_emulator,
    capture_function,
    free_port,
    gcs_emulator,
    port_open,
)
from localcloud.sample_events import sample_batch, sample_event  # noqa: E402
from event_capture.schemas.families import FAMILIES, MODEL_BY_EVENT_TYPE  # noqa: E402

PROJECT = "capture-bench"
DATASET = "events"
BUCKET = "capture-bench-events"
LOG_DIR = STATE_DIR / "logs"
JSON_HEADERS = {"Content-Type": "application/json"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Targets the summary compares against.
TARGET_CPU_US_AT_500 = 40.0
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

BARE_FUNCTION = """import functions_framework


@functions_framework.http
def hello(request):
    return "ok"
"""


# --- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    table: str
    body: dict[str, Any]

    @property
    def event_id(self) -> str:
        event_id: str = self.body["event_id"]
        return event_id


def generate_events(count: int, rng: random.Random) -> list[Event]:
    """``count`` fresh events of every family, occurred_at now."""
    events = sample_batch(count, users=5_000, seed=rng.randrange(2**32))
    return [Event(MODEL_BY_EVENT_TYPE[event["event_type"]].TABLE, event) for event in events]


def batches(events: list[Event], size: int) -> list[list[Event]]:
    return [events[start : start + size] for start in range(0, len(events), size)]


def request_body(batch: list[Event], batch_size: int) -> bytes:
    """A single event object for batch size 1, otherwise ``{"events": [...]}``."""
    if batch_size == 1:
        return json.dumps(batch[0].body).encode()
    return json.dumps({"events": [event.body for event in batch]}).encode()


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


# --- /proc readings ----------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state is [0], ppid [1])."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    """``root`` and its live descendants, found by scanning /proc for parent pids."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def tree_cpu_seconds(root: int) -> float:
    """utime+stime of the live tree plus cutime+cstime (children already reaped)."""
    ticks = 0
    for pid in process_tree(root):
        fields = _stat_fields(pid)
        if fields is not None:
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / CLOCK_TICKS


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_peak_rss_mb(root: int) -> dict[int, float]:
    return {pid: peak_rss_mb(pid) for pid in process_tree(root)}


def cpu_times() -> list[int]:
    """The aggregate ``cpu`` line of /proc/stat (user nice system idle iowait irq softirq steal)."""
    first = Path("/proc/stat").read_text().splitlines()[0]
    return [int(value) for value in first.split()[1:9]]


def steal_percent(before: list[int], after: list[int]) -> float:
    deltas = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(deltas)
    return 100 * deltas[7] / total if total else 0.0


@dataclass(frozen=True, slots=True)
class Gauge:
    best_us: float
    median_us: float

    def __str__(self) -> str:
        return (
            f"json.dumps of one event {self.best_us:.2f} µs CPU best, {self.median_us:.2f} µs "
            f"median ({self.median_us / self.best_us:.1f}x)"
        )


def _gauge_round(event: dict[str, Any], number: int) -> float:
    started = time.process_time()
    for _ in range(number):
        json.dumps(event)
    return (time.process_time() - started) / number * 1e6


GAUGE_EVENT = sample_event("search", rng=random.Random(0))


def machine_gauge(rounds: int = 15, number: int = 2_000) -> Gauge:
    """CPU µs per json.dumps of a fixed event over ``rounds`` rounds: best and median."""
    per_op = [_gauge_round(GAUGE_EVENT, number) for _ in range(rounds)]
    return Gauge(min(per_op), statistics.median(per_op))


def wait_with_gauge(
    pending: AsyncResult[SendResult], every: float = 2.0
) -> tuple[SendResult, float]:
    """Wait for the sender, timing one gauge round every ``every`` s; returns the median."""
    per_op = [_gauge_round(GAUGE_EVENT, 2_000)]
    while not pending.ready():
        pending.wait(every)
        per_op.append(_gauge_round(GAUGE_EVENT, 2_000))
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


# --- the stack ---------------------------------------------------------------------------------


def fresh_log(name: str) -> Path:
    path = LOG_DIR / f"bench-{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def start_emulators(data_dir: Path) -> tuple[Service, Service]:
    bigquery = bigquery_emulator(PROJECT, data_dir)
    bigquery.log_path = fresh_log("bigquery-emulator")
    gcs = gcs_emulator()
    gcs.log_path = fresh_log("fake-gcs-server")
    return bigquery, gcs


def bootstrap_stack(bigquery: Service, gcs: Service) -> None:
    from localcloud import bootstrap

    # google-cloud-storage finds fake-gcs-server through this variable.
    os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{gcs.port}"
    client = bootstrap.bigquery_client(PROJECT, f"http://127.0.0.1:{bigquery.port}")
    bootstrap.create_dataset_and_tables(client, DATASET)
    bootstrap.create_bucket(bootstrap.storage_client(PROJECT), BUCKET)


def capture_service(bigquery: Service, gcs: Service) -> Service:
    env = {
        **SERVER_ENV,
        "GCP_PROJECT": PROJECT,
        "BIGQUERY_DATASET": DATASET,
        "BIGQUERY_EMULATOR_HOST": f"http://127.0.0.1:{bigquery.port}",
        "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{gcs.port}",
        "GCS_BUCKET": BUCKET,
        "REDIS_ENABLED": "false",
    }
    service = capture_function(env)
    service.log_path = fresh_log("capture-function")
    return service


def bare_service(directory: Path) -> Service:
    source = directory / "main.py"
    source.write_text(BARE_FUNCTION)
    port = free_port()
    argv = [sys.executable, "-m", "functions_framework", "--target", "hello"]
    argv += ["--source", str(source), "--host", "127.0.0.1", "--port", str(port)]
    return Service(
        "bare-function",
        argv,
        port,
        lambda: port_open(port),
        env=dict(SERVER_ENV),
        cwd=directory,
        log_path=fresh_log("bare-function"),
        start_timeout=60,
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
    url = f"http://127.0.0.1:{service.port}/"
    deadline = time.monotonic() + timeout
    attempts = 0
    while time.monotonic() < deadline:
        attempts += 1
        try:
            response = requests.post(url, data=body, headers=JSON_HEADERS, timeout=timeout)
            if response.status_code == 200:
                return ColdStart(port_open_s, time.perf_counter() - service.started_at, attempts)
        except requests.RequestException:
            pass
        if not service.running:
            break
        time.sleep(0.01)
    raise RuntimeError(f"{service.name} gave no HTTP 200 within {timeout:g}s; see its log")


def stop_all(services: list[Service]) -> None:
    for service in reversed(services):
        try:
            service.stop()
        except OSError as error:
            print(f"warning: stopping {service.name}: {error}", file=sys.stderr)


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


def services_cpu_seconds(services: list[Service]) -> float:
    return sum(tree_cpu_seconds(s.process.pid) for s in services if s.process is not None)


def run_phase(
    pool: Pool,
    function: Service,
    emulators: list[Service],
    events: list[Event],
    batch_size: int,
    threads: int,
) -> tuple[PhaseResult, list[list[Event]]]:
    """Send ``events`` in batches of ``batch_size``; returns the figures and the batches."""
    assert function.process is not None and function.log_path is not None
    root = function.process.pid
    chunks = batches(events, batch_size)
    bodies = [request_body(chunk, batch_size) for chunk in chunks]
    url = f"http://127.0.0.1:{function.port}/"
    offset = function.log_path.stat().st_size
    cpu_before, system_before = tree_cpu_seconds(root), cpu_times()
    emulators_before = services_cpu_seconds(emulators)
    pending = pool.apply_async(send_phase, (url, bodies, threads))
    (seconds, latencies, statuses), gauge_us = wait_with_gauge(pending)
    cpu_after, system_after = tree_cpu_seconds(root), cpu_times()
    emulators_after = services_cpu_seconds(emulators)
    if not function.running:
        raise RuntimeError(f"the capture function died during the batch-{batch_size} phase")
    lines = wait_for_log_lines(function.log_path, offset, expected=len(bodies))
    result = PhaseResult(
        batch_size=batch_size,
        events=len(events),
        seconds=seconds,
        latencies=latencies,
        statuses=statuses,
        cpu_seconds=cpu_after - cpu_before,
        peak_rss_mb=max(tree_peak_rss_mb(root).values()),
        insert_requests=sum(int(line["bigquery_insert_requests"]) for line in lines),
        dead_lettered=sum(int(line["events_dead_lettered"]) for line in lines),
        logged_requests=len(lines),
        emulator_cpu_seconds=emulators_after - emulators_before,
        steal_pct=steal_percent(system_before, system_after),
        gauge_us=gauge_us,
    )
    return result, chunks


def accepted_events(chunks: list[list[Event]], statuses: list[int]) -> Iterator[Event]:
    for chunk, status in zip(chunks, statuses, strict=True):
        if status == 200:
            yield from chunk


# --- verification ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stored:
    """What the stack holds for one table."""

    rows: int
    bigquery_ids: set[str]
    dead_letter_ids: set[str]


def stored_events(bigquery: Service, tables: list[str]) -> dict[str, Stored]:
    """Per table: BigQuery rows and distinct event ids, and the dead-lettered insert ids."""
    from localcloud import bootstrap

    client = bootstrap.bigquery_client(PROJECT, f"http://127.0.0.1:{bigquery.port}")
    dead_letter: dict[str, set[str]] = {}
    bucket = bootstrap.storage_client(PROJECT).bucket(BUCKET)
    for blob in bucket.list_blobs(prefix="dead-letter/"):
        for line in blob.download_as_text().splitlines():
            if line.strip():
                entry = json.loads(line)
                dead_letter.setdefault(entry["table"], set()).add(entry["insert_id"])
    stored = {}
    for table in tables:
        # Table names are this script's own constants, not input.
        sql = (
            "SELECT event_id FROM "
            f"`{PROJECT}.{DATASET}.{table}` "
            "WHERE received_at > TIMESTAMP('2000-01-01')"
        )
        ids = [str(row["event_id"]) for row in client.query(sql).result()]
        stored[table] = Stored(len(ids), set(ids), dead_letter.get(table, set()))
    return stored


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
    print(f"Peak RSS (VmHWM) per process at the end: {rss_text}")


def print_stored(stored: dict[str, Stored], expected: dict[str, set[str]], resent: int) -> bool:
    """Print where the accepted events are; False if one is missing or stored twice."""
    print(
        "\nWhere the accepted events are (BigQuery: received_at > 2000-01-01; "
        f"{resent} already-accepted events were sent a second time)"
    )
    header = (
        f"  {'table':<22} {'accepted':>9} {'BQ rows':>8} {'BQ distinct':>12} "
        f"{'dead-letter':>12} {'only DL':>8} {'missing':>8}"
    )
    print(header)
    ok = True
    totals = Counter[str]()
    for table, held in stored.items():
        accepted = expected.get(table, set())
        only_dead_letter = (held.dead_letter_ids - held.bigquery_ids) & accepted
        missing = accepted - held.bigquery_ids - held.dead_letter_ids
        distinct = len(held.bigquery_ids)
        good = not missing and held.rows == distinct
        ok = ok and good
        row = {
            "accepted": len(accepted),
            "rows": held.rows,
            "distinct": distinct,
            "dead_letter": len(held.dead_letter_ids),
            "only": len(only_dead_letter),
            "missing": len(missing),
        }
        totals.update(row)
        print(
            f"  {table:<22} {row['accepted']:>9} {row['rows']:>8} {row['distinct']:>12} "
            f"{row['dead_letter']:>12} {row['only']:>8} {row['missing']:>8}  "
            f"{'ok' if good else 'MISSING OR DUPLICATED'}"
        )
    print(
        f"  {'total':<22} {totals['accepted']:>9} {totals['rows']:>8} {totals['distinct']:>12} "
        f"{totals['dead_letter']:>12} {totals['only']:>8} {totals['missing']:>8}"
    )
    if totals["only"]:
        print(
            "  (events only in the dead-letter area were accepted durably there after a BigQuery "
            "insert ran out of time; `replay` would insert them)"
        )
    return ok


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
    return parser.parse_args(argv)


def precompile() -> None:
    # `make bench` unexports PYTHONDONTWRITEBYTECODE and deploys ship compiled bytecode, so the
    # cold start should not include compiling the function's own modules; do it up front.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for directory in (FUNCTION_ROOT, REPO / "schemas"):
        compileall.compile_dir(directory, quiet=1)


def run(args: argparse.Namespace, workdir: Path, services: list[Service]) -> int:
    rng = random.Random(args.seed)
    print(
        f"capture throughput benchmark: {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}, sender threads "
        f"{args.threads}, function WORKERS={SERVER_ENV['WORKERS']} THREADS={SERVER_ENV['THREADS']}"
    )
    precompile()
    gauge = machine_gauge()
    print(f"machine gauge before: {gauge}")

    started = time.perf_counter()
    bigquery, gcs = start_emulators(workdir / "bigquery-data")
    for service in (gcs, bigquery):
        services.append(service)  # registered first, so an interrupted start is stopped too
        service.start()
    bootstrap_stack(bigquery, gcs)
    print(f"emulators started and bootstrapped in {time.perf_counter() - started:.1f} s")

    bare = bare_service(workdir)
    services.append(bare)
    bare_cold = measure_cold_start(bare, b"{}")
    bare.stop()

    function = capture_service(bigquery, gcs)
    services.append(function)
    probe = generate_events(1, rng)[0]
    cold = measure_cold_start(function, json.dumps(probe.body).encode())
    print(
        f"cold start: {cold.first_200_s:.2f} s to the first accepted event "
        f"(port open after {cold.port_open_s:.2f} s); bare functions-framework "
        f"baseline {bare_cold.first_200_s:.2f} s"
    )
    expected: dict[str, set[str]] = {probe.table: {probe.event_id}}

    plan = [(1, args.batch1_events), (50, args.events), (500, args.events)]
    print(
        f"\nphases: batch 1 sends {args.batch1_events:,} events (one request each, fewer to "
        f"keep the run short; per-event figures stay comparable), batch 50 and 500 send "
        f"{args.events:,} each; events are fresh, every family mixed\n"
    )
    results: list[PhaseResult] = []
    resent = 0
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        pool.apply(time.sleep, (0,))  # start the sender before any timing
        last_chunks: list[list[Event]] = []
        for batch_size, count in plan:
            events = generate_events(count, rng)
            result, chunks = run_phase(
                pool, function, [bigquery, gcs], events, batch_size, args.threads
            )
            results.append(result)
            for event in accepted_events(chunks, result.statuses):
                expected.setdefault(event.table, set()).add(event.event_id)
            last_chunks = chunks
        # Send the last (accepted) request again: insertIds must keep it from being stored twice.
        if last_chunks:
            url = f"http://127.0.0.1:{function.port}/"
            body = request_body(last_chunks[-1], plan[-1][0])
            _, _, [status] = pool.apply(send_phase, (url, [body], 1))
            resent = len(last_chunks[-1])
            print(f"resent the last batch-{plan[-1][0]} request ({resent} events): HTTP {status}")
    print_phases(results, gauge)
    print(
        "gauge x: CPU of a fixed reference workload during the phase / its best before the run; "
        "above 1, that phase's CPU figures are inflated by the machine by at least that factor"
    )
    print(f"machine gauge after: {machine_gauge()}")

    assert function.process is not None
    tree = tree_peak_rss_mb(function.process.pid)
    rss = {
        ("arbiter" if pid == function.process.pid else f"worker {pid}"): mb
        for pid, mb in tree.items()
    }
    print_summary({r.batch_size: r for r in results}, cold, bare_cold, rss)

    stored = stored_events(bigquery, sorted(model.TABLE for model in FAMILIES))
    rows_ok = print_stored(stored, expected, resent)
    print(f"\ntotal run time {time.perf_counter() - started:.1f} s (after imports)")
    return 0 if rows_ok else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="capture-bench-"))
    services: list[Service] = []
    try:
        return run(args, workdir, services)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping the stack", file=sys.stderr)
        return 130
    except RuntimeError as error:
        print(f"\nstack failed: {error}", file=sys.stderr)
        return 1
    finally:
        stop_all(services)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
