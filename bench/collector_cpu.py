"""Collector CPU per event against the native endpoint: prints figures, asserts nothing
(``make bench``).

The goal (issue 14): at the SDKs' batch sizes, 15 (``@segment/analytics-node``'s flushAt) and
100 (``analytics-python``'s and ``rudder-sdk-python``'s upload_size), the collector costs at
most 1.5x the CPU per event of the native endpoint receiving the same events in the same run.

The events: the ecommerce families the collector maps (search, product view, click, add,
remove, order), sent as the SDKs send them: at batch 15 shaped like analytics-node's calls
(``node-next-<ms>-<uuid>`` messageIds, ``_metadata``, writeKey in the body and Basic auth), at
batch 100 like analytics-python's (uuid4 messageIds, ``anonymousId: null``, ``integrations``),
each with product properties the mapping drops unread (name, price, brand, sku). The native
baseline is the native equivalent of each call: the event the collector stores for it, posted
as ``{"events": [...]}`` with the same batch size.

Two measurements:

* In process, no network: the collector's real handler (``Collector.handle``: route, write
  key, body, mapping, the capture pipeline, the answer) against the capture function's own
  steps (``check_request``, ``parse_body``, ``CapturePipeline.handle``), both on the real
  CapturePipeline with an in-memory insert client that still builds the insertAll body (as
  bench/pipeline_cpu.py), both ending with the JSON answer and log line serialized. Rounds
  alternate between the two; the figure is the median over rounds of CPU time per event.
* Over loopback HTTP, on a ``LocalCloud`` started here: the real collector function and the
  real capture function (functions-framework, WORKERS=1, THREADS=8, same sinks: BigQuery
  emulator, GCS archive) served side by side; a second process sends with 4 keep-alive
  sessions; the figure is function CPU per event (psutil, user+system of the function's
  process tree, as bench/capture_throughput.py). Phases alternate between the two functions;
  the figure is the lowest over rounds, the one least inflated by a shared machine.

The exit status is non-zero only when the local cloud fails; a missed goal is only printed.
"""

import argparse
import base64
import compileall
import json
import multiprocessing
import os
import queue
import random
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from bench.capture_throughput import (
    SERVER_ENV,
    cpu_seconds,
    machine_gauge,
    precompile,
    run_benchmark,
)
from bench.pipeline_cpu import SerializingClient
from bench.results import recorded
from event_capture.collector.auth import WriteKeys
from event_capture.collector.event_ids import event_id
from event_capture.collector.handler import Collector, CollectorRequest
from event_capture.collector.mapping import LIBRARY_SOURCES, MAPPINGS
from event_capture.ingest.answer import capture_answer
from event_capture.ingest.body import parse_body
from event_capture.ingest.limits import MAX_REQUEST_BYTES
from event_capture.ingest.pipeline import CapturePipeline
from event_capture.ingest.sinks.bigquery import BigQuerySink
from event_capture.platform.http_error import HttpError
from event_capture.platform.request_checks import check_request
from localcloud.cloud import CloudSettings, LocalCloud
from localcloud.processes import REPO, STATE_DIR, Service
from localcloud.sample_events import sample_event

PROJECT = "collector-bench"
LOG_DIR = STATE_DIR / "logs" / "collector-bench"
GOAL_RATIO = 1.5
BATCH_SIZES = (15, 100)
WRITE_KEY = "wk_bench_0123456789abcdef"
# A server key, as analytics-python and analytics-node hold: their calls' user ids are kept as
# sent. Under a client key an unproven userId is dropped, and these calls, which carry no
# anonymousId, would all be refused (collector/identity.py): the bench would time refusals.
WRITE_KEYS = [{"id": "bench", "class": "server", "key": WRITE_KEY}]
AUTHORIZATION = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
COLLECTOR_HEADERS = {"Content-Type": "application/json", "Authorization": AUTHORIZATION}
NATIVE_HEADERS = {"Content-Type": "application/json"}

# The spec's (V2) name of each event type the collector maps, from its own table.
SPEC_NAME = {mapping.event_type: mapping.events[0] for mapping in MAPPINGS}
EVENT_TYPES = tuple(SPEC_NAME)

