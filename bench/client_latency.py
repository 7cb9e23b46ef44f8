"""What tracking an event costs the app's thread: the capture client against a synchronous POST.

    python bench/client_latency.py [--events N]

Both run in the same process against the same endpoints, in four conditions:

- up: the capture function on the local emulators (started here);
- slow: the same function behind a proxy that adds --delay-ms to every request;
- down (refused): nothing listens on the port;
- down (no answer): a socket that accepts connections and never answers (a hung host).

(a) is the app calling the function itself, one event per request, keep-alive, a 30 s timeout
(2 s against the hung host, or it would wait for ever).
(b) is ``CaptureClient.track()``: the time from the call to its return, in the app's thread.
Printed: p50, p99 and p99.9 of each in microseconds, and the ratio (a)/(b) at p99. The goals:
(b) p99 under 50 us in every condition, and at least 100 times below (a). Not a test.
"""

import argparse
import http.client
import socket
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.results import recorded
from event_capture.client import CaptureClient, ClientSettings, EventContext
from event_capture.schemas.search import SearchEvent
from localcloud.cloud import CloudSettings, LocalCloud
from localcloud.processes import STATE_DIR, free_port

TARGET_P99_US = 50.0
TARGET_RATIO = 100.0
SYNC_TIMEOUT_S = 30.0
HUNG_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Percentiles:
    p50: float
    p99: float
    p999: float

    @classmethod
    def of(cls, samples_us: list[float]) -> "Percentiles":
        cuts = statistics.quantiles(samples_us, n=1000, method="inclusive")
        return cls(statistics.median(samples_us), cuts[989], cuts[998])


def events(count: int) -> list[SearchEvent]:
    context = EventContext(user_id="u_bench", session_id="s_bench", source="server")
    return [
        context.search(
            f"oat milk {n}", intent="product_lookup", intent_confidence=0.9, result_count=n
        )
        for n in range(count)
    ]


def sync_post_us(port: int, count: int, timeout: float = SYNC_TIMEOUT_S) -> list[float]:
    """The synchronous baseline: one POST per event, waiting for the answer."""
    samples: list[float] = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    for event in events(count):
        body = event.model_dump_json(exclude_none=True).encode()
        started = time.perf_counter()
        try:
            connection.request("POST", "/", body, {"Content-Type": "application/json"})
            connection.getresponse().read()
        except (OSError, http.client.HTTPException):
            connection.close()
        samples.append((time.perf_counter() - started) * 1e6)
    connection.close()
    return samples


def track_us(port: int, count: int, close_timeout: float) -> tuple[list[float], str]:
    """The client: the time track() holds the app's thread. Events are built beforehand."""
    prepared = events(count)
    client = CaptureClient(f"http://127.0.0.1:{port}/", ClientSettings(max_queue=10_000))
    samples: list[float] = []
    clock = time.perf_counter_ns
    for event in prepared:
        started = clock()
        client.track(event)
        samples.append((clock() - started) / 1e3)
    stats = client.close(close_timeout)
    return samples, (
        f"delivered {stats.delivered}, dropped (queue full) {stats.dropped_queue_full}, "
        f"dropped at shutdown {stats.dropped_at_shutdown}"
    )


@contextmanager
def delay_proxy(target_port: int, delay_s: float) -> Iterator[int]:
    """Forwards each request to the function after sleeping ``delay_s``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(delay_s)
            upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=60)
            upstream.request("POST", "/", body, {"Content-Type": "application/json"})
            response = upstream.getresponse()
            data = response.read()
            upstream.close()
            try:
                self.send_response(response.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the synchronous caller timed out and left

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def hung_host() -> Iterator[int]:
    """Accepts TCP connections (through the backlog) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def report(name: str, sync: list[float], tracked: list[float], note: str) -> bool:
    a, b = Percentiles.of(sync), Percentiles.of(tracked)
    ratio = a.p99 / b.p99
    met = b.p99 < TARGET_P99_US and ratio >= TARGET_RATIO
    print(f"\n{name}")
    print(
        f"  (a) synchronous POST  n={len(sync):>6}  p50 {a.p50:>11,.1f}  p99 {a.p99:>11,.1f}"
        f"  p99.9 {a.p999:>11,.1f} us"
    )
    print(
        f"  (b) client.track()    n={len(tracked):>6}  p50 {b.p50:>11,.1f}  p99 {b.p99:>11,.1f}"
        f"  p99.9 {b.p999:>11,.1f} us"
    )
    print(
        f"  (a)/(b) at p99: {ratio:,.0f}x   goal p99 < {TARGET_P99_US:g} us and >= "
        f"{TARGET_RATIO:g}x: {'met' if met else 'NOT met'}"
    )
    print(f"  client: {note}")
    return met


def run(
    condition: str,
    port: int,
    sync_count: int,
    track_count: int,
    sync_timeout: float = SYNC_TIMEOUT_S,
    close_timeout: float = 120.0,
) -> bool:
    sync = sync_post_us(port, sync_count, sync_timeout)
    tracked, note = track_us(port, track_count, close_timeout)
    return report(condition, sync, tracked, note)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # Below the client's 10,000-event queue, so "up" measures enqueueing, not dropping.
    parser.add_argument("--events", type=int, default=5_000, help="track() calls per condition")
    parser.add_argument("--sync-events", type=int, default=100, help="synchronous POSTs (up)")
    parser.add_argument("--delay-ms", type=float, default=200.0)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # figures as they come

    print("starting the local cloud (BigQuery emulator, fake-gcs-server, capture function)...")
    settings = CloudSettings(
        project="client-bench",
        bucket="client-bench-events",
        log_dir=STATE_DIR / "logs" / "client-bench",
        persistent_gcs=False,
    )
    with LocalCloud(settings) as cloud:
        # As in capture_throughput.py: one gunicorn worker with eight threads.
        function = cloud.start_function(env={"WORKERS": "1", "THREADS": "8"})
        sync_post_us(function.port, 20)  # warm the function's clients and the emulator
        results = [run("up", function.port, args.sync_events, args.events)]
        with delay_proxy(function.port, args.delay_ms / 1000) as slow:
            results.append(
                run(
                    f"slow (+{args.delay_ms:g} ms)",
                    slow,
                    max(20, args.sync_events // 10),
                    args.events,
                )
            )
        down = {"close_timeout": 2.0}
        results.append(run("down (refused)", free_port(), args.sync_events, args.events, **down))
        with hung_host() as hung:
            results.append(
                run("down (no answer)", hung, 5, args.events, HUNG_TIMEOUT_S, close_timeout=2)
            )
    print(f"\ngoals met in {sum(results)} of {len(results)} conditions")
    return 0


if __name__ == "__main__":
    sys.exit(recorded("client_latency", main))
