"""``make demo``: fill ``make run``'s running cloud with a month of a small shop
(``localcloud/demo_shop.py``), then build the warehouse as the nightly runs would have, so that
the report, the features function and the docs show real shapes on a first run.

The shop is sent as it would have been: the pages' calls through the collector under the
client key (one batch per visit, from each shopper's own address, user ids with the backend's
proof), the backend's orders under the server key, and the backend's searches, sessions and
voice turns through the capture client. Every call is stamped with when it happened and sent
now, with ``sentAt``, so the collector's clock-skew correction keeps the times of the past month.

Everything is received today, and each nightly query covers the day before its run date: the
nightly build runs once for every day of the month, oldest first, as the scheduled queries
would have, so that the daily tables have each day. The shop is seeded: a second run on the
same day sends the same event ids, which the views count once.
"""

import argparse
import datetime as dt
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

import requests
from google.api_core.exceptions import GoogleAPICallError
from google.cloud import bigquery

from event_capture.client import CaptureClient, ClientSettings
from event_capture.client.client import QueueFullPolicy
from event_capture.features.materialize import materialize
from event_capture.platform.clients import redis_connection
from event_capture.warehouse.catalog import PARTIAL_TABLES, SCHEDULED_TABLES
from event_capture.warehouse.render import Datasets
from localcloud.cloud import LocalCloud
from localcloud.demo_shop import (
    DEFAULT_DAYS,
    DEFAULT_SEED,
    DEFAULT_USERS,
    CaptureEvent,
    Channel,
    SegmentCall,
    ShopPlan,
    plan_shop,
)
from localcloud.processes import port_open
from localcloud.run import (
    LOCAL_SERVER_KEY,
    LOCAL_USER_ID_SECRET,
    LOCAL_WRITE_KEY,
    run_settings,
)
from localcloud.warehouse import backfill_partials, create_warehouse, run_all

# Calls per Segment batch: analytics-python's upload size, and what the mobile SDKs send at most.
# A shopper's device sends its month in a few batches: the collector's per-address limits
# (10 requests a second) are met by batching, and the local BigQuery emulator, which takes
# about a quarter of a second per insert whatever its size, is spared thousands of small ones.
BATCH_CALLS = 100
# Requests in flight at once: the local functions' threads, not the edge, are the limit.
PARALLEL_REQUESTS = 8
# How often a 429 or 503 is waited out and resent, as the SDKs do, before the demo gives up.
MAX_ATTEMPTS = 6
TIMEOUT_SECONDS = 60.0
# The capture client's queue of a month, a few hundred events a request.
CAPTURE_FLUSH_SECONDS = 600.0


class DemoError(RuntimeError):
    """Something the shop could not be sent or built with: one line for the terminal."""


@dataclass(kw_only=True)
class Tally:
    requests: int = 0
    retries: int = 0
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    ignored: int = 0
    first_rejection: str = ""
    # The batches are posted from several threads.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def resent(self) -> None:
        with self.lock:
            self.retries += 1

    def add(self, answer: dict[str, Any]) -> None:
        with self.lock:
            self._add(answer)

    def _add(self, answer: dict[str, Any]) -> None:
        self.requests += 1
        self.received += int(answer.get("received", 0))
        self.accepted += int(answer.get("accepted", 0))
        self.rejected += int(answer.get("rejected", 0))
        self.ignored += int(answer.get("ignored", 0))
        if answer.get("rejections") and not self.first_rejection:
            self.first_rejection = str(answer["rejections"][0])


@dataclass(kw_only=True)
class Summary:
    plan: ShopPlan
    collector: Tally = field(default_factory=Tally)
    capture_delivered: int = 0
    capture_rejected: int = 0
    capture_requests: int = 0
    nightly_runs: int = 0
    quality_failures: list[str] = field(default_factory=list)
    materialized: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