# --- events ------------------------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _properties(event: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The Segment properties of a native sample event (the V2 ecommerce spec's names), plus
    ones the mapping drops unread, as real calls carry them."""
    properties: dict[str, Any] = {"session_id": event["session_id"]}
    kind = event["event_type"]
    if kind == "search":
        properties |= {
            key: event[key]
            for key in ("query", "intent", "intent_confidence", "result_count", "latency_ms")
        }
        properties["filters"] = [{"type": f["name"], "value": f["value"]} for f in event["filters"]]
    elif kind == "order_placed":
        properties |= {
            "order_id": event["order_id"],
            "total": float(event["total"]),
            "currency": event["currency"].lower(),
            "products": [
                {
                    "product_id": item["product_id"],
                    "quantity": item["quantity"],
                    "price": float(item["unit_price"]),
                    "sku": item["product_id"].upper(),
                    "name": "Oat drink 1 l",
                }
                for item in event["items"]
            ],
        }
    else:
        properties |= {
            key: event[key]
            for key in ("product_id", "category", "position", "quantity")
            if key in event
        }
        properties |= {
            "name": "Oat drink 1 l",
            "brand": "Oatly",
            "price": rng.randint(99, 999) / 100,
        }
    return properties


def _call(event: dict[str, Any], node: bool, rng: random.Random) -> dict[str, Any]:
    """The track call an SDK sends for a native sample event."""
    if node:
        millis = int(datetime.now(UTC).timestamp() * 1000)
        return {
            "type": "track",
            "event": SPEC_NAME[event["event_type"]],
            "properties": _properties(event, rng),
            "userId": event["user_id"],
            "timestamp": event["occurred_at"],
            "integrations": {},
            "context": {"library": {"name": "@segment/analytics-node", "version": "2.1.3"}},
            "messageId": f"node-next-{millis}-{uuid.uuid4()}",
            "_metadata": {"nodeVersion": "20.19.2", "jsRuntime": "node"},
        }
    return {
        "properties": _properties(event, rng),
        "timestamp": event["occurred_at"],
        "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
        "integrations": {},
        "event": SPEC_NAME[event["event_type"]],
        "userId": event["user_id"],
        "anonymousId": None,
        "messageId": str(uuid.uuid4()),
        "type": "track",
    }


@dataclass(frozen=True, slots=True)
class Requests:
    """One batch size's request bodies: the SDK's and the native equivalent, request by request."""

    batch_size: int
    collector: list[bytes]
    native: list[bytes]

    @property
    def events(self) -> int:
        return len(self.collector) * self.batch_size


def build_requests(batch_size: int, events: int, seed: int) -> Requests:
    """``events`` fresh events in batches of ``batch_size``: Node-shaped at 15, else Python's."""
    rng = random.Random(seed)
    node = batch_size == 15
    collector, native = [], []
    for start in range(0, events, batch_size):
        now = datetime.now(UTC)
        calls, natives = [], []
        for index in range(start, start + batch_size):
            user = f"u_{index % 5_000:04d}"
            event = sample_event(
                EVENT_TYPES[index % len(EVENT_TYPES)], user, f"s_{user[2:]}", now, rng
            )
            call = _call(event, node, rng)
            calls.append(call)
            library = call["context"]["library"]["name"]
            natives.append(
                {
                    **event,
                    "event_id": event_id(call["messageId"]),
                    "source": LIBRARY_SOURCES[library],
                }
            )
        body: dict[str, Any] = {"batch": calls, "sentAt": _stamp(now + timedelta(milliseconds=5))}
        if node:
            body["writeKey"] = WRITE_KEY
        collector.append(json.dumps(body).encode())
        native.append(json.dumps({"events": natives}).encode())
    return Requests(batch_size, collector, native)


# --- in process --------------------------------------------------------------------------------


def in_memory_pipeline() -> CapturePipeline:
    sink = BigQuerySink(
        SerializingClient, project="project", dataset="events", deadline_seconds=10.0
    )
    return CapturePipeline(bigquery=sink, dead_letter=None, archive=None, redis=None)


