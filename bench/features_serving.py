"""Features benchmark: prints figures, asserts nothing (``make bench``).

On a ``LocalCloud`` it starts itself (BigQuery emulator, redis-server, the capture and features
functions on free loopback ports):

* Serving latency of one user's whole answer, p50/p99/p99.9: in process (``http_api.handle``
  over a ``FeatureReader`` on redis-server), also for users with two linked devices (their
  pre-login activity merged: a second round trip), and over loopback HTTP from 1 and from 32
  concurrent callers (one keep-alive connection each) to the features function (gunicorn,
  WORKERS=1, THREADS=32). The same-run baseline is the same answer read from the BigQuery
  emulator's feature tables, a query per table as a server without Redis would do it.
* Freshness: a product view POSTed to the capture function (REDIS_ENABLED=true); from its 200
  to the first features answer that lists it, p50/p99.
* Materialization: a synthetic snapshot of 5,000 and 50,000 users (each with a profile, three
  recommendations and two reorder histories; a product per 10 users) built and loaded into
  Redis, users per second.
"""

import argparse
import datetime as dt
import http.client
import json
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import redis

from bench.results import recorded
from event_capture.contracts import live_activity
from event_capture.contracts import redis_keys as keys
from event_capture.features.documents import build_snapshot
from event_capture.features.http_api import handle
from event_capture.features.materialize import load_snapshot, read_snapshot
from event_capture.features.serve import FeatureReader
from event_capture.warehouse.catalog import (
    PRODUCT_RECOMMENDATIONS,
    REORDER_PREDICTIONS,
    USER_PROFILES,
    USER_RECOMMENDATIONS,
)
from localcloud.cloud import CloudSettings, LocalCloud
from localcloud.sample_events import sample_event
from localcloud.warehouse import create_warehouse

SNAPSHOT_DATE = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