class SegmentSender:
    """Segment batches to the collector, as the SDKs post them: Basic auth with the write key,
    ``sentAt`` stamped at sending, and a 429 or 503 waited out for its Retry-After."""

    def __init__(
        self,
        url: str,
        *,
        now: Callable[[], dt.datetime],
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url.rstrip("/") + "/v1/batch"
        self.now, self.sleep = now, sleep
        self.session = session or requests.Session()

    def post(
        self,
        key: str,
        calls: list[dict[str, Any]],
        *,
        address: str | None = None,
        user_agent: str | None = None,
        tally: Tally,
    ) -> None:
        headers = {"User-Agent": user_agent or "analytics-python/2.3.3"}
        if address is not None:
            # Locally nothing stands in front of the collector, which takes the last
            # X-Forwarded-For entry as the caller's address, as Google's front end appends it.
            headers["X-Forwarded-For"] = address
        for attempt in range(1, MAX_ATTEMPTS + 1):
            body = {"batch": calls, "sentAt": _stamp(self.now())}
            response = self.session.post(
                self.url, json=body, auth=(key, ""), headers=headers, timeout=TIMEOUT_SECONDS
            )
            if response.status_code in (429, 503) and attempt < MAX_ATTEMPTS:
                tally.resent()
                self.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            if response.status_code != 200:
                raise DemoError(
                    f"the collector answered {response.status_code}: {response.text[:300]}"
                )
            tally.add(response.json())
            return


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, kw_only=True)
class Post:
    key: str
    calls: list[dict[str, Any]]
    address: str | None = None
    user_agent: str | None = None


def segment_posts(plan: ShopPlan) -> list[Post]:
    """The plan's Segment calls as batches: each device's in time order, under the client key
    from its own address and User-Agent; the backend's under the server key."""
    posts = []
    page = [s for s in plan.sends if isinstance(s, SegmentCall) and s.device is not None]
    page.sort(key=lambda send: send.device.anonymous_id if send.device else "")
    for _, of_device in groupby(page, key=lambda send: send.device):
        sends = list(of_device)
        device = sends[0].device
        assert device is not None
        posts += [
            Post(
                key=LOCAL_WRITE_KEY,
                calls=[s.call for s in sends[i : i + BATCH_CALLS]],
                address=device.address,
                user_agent=device.user_agent,
            )
            for i in range(0, len(sends), BATCH_CALLS)
        ]
    backend = [
        s.call for s in plan.sends if isinstance(s, SegmentCall) and s.channel is Channel.BACKEND
    ]
    posts += [
        Post(key=LOCAL_SERVER_KEY, calls=backend[i : i + BATCH_CALLS])
        for i in range(0, len(backend), BATCH_CALLS)
    ]
    return posts


def send_shop(
    plan: ShopPlan,
    *,
    collector_url: str,
    function_url: str,
    now: Callable[[], dt.datetime],
    sleep: Callable[[float], None] = time.sleep,
    summary: Summary,
) -> None:
    """Every send of the plan: the Segment batches in parallel, the capture client's events
    through its own queue and batches meanwhile."""
    segment = SegmentSender(collector_url, now=now, sleep=sleep)
    capture = CaptureClient(
        function_url,
        # The whole month is queued at once; the client waits rather than drop any.
        ClientSettings(max_queue=len(plan.sends) + 1, queue_full=QueueFullPolicy.BLOCK),
    )
    tally = summary.collector
    with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
        posts = [
            pool.submit(
                segment.post,
                post.key,
                post.calls,
                address=post.address,
                user_agent=post.user_agent,
                tally=tally,
            )
            for post in segment_posts(plan)
        ]
        for send in plan.sends:
            if isinstance(send, CaptureEvent):
                capture.track(send.event)
        for post in posts:
            post.result()
    if not capture.flush(timeout=CAPTURE_FLUSH_SECONDS):
        raise DemoError("the capture function did not take the capture client's events in time")
    stats = capture.close()
    summary.capture_delivered = stats.delivered
    summary.capture_rejected = stats.rejected_by_function + stats.dropped_invalid
    summary.capture_requests = stats.requests


def build_warehouse(
    client: bigquery.Client,
    datasets: Datasets,
    *,
    first_run: dt.date,
    last_run: dt.date,
    progress: Callable[[str], None] = print,
) -> tuple[int, list[str]]:
    """The nightly runs of ``first_run`` to ``last_run``, oldest first; (runs, quality failures).

    ``make nightly`` is a backfill of the partial tables and one run. The partial tables are
    kept per day received, and every demo event was received today: the backfill fills them,
    and the past days' runs, whose received days hold none of the shop, skip them. The other
    tables are kept per day the events happened, and each run fills its day before.
    """
    create_warehouse(client, datasets)
    backfill_partials(client, datasets, last_run)
    daily = [spec for spec in SCHEDULED_TABLES if spec not in PARTIAL_TABLES]
    failures: list[str] = []
    runs = (last_run - first_run).days + 1
    for n in range(runs):
        run_date = first_run + dt.timedelta(days=n)
        tables = SCHEDULED_TABLES if run_date == last_run else daily
        failures += [f"{run_date}: {f}" for f in run_all(client, datasets, run_date, tables)]
        progress(f"\rnightly runs: {n + 1}/{runs} ({run_date})")
    progress("\n")
    return runs, failures