def _serialize(body: dict[str, Any], line: dict[str, Any]) -> None:
    # What both entry points do with an answer: the response body and the one log line.
    json.dumps(body, separators=(",", ":"))
    json.dumps(line, separators=(",", ":"))


def native_sender(pipeline: CapturePipeline) -> Callable[[bytes], int]:
    """The capture function's steps for one body, without flask; returns events accepted."""

    def send(body: bytes) -> int:
        refused = check_request(
            "POST", "application/json", len(body), None, limit=MAX_REQUEST_BYTES
        )
        assert refused is None
        parsed = parse_body(body, None)
        assert not isinstance(parsed, HttpError)
        result = capture_answer(pipeline.handle(parsed.events, parsed.batch))
        _serialize(result.body, result.log)
        return int(result.body["accepted"])

    return send


def collector_sender(collector: Collector) -> Callable[[bytes], int]:
    """The collector's handler for one body; returns events accepted."""

    def send(body: bytes) -> int:
        answer = collector.handle(
            CollectorRequest(
                method="POST",
                path="/v1/batch",
                mimetype="application/json",
                content_length=len(body),
                content_encoding=None,
                authorization=AUTHORIZATION,
                body=body,
            )
        )
        _serialize(answer.body, answer.log)
        return int(answer.body["accepted"])

    return send


def _round(send: Callable[[bytes], int], bodies: list[bytes], events: int) -> float:
    started = time.process_time()
    for body in bodies:
        send(body)
    return (time.process_time() - started) / events * 1e6


@dataclass(frozen=True, slots=True)
class Figure:
    batch_size: int
    native_us: float
    collector_us: float

    @property
    def ratio(self) -> float:
        return self.collector_us / self.native_us


def in_process(requests_by_batch: list[Requests], rounds: int) -> list[Figure]:
    native = native_sender(in_memory_pipeline())
    collector = collector_sender(
        Collector(pipeline=in_memory_pipeline(), write_keys=WriteKeys.parse(json.dumps(WRITE_KEYS)))
    )
    figures = []
    for reqs in requests_by_batch:
        accepted = (
            sum(map(native, reqs.native)),
            sum(map(collector, reqs.collector)),
        )  # warm-up, and a check that both paths store every event
        if accepted != (reqs.events, reqs.events):
            print(
                f"note: batch {reqs.batch_size}: accepted native {accepted[0]}, collector "
                f"{accepted[1]} of {reqs.events}; the figures compare unequal work"
            )
        native_us, collector_us = [], []
        for _ in range(rounds):
            native_us.append(_round(native, reqs.native, reqs.events))
            collector_us.append(_round(collector, reqs.collector, reqs.events))
        figures.append(
            Figure(reqs.batch_size, statistics.median(native_us), statistics.median(collector_us))
        )
    return figures


# --- over HTTP ---------------------------------------------------------------------------------

# (per-request HTTP status or 0 on a transport error, events accepted by all requests)
SendResult = tuple[list[int], int]


def send_phase(url: str, bodies: list[bytes], headers: dict[str, str], threads: int) -> SendResult:
    """POST every body with ``threads`` keep-alive sessions; runs in the sender process."""
    work: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(bodies)):
        work.put(index)
    statuses = [0] * len(bodies)
    accepted = [0] * len(bodies)

    def worker() -> None:
        with requests.Session() as session:
            while True:
                try:
                    index = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    response = session.post(url, data=bodies[index], headers=headers, timeout=120)
                    statuses[index] = response.status_code
                    accepted[index] = int(response.json().get("accepted", 0))
                except (requests.RequestException, ValueError):
                    statuses[index] = 0

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return statuses, sum(accepted)


def http_phase(
    pool: Any,
    function: Service,
    url: str,
    bodies: list[bytes],
    headers: dict[str, str],
    events: int,
    threads: int,
) -> float:
    """Function CPU µs per event for one phase; notes non-200 answers and lost events."""
    before = cpu_seconds([function])
    statuses, accepted = pool.apply(send_phase, (url, bodies, headers, threads))
    used = cpu_seconds([function]) - before
    if not function.running:
        raise RuntimeError(f"{function.name} died during a phase")
    failed = sum(1 for status in statuses if status != 200)
    if failed or accepted != events:
        print(
            f"note: {function.name}: {failed} non-200 answers, {accepted} of {events} events "
            "accepted"
        )
    return used / events * 1e6