def synthetic_rows(users: int, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    """Feature-table rows as the nightly queries write them, for ``users`` users."""
    products = max(10, users // 10)
    now = dt.datetime.combine(SNAPSHOT_DATE, dt.time(12), dt.UTC)
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in _TABLES}
    for u in range(users):
        user = f"u_{u}"
        rows[USER_PROFILES.name].append(
            {
                "snapshot_date": SNAPSHOT_DATE,
                "user_id": user,
                "searches": rng.randint(0, 50),
                "product_views": rng.randint(0, 80),
                "product_clicks": rng.randint(0, 30),
                "add_to_carts": rng.randint(0, 20),
                "orders": rng.randint(0, 8),
                "voice_interactions": rng.randint(0, 5),
                "sessions": rng.randint(1, 20),
                "first_seen": now - dt.timedelta(days=60),
                "last_seen": now,
                "days_since_last_seen": 0,
                "favourite_category": "dairy",
                "favourite_product": f"sku_{rng.randrange(products)}",
                "intent_mix": [{"intent": "product_lookup", "share": 1.0}],
                "order_currency": "EUR",
                "average_order_value": "23.40",
            }
        )
        for rank in range(1, 4):
            rows[USER_RECOMMENDATIONS.name].append(
                {
                    "snapshot_date": SNAPSHOT_DATE,
                    "user_id": user,
                    "product_id": f"sku_{rng.randrange(products)}",
                    "score": 10 - rank,
                    "rank": rank,
                }
            )
        for p in range(2):
            last = SNAPSHOT_DATE - dt.timedelta(days=rng.randint(0, 20))
            rows[REORDER_PREDICTIONS.name].append(
                {
                    "snapshot_date": SNAPSHOT_DATE,
                    "user_id": user,
                    "product_id": f"sku_{p}",
                    "orders": 3,
                    "first_ordered_on": last - dt.timedelta(days=30),
                    "last_ordered_on": last,
                    "mean_interval_days": 15.0,
                    "days_since_last": (SNAPSHOT_DATE - last).days,
                    "due_score": (SNAPSHOT_DATE - last).days / 15.0,
                    "next_expected_on": last + dt.timedelta(days=15),
                }
            )
    for p in range(products):
        for rank in range(1, 6):
            rows[PRODUCT_RECOMMENDATIONS.name].append(
                {
                    "snapshot_date": SNAPSHOT_DATE,
                    "product_id": f"sku_{p}",
                    "recommended_product_id": f"sku_{(p + rank) % products}",
                    "co_occurrences": 10 - rank,
                    "rank": rank,
                }
            )
    return rows


_TABLES = (
    USER_PROFILES.name,
    REORDER_PREDICTIONS.name,
    USER_RECOMMENDATIONS.name,
    PRODUCT_RECOMMENDATIONS.name,
)


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return f"{at(0.5) * 1e3:8.3f} {at(0.99) * 1e3:8.3f} {at(0.999) * 1e3:8.3f}"


def link_devices(store: redis.Redis, users: list[str], rng: random.Random) -> list[str]:
    """Two devices per user, each with 20 views from before the login, linked as the capture
    path links them; the users' answer paths."""
    pipe = store.pipeline(transaction=False)
    now = dt.datetime.now(dt.UTC)
    for user in users:
        for device in (f"a_{user}_phone", f"a_{user}_laptop"):
            pipe.sadd(keys.devices_key(user), device)
            for n in range(20):
                view = {
                    "event_id": f"{device}-{n}",
                    "event_type": "product_view",
                    "occurred_at": (now - dt.timedelta(minutes=n)).isoformat(),
                    "product_id": f"sku_{rng.randrange(500)}",
                }
                pipe.lpush(keys.device_activity_key(device), live_activity.encode(view))
    pipe.execute()
    return [f"/v1/users/{user}/features" for user in users]


def timed(fn: Callable[[], Any], count: int) -> list[float]:
    fn()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def over_http(url: str, paths: list[str], callers: int, per_caller: int) -> list[float]:
    parts = urlsplit(url)
    samples: list[float] = []
    lock = threading.Lock()

    def caller(seed: int) -> None:
        rng = random.Random(seed)
        connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=10)
        mine = []
        for i in range(per_caller + 5):
            started = time.perf_counter()
            connection.request("GET", rng.choice(paths))
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 200, answer.status
            if i >= 5:  # the first few warm the connection and the server's threads
                mine.append(time.perf_counter() - started)
        connection.close()
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=2_000, help="users in the served snapshot")
    parser.add_argument("--requests", type=int, default=2_000, help="requests per latency row")
    args = parser.parse_args()
    rng = random.Random(1)
    settings = CloudSettings(project="features-bench", redis=True, persistent_gcs=False)
    with LocalCloud(settings) as cloud:
        client = cloud.bigquery_client()
        datasets = settings.warehouse_datasets
        create_warehouse(client, datasets)
        rows = synthetic_rows(args.users, rng)
        # The BigQuery baseline's tables hold a slice: the emulator inserts slowly, and a
        # lookup by user reads the same partition whatever its size.
        sliced = synthetic_rows(200, random.Random(1))
        for table, table_rows in sliced.items():
            ref = f"{datasets.events}.{table}"
            schema = client.get_table(ref).schema
            assert client.insert_rows(ref, table_rows, selected_fields=schema) == []
        store = redis.Redis(port=cloud.redis.port)
        snapshot = build_snapshot(SNAPSHOT_DATE, **rows)
        load_snapshot(store, snapshot)
        reader = FeatureReader(lambda: store)
        users = [f"u_{n}" for n in range(args.users)]
        paths = [f"/v1/users/{u}/features" for u in users]

        print(
            f"features benchmark: {args.users:,} users served, {args.requests:,} requests per row"
        )
        print(f"{'how':<46} {'p50 ms':>8} {'p99 ms':>8} {'p99.9':>8}")
        in_process = timed(lambda: handle(reader, "GET", rng.choice(paths), {}), args.requests)
        print(f"{'in process (http_api.handle + Redis)':<46} {percentiles(in_process)}")
        linked = link_devices(store, users[: max(1, len(users) // 10)], rng)
        with_devices = timed(lambda: handle(reader, "GET", rng.choice(linked), {}), args.requests)
        print(f"{'in process, 2 linked devices of 20 entries':<46} {percentiles(with_devices)}")
        print(
            "linked devices / none, p50: "
            f"{statistics.median(with_devices) / statistics.median(in_process):.2f}x"
        )

        def from_bigquery() -> None:
            # What a server without the online store does per answer: a query per table.
            from google.cloud import bigquery

            user = f"u_{rng.randrange(200)}"
            config = bigquery.QueryJobConfig(
                query_parameters=[
                    bigquery.ScalarQueryParameter("d", "DATE", SNAPSHOT_DATE),
                    bigquery.ScalarQueryParameter("u", "STRING", user),
                ]
            )
            for table in (USER_PROFILES, REORDER_PREDICTIONS, USER_RECOMMENDATIONS):
                sql = (
                    f"SELECT * FROM `{datasets.events}.{table.name}` "
                    "WHERE snapshot_date = @d AND user_id = @u"
                )
                list(client.query(sql, job_config=config).result())

        baseline = timed(from_bigquery, 20)
        print(f"{'baseline: BigQuery emulator, a query per table':<46} {percentiles(baseline)}")
        features = cloud.start_features(
            env={"REDIS_URL": cloud.redis_url, "WORKERS": "1", "THREADS": "32"}
        )
        one = over_http(features.url, paths, 1, args.requests)
        print(f"{'loopback HTTP, 1 caller':<46} {percentiles(one)}")
        started = time.perf_counter()
        many = over_http(features.url, paths, 32, max(20, args.requests // 32))
        rate = len(many) / (time.perf_counter() - started)
        print(f"{'loopback HTTP, 32 callers':<46} {percentiles(many)}  ({rate:,.0f} answers/s)")
        p50 = statistics.median
        print(
            f"BigQuery baseline / Redis, p50: in process {p50(baseline) / p50(in_process):,.0f}x, "
            f"over HTTP (1 caller) {p50(baseline) / p50(one):,.0f}x"
        )

        # Freshness: capture answered -> the features answer lists the product.
        capture = cloud.start_function(
            env={"REDIS_ENABLED": "true", "GCS_ENABLED": "false", "WORKERS": "1", "THREADS": "8"}
        )
        cap, feat = urlsplit(capture.url), urlsplit(features.url)
        post = http.client.HTTPConnection("127.0.0.1", cap.port, timeout=60)
        get = http.client.HTTPConnection("127.0.0.1", feat.port, timeout=10)
        fresh: list[float] = []
        for n in range(200):
            user, product = f"u_fresh_{n}", f"sku_fresh_{n}"
            view = sample_event("product_view", user_id=user) | {"product_id": product}
            post.request("POST", "/", json.dumps(view), {"Content-Type": "application/json"})
            answer = post.getresponse()
            answer.read()
            assert answer.status == 200
            answered = time.perf_counter()
            while True:
                get.request("GET", f"/v1/users/{user}/features?include=recent")
                body = json.loads(get.getresponse().read())
                if product in body["recent"]["viewed"]:
                    break
            fresh.append(time.perf_counter() - answered)
        ordered = sorted(fresh)
        print(
            f"freshness, capture 200 to feature visible: p50 {p50(fresh) * 1e3:.2f} ms, "
            f"p99 {ordered[int(0.99 * len(ordered))] * 1e3:.2f} ms (200 events; goal < 1 s)"
        )

        # Materialization rate.
        for count in (5_000, 50_000):
            started = time.perf_counter()
            big = build_snapshot(SNAPSHOT_DATE, **synthetic_rows(count, random.Random(count)))
            built = time.perf_counter() - started
            started = time.perf_counter()
            result = load_snapshot(store, big)
            loaded = time.perf_counter() - started
            memory = store.memory_usage(keys.snapshot_users_key(result.snapshot)) or 0
            print(
                f"materialize {count:>6,} users: build {built:.2f} s, load {loaded:.2f} s "
                f"({count / loaded:,.0f} users/s), users hash {memory / 1e6:.1f} MB"
            )
        # read_snapshot is what the function runs before building; against the emulator it
        # measures the emulator, so it is timed once on the slice only.
        started = time.perf_counter()
        read_snapshot(client, datasets.events, SNAPSHOT_DATE)
        seconds = time.perf_counter() - started
        print(f"reading the 200-user slice from the BigQuery emulator: {seconds:.2f} s")


if __name__ == "__main__":
    sys.exit(recorded("features_serving", main))