def _timed(summary: Summary, step: str, started: float) -> None:
    summary.seconds[step] = time.monotonic() - started


def report(summary: Summary) -> str:
    plan = summary.plan
    counts = plan.counts()
    width = max(len(kind) for kind in counts)
    lines = [f"  {kind:<{width}}  {n:>6}" for kind, n in sorted(counts.items())]
    tally = summary.collector
    linked_users = len({user for _, user in plan.links()})
    visitors = sum(1 for shopper in plan.shoppers if shopper.user_id is None)
    taken = ", ".join(f"{step} {seconds:.0f} s" for step, seconds in summary.seconds.items())
    text = [
        f"the shop from {plan.start:%Y-%m-%d} to {plan.end - dt.timedelta(days=1):%Y-%m-%d}: "
        f"{len(plan.users)} users, {visitors} visitors who never logged in",
        f"sent {len(plan.sends)} events and calls:",
        *lines,
        f"collector: {tally.requests} requests, {tally.received} calls received, "
        f"{tally.accepted} accepted, {tally.ignored} ignored, {tally.rejected} rejected"
        + (f" ({tally.retries} resent after 429/503)" if tally.retries else ""),
        f"capture client: {summary.capture_requests} requests, {summary.capture_delivered} "
        f"delivered, {summary.capture_rejected} rejected",
        f"devices linked at login (identify with the backend's proof): {len(plan.links())}, "
        f"of {linked_users} users; the others' devices were logged in before the month",
        f"nightly runs: {summary.nightly_runs}"
        + (
            f", {len(summary.quality_failures)} data-quality alerts"
            if summary.quality_failures
            else ""
        ),
        summary.materialized,
        f"time taken: {sum(summary.seconds.values()):.0f} s ({taken})",
    ]
    if tally.first_rejection:
        text.append(f"first rejection: {tally.first_rejection}")
    return "\n".join(line for line in text if line)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the shop's seed")
    parser.add_argument("--users", type=int, default=DEFAULT_USERS, help="shoppers with accounts")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help="days up to today")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    settings = run_settings()
    needed = {
        "capture function": settings.function_port,
        "collector": settings.collector_port,
        "BigQuery emulator": settings.bigquery_port,
    }
    down = [f"{name} (127.0.0.1:{port})" for name, port in needed.items() if not port_open(port)]
    if down:
        sys.exit(f"error: make run is not up: no {', '.join(down)}; start it with `make run`")
    today = dt.datetime.now(dt.UTC).date()
    # The month ends where today begins: every day of it is complete, and its last day is
    # the one tonight's scheduled queries would have covered.
    end = dt.datetime.combine(today, dt.time(), dt.UTC)
    plan = plan_shop(
        end=end, secret=LOCAL_USER_ID_SECRET, seed=args.seed, users=args.users, days=args.days
    )
    summary = Summary(plan=plan)
    cloud = LocalCloud(settings)
    try:
        started = time.monotonic()
        send_shop(
            plan,
            collector_url=f"http://127.0.0.1:{settings.collector_port}",
            function_url=f"http://127.0.0.1:{settings.function_port}/",
            now=lambda: dt.datetime.now(dt.UTC),
            summary=summary,
        )
        _timed(summary, "sending", started)
        started = time.monotonic()
        summary.nightly_runs, summary.quality_failures = build_warehouse(
            cloud.bigquery_client(),
            settings.warehouse_datasets,
            first_run=plan.start.date() + dt.timedelta(days=1),
            last_run=today,
            progress=lambda text: print(text, end="", flush=True),
        )
        _timed(summary, "nightly", started)
    except (DemoError, requests.RequestException) as error:
        sys.exit(f"error: {error}")
    except GoogleAPICallError as error:
        sys.exit(f"error: the nightly build failed: {error.message.splitlines()[0]}")
    if port_open(settings.redis_port):
        started = time.monotonic()
        result = materialize(
            cloud.bigquery_client(),
            redis_connection(cloud.redis_url, 10.0),
            settings.warehouse_datasets.events,
        )
        _timed(summary, "materializer", started)
        summary.materialized = (
            f"features: snapshot {result.snapshot} in Redis ({result.users} users, "
            f"{result.products} products)"
            if result is not None
            else "features: no snapshot to load"
        )
    else:
        summary.materialized = "features: not loaded (no Redis: REDIS_ENABLED=true make run)"
    print(report(summary))


if __name__ == "__main__":
    main()
