"""What the collector's edge limits cost a request, and what a refused request costs: prints
figures, asserts nothing (``make bench``).

The goal (issue 23): the limiter costs a few µs a request at most.

In process, no network, rounds alternating between the two sides of each pair (the figure is
the median over rounds of CPU time per request):

* the limiter alone: ``Edge.enter`` + ``leave`` + ``admit_key`` for requests spread over many
  addresses and a few keys, against the same loop calling nothing (the loop's own cost);
* the collector's handler on a one-event batch (route, key, body, mapping, the capture
  pipeline on an in-memory insert client, the answer) with the edge, against the same handler
  without it: the share of a request the limiter takes;
* a request refused with 429 by an address's rate (before its body is read), against the
  accepted one-event request: what answering a flood past its limits costs per request.
"""

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable

from bench.collector_cpu import in_memory_pipeline
from bench.results import recorded
from event_capture.collector.auth import WriteKeys
from event_capture.collector.handler import Collector, CollectorRequest
from event_capture.collector.limits import Edge
from localcloud.sample_events import sample_batch

WRITE_KEY = "wk_bench_0123456789abcdef"
KEYS = WriteKeys.parse(json.dumps([{"id": "web", "class": "client", "key": WRITE_KEY}]))
ADDRESSES = 10_000


def edge(*, generous: bool) -> Edge:
    """Limits no request reaches (``generous``), or an address rate every request exceeds."""
    rate, burst = (1e9, 10**9) if generous else (1e-9, 1)
    return Edge(
        address_rate=rate,
        address_burst=burst,
        in_flight=8,
        key_rate=1e9,
        key_burst=10**9,
        daily_requests=0,
        daily_events=0,
    )


def limiter_us(requests: int) -> tuple[float, float]:
    """CPU µs a request: the edge's checks, and the loop without them."""
    limits = edge(generous=True)
    addresses = [f"203.0.{n // 256}.{n % 256}" for n in range(ADDRESSES)]

    def checked() -> None:
        for n in range(requests):
            address = addresses[n % ADDRESSES]
            limits.enter(address)
            limits.admit_key("web", 1)
            limits.leave(address)

    def bare() -> None:
        for n in range(requests):
            addresses[n % ADDRESSES]

    return _cpu(checked) / requests * 1e6, _cpu(bare) / requests * 1e6


def _cpu(work: Callable[[], None]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def handler_sender(limits: Edge | None, address: Callable[[int], str]) -> Callable[[int], None]:
    collector = Collector(pipeline=in_memory_pipeline(), write_keys=KEYS, edge=limits)
    body = json.dumps(
        {"writeKey": WRITE_KEY, "batch": [_track(event) for event in sample_batch(1)]}
    ).encode()

    def one(n: int) -> None:
        collector.handle(
            CollectorRequest(
                method="POST",
                path="/v1/batch",
                mimetype="application/json",
                content_length=len(body),
                content_encoding=None,
                authorization=None,
                address=address(n),
                body=body,
            )
        )

    return one


def _track(event: dict[str, object]) -> dict[str, object]:
    return {
        "type": "track",
        "event": "Products Searched",
        "userId": event["user_id"],
        "messageId": event["event_id"],
        "timestamp": event["occurred_at"],
        "context": {"sessionId": event["session_id"]},
        "properties": {
            "query": "milk",
            "intent": "product_lookup",
            "intent_confidence": 0.9,
            "result_count": 3,
        },
    }


def paired(
    a: Callable[[int], None], b: Callable[[int], None], requests: int, rounds: int
) -> tuple[float, float]:
    """Median CPU µs a request of ``a`` and of ``b``, rounds alternating."""
    figures: tuple[list[float], list[float]] = ([], [])
    for round_ in range(rounds):
        order = ((0, a), (1, b)) if round_ % 2 == 0 else ((1, b), (0, a))
        for index, send in order:
            started = time.process_time()
            for n in range(requests):
                send(n)
            figures[index].append((time.process_time() - started) / requests * 1e6)
    return statistics.median(figures[0]), statistics.median(figures[1])


def run(args: argparse.Namespace) -> int:
    checked, bare = limiter_us(args.checks)
    print(f"Edge limits, in process (median of {args.rounds} rounds unless said):")
    print(
        f"  the limiter alone: {checked - bare:.2f} µs a request (enter, admit_key, leave over "
        f"{ADDRESSES:,} addresses; {checked:.2f} with the loop, {bare:.2f} without)"
    )
    spread = lambda n: f"198.51.{n // 256 % 256}.{n % 256}"  # noqa: E731 - a one-line key
    with_edge = handler_sender(edge(generous=True), spread)
    without = handler_sender(None, spread)
    limited_us, plain_us = paired(with_edge, without, args.requests, args.rounds)
    print(
        f"  a one-event request: {limited_us:.1f} µs with the edge, {plain_us:.1f} without: "
        f"{limited_us / plain_us:.3f}x"
    )
    refusing = handler_sender(edge(generous=False), lambda n: "192.0.2.1")
    refusing(0)  # the one request the bucket lets through
    refused_us, accepted_us = paired(refusing, with_edge, args.requests, args.rounds)
    print(
        f"  a request refused 429 before its body: {refused_us:.1f} µs, against {accepted_us:.1f} "
        f"accepted: {refused_us / accepted_us:.3f}x"
    )
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=200_000, help="limiter checks timed")
    parser.add_argument("--requests", type=int, default=2_000, help="requests a round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds, alternating")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(recorded("edge_limits", main))