def over_http(events: int, rounds: int, threads: int) -> list[Figure]:
    settings = CloudSettings(
        project=PROJECT, bucket=f"{PROJECT}-events", log_dir=LOG_DIR, persistent_gcs=False
    )
    with LocalCloud(settings) as cloud:
        native = cloud.start_function(env=SERVER_ENV)
        collector = cloud.start_collector(write_keys=WRITE_KEYS, env=SERVER_ENV)
        collector_url = collector.url.rstrip("/") + "/v1/batch"
        figures = []
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            # Warm both functions up (clients created on first use) before any timing.
            first = build_requests(BATCH_SIZES[0], 2 * BATCH_SIZES[0], seed=0)
            pool.apply(send_phase, (native.url, first.native, NATIVE_HEADERS, 1))
            pool.apply(send_phase, (collector_url, first.collector, COLLECTOR_HEADERS, 1))
            for batch_size in BATCH_SIZES:
                native_us, collector_us = [], []
                for _ in range(rounds):
                    # Fresh events each phase: a resent insertId would be de-duplicated work.
                    fresh = build_requests(batch_size, events, seed=random.randrange(2**32))
                    native_us.append(
                        http_phase(
                            pool,
                            native,
                            native.url,
                            fresh.native,
                            NATIVE_HEADERS,
                            fresh.events,
                            threads,
                        )
                    )
                    collector_us.append(
                        http_phase(
                            pool,
                            collector,
                            collector_url,
                            fresh.collector,
                            COLLECTOR_HEADERS,
                            fresh.events,
                            threads,
                        )
                    )
                figures.append(Figure(batch_size, min(native_us), min(collector_us)))
    return figures


# --- report ------------------------------------------------------------------------------------


def print_figures(title: str, figures: list[Figure]) -> None:
    print(f"\n{title}")
    header = f"{'batch':>5} {'native µs/ev':>13} {'collector µs/ev':>16} {'ratio':>7}  goal"
    print(header)
    print("-" * len(header))
    for f in figures:
        verdict = "met" if f.ratio <= GOAL_RATIO else "MISSED"
        print(
            f"{f.batch_size:>5} {f.native_us:>13.1f} {f.collector_us:>16.1f} {f.ratio:>6.2f}x  "
            f"{verdict} (≤ {GOAL_RATIO:g}x)"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3_000, help="events per round in process")
    parser.add_argument("--rounds", type=int, default=15, help="rounds in process")
    parser.add_argument("--http-events", type=int, default=6_000, help="events per HTTP phase")
    parser.add_argument("--http-rounds", type=int, default=2, help="phases per function and size")
    parser.add_argument("--threads", type=int, default=4, help="sender threads over HTTP")
    parser.add_argument("--no-http", action="store_true", help="in process only")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    print(
        f"collector CPU benchmark: {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}"
    )
    print(f"machine gauge before: {machine_gauge()}")
    batches = [build_requests(size, args.events, args.seed + size) for size in BATCH_SIZES]
    print_figures(
        f"In process (median of {args.rounds} rounds of {args.events:,} events, CPU per event)",
        in_process(batches, args.rounds),
    )
    if not args.no_http:
        precompile()
        compileall.compile_dir(REPO / "functions" / "collector", quiet=1)
        started = time.perf_counter()
        figures = over_http(args.http_events, args.http_rounds, args.threads)
        print_figures(
            f"Over loopback HTTP (function CPU per event, lowest of {args.http_rounds} phases of "
            f"{args.http_events:,} events; {time.perf_counter() - started:.0f} s)",
            figures,
        )
    print(f"\nmachine gauge after: {machine_gauge()}")


def main(argv: list[str] | None = None) -> int:
    return run_benchmark(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(recorded("collector_cpu", main))
