"""The online store on the real peers: the feature tables of ``shop_day`` on the BigQuery emulator
materialized into redis-server, served by the features function, kept fresh by the capture
function.

These tests use Redis database 3 of the session's redis-server, so the snapshot pointer they
move is nobody else's; each test that needs a clean store flushes it first.
"""

import base64
import datetime as dt
import io
import json
import random
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import redirect_stdout
from decimal import Decimal
from typing import Any

import pytest
import redis

from event_capture.contracts import redis_keys as keys
from event_capture.contracts.log_fields import MATERIALIZE_MESSAGE, MATERIALIZE_OUTCOMES
from event_capture.features.documents import build_snapshot
from event_capture.features.materialize import load_snapshot, materialize
from event_capture.features.serve import FeatureReader
from event_capture.schemas.features import PARTS, UserFeatures
from event_capture.warehouse.catalog import (
    PRODUCT_RECOMMENDATIONS,
    REORDER_PREDICTIONS,
    USER_PROFILES,
    USER_RECOMMENDATIONS,
)
from localcloud.cloud import LocalCloud
from localcloud.processes import REPO, Service
from localcloud.sample_events import sample_event
from tests.integration.warehouse.conftest import DATASETS, EVENTS_DATASET, Warehouse

DB = 3


def redis_url(cloud: LocalCloud) -> str:
    return f"redis://127.0.0.1:{cloud.redis.port}/{DB}"


@pytest.fixture
def store(cloud: LocalCloud) -> Iterator[Any]:
    client = redis.Redis(port=cloud.redis.port, db=DB)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def loaded(warehouse: Warehouse, store: Any) -> Any:
    result = materialize(warehouse.client, store, DATASETS.events, snapshot_date=warehouse.day)
    assert result is not None and result.changed
    return store


def _plain(value: Any) -> Any:
    """A BigQuery value as it reads back from the JSON documents."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def test_the_materialized_snapshot_holds_exactly_the_feature_tables(
    warehouse: Warehouse, loaded: Any
) -> None:
    snapshot = loaded.get(keys.CURRENT_SNAPSHOT).decode()
    assert snapshot.startswith(warehouse.day.isoformat() + ".")
    users = {
        k.decode(): json.loads(v)
        for k, v in loaded.hgetall(keys.snapshot_users_key(snapshot)).items()
    }
    products = {
        k.decode(): json.loads(v)
        for k, v in loaded.hgetall(keys.snapshot_products_key(snapshot)).items()
    }

    profiles = warehouse.snapshot(USER_PROFILES)
    reorder = warehouse.snapshot(REORDER_PREDICTIONS)
    recommended = warehouse.snapshot(USER_RECOMMENDATIONS)
    similar = warehouse.snapshot(PRODUCT_RECOMMENDATIONS)
    assert profiles and reorder and recommended and similar, "the fixture must cover every table"
    assert set(users) == {r["user_id"] for r in profiles + reorder + recommended}
    for row in profiles:
        document = users[row.pop("user_id")]["profile"]
        for column, value in row.items():
            stored = document.get(column)
            if isinstance(value, dt.datetime):
                assert dt.datetime.fromisoformat(stored) == value, column
            elif isinstance(value, Decimal):
                assert Decimal(stored) == value, column
            else:
                assert stored == _plain(value) or (value in (None, []) and stored is None), column
    for row in reorder:
        [item] = [
            i for i in users[row["user_id"]]["reorder"] if i["product_id"] == row["product_id"]
        ]
        assert item["orders"] == row["orders"]
        assert item["last_ordered_on"] == row["last_ordered_on"].isoformat()
        assert item["mean_interval_days"] == pytest.approx(row["mean_interval_days"])
    for row in recommended:
        items = users[row["user_id"]]["recommendations"]
        assert {
            "product_id": row["product_id"],
            "score": row["score"],
            "rank": row["rank"],
        } in items
    assert sum(len(u.get("recommendations", [])) for u in users.values()) == len(recommended)
    for row in similar:
        assert {
            "product_id": row["recommended_product_id"],
            "co_occurrences": row["co_occurrences"],
            "rank": row["rank"],
        } in products[row["product_id"]]["similar"]
    assert sum(len(p["similar"]) for p in products.values()) == len(similar)
    meta = loaded.hgetall(keys.snapshot_meta_key(snapshot))
    assert int(meta[b"users"]) == len(users) and int(meta[b"products"]) == len(products)
    assert all(
        0 < loaded.ttl(key) <= keys.SNAPSHOT_TTL_SECONDS for key in keys.snapshot_keys(snapshot)
    )


def test_loading_the_same_snapshot_again_changes_nothing(warehouse: Warehouse, loaded: Any) -> None:
    before = {key: loaded.dump(key) for key in loaded.keys("features:*")}

    again = materialize(warehouse.client, loaded, DATASETS.events, snapshot_date=warehouse.day)

    assert again is not None and not again.changed
    assert {key: loaded.dump(key) for key in loaded.keys("features:*")} == before


def _marked(warehouse: Warehouse, searches: int, day: dt.date) -> Any:
    """The fixture's snapshot with every profile's ``searches`` set to a marker."""
    rows = {
        "user_profiles": [{**r, "searches": searches} for r in warehouse.snapshot(USER_PROFILES)],
        "reorder_predictions": warehouse.snapshot(REORDER_PREDICTIONS),
        "user_recommendations": warehouse.snapshot(USER_RECOMMENDATIONS),
        "product_recommendations": warehouse.snapshot(PRODUCT_RECOMMENDATIONS),
    }
    return build_snapshot(day, **rows)


def test_a_reader_during_reloads_sees_one_whole_snapshot_or_the_other(
    warehouse: Warehouse, store: Any
) -> None:
    old_day, new_day = warehouse.day - dt.timedelta(days=1), warehouse.day
    old, new = _marked(warehouse, 1, old_day), _marked(warehouse, 2, new_day)
    marker = {old_day: 1, new_day: 2}
    load_snapshot(store, old)
    users = sorted(old.users)
    # No pointer cache: every answer reads the pointer, the hardest case for a mix.
    reader = FeatureReader(lambda: store, pointer_seconds=0.0)
    seen: list[tuple[dt.date | None, int | None]] = []
    stop = threading.Event()

    def read() -> None:
        rng = random.Random(7)
        while not stop.is_set():
            answer = reader.user(rng.choice(users), PARTS, 10)
            seen.append((answer.snapshot, answer.profile.searches if answer.profile else None))

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for _ in range(5):
            load_snapshot(store, new)
            load_snapshot(store, old)
    finally:
        stop.set()
        thread.join()

    assert len(seen) > 20, "the reader must have overlapped the reloads"
    # Never empty, never a profile of one snapshot under the date of the other.
    assert all(day is not None and searches == marker[day] for day, searches in seen), set(seen)
    assert {day for day, _ in seen} <= {old_day, new_day}


def test_a_failed_load_leaves_the_old_snapshot_current(warehouse: Warehouse, store: Any) -> None:
    old = _marked(warehouse, 1, warehouse.day - dt.timedelta(days=1))
    load_snapshot(store, old)
    new = _marked(warehouse, 2, warehouse.day)

    class FailsOnProducts:
        """The real client, except that the products' write fails."""

        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def pipeline(self, transaction: bool = False) -> Any:
            real = store.pipeline(transaction=transaction)
            hset = real.hset

            def failing_hset(key: str, *args: Any, **kwargs: Any) -> Any:
                if key == keys.snapshot_products_key(new.id):
                    raise redis.ConnectionError("lost the connection half-way")
                return hset(key, *args, **kwargs)

            real.hset = failing_hset
            return real

    with pytest.raises(redis.ConnectionError):
        load_snapshot(FailsOnProducts(), new)

    assert store.get(keys.CURRENT_SNAPSHOT).decode() == old.id
    assert not any(store.exists(key) for key in keys.snapshot_keys(new.id))
    answer = FeatureReader(lambda: store).user(sorted(old.users)[0], PARTS, 10)
    assert answer.profile is not None and answer.profile.searches == 1


# --- the functions, over HTTP ----------------------------------------------------------------


@pytest.fixture(scope="module")
def features(cloud: LocalCloud) -> Iterator[Service]:
    service = cloud.start_features(
        env={"REDIS_URL": redis_url(cloud), "REDIS_TIMEOUT_SECONDS": "0.2"}
    )
    yield service
    service.stop()


@pytest.fixture(scope="module")
def capture(cloud: LocalCloud) -> Iterator[Service]:
    # The cloud's own events dataset: the warehouse's holds only the fixture's events, which
    # the other warehouse tests count exactly.
    service = cloud.start_function(
        env={
            "GCS_ENABLED": "false",
            "REDIS_ENABLED": "true",
            "REDIS_URL": redis_url(cloud),
        }
    )
    yield service
    service.stop()


def get(url: str) -> tuple[int, dict[str, str], Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - loopback
            return answer.status, dict(answer.headers), json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def post(url: str, body: Any) -> int:
    request = urllib.request.Request(  # noqa: S310 - loopback
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
        return int(answer.status)


def _user_with_recommendations(warehouse: Warehouse) -> tuple[str, str]:
    rows = sorted(warehouse.snapshot(USER_RECOMMENDATIONS), key=lambda r: (r["user_id"], r["rank"]))
    return rows[0]["user_id"], rows[0]["product_id"]


def test_an_order_captured_after_the_snapshot_is_reflected_at_once(
    warehouse: Warehouse, loaded: Any, features: Service, capture: Service
) -> None:
    user, product = _user_with_recommendations(warehouse)
    url = f"{features.url}/v1/users/{user}/features"
    status, headers, before = get(url)
    assert status == 200 and headers["Cache-Control"] == "private, no-store"
    assert before["known"] is True and before["snapshot"] == warehouse.day.isoformat()
    assert product in [r["product_id"] for r in before["recommendations"]]

    # The first moment after the snapshot's day, which the capture function still accepts.
    after = dt.datetime.combine(warehouse.day + dt.timedelta(days=1), dt.time(0, 0, 1), dt.UTC)
    order = sample_event("order_placed", user_id=user, now=after)
    order["occurred_at"] = after.isoformat().replace("+00:00", "Z")
    order["items"] = [{"product_id": product, "quantity": 1, "unit_price": "2.50"}]
    order["total"] = "2.50"
    assert post(capture.url, order) == 200

    status, _, now = get(url)
    assert status == 200
    assert product not in [r["product_id"] for r in now["recommendations"]]
    assert [r["rank"] for r in now["recommendations"]] == list(
        range(1, len(now["recommendations"]) + 1)
    )
    assert product in now["recent"]["ordered"]


def test_a_product_ordered_again_since_the_snapshot_has_its_reorder_clock_reset(
    warehouse: Warehouse, loaded: Any, features: Service, capture: Service
) -> None:
    [row] = warehouse.snapshot(REORDER_PREDICTIONS)[:1]
    url = f"{features.url}/v1/users/{row['user_id']}/features?include=reorder_due&limit=50"
    _, _, before = get(url)
    [item] = [r for r in before["reorder_due"] if r["product_id"] == row["product_id"]]
    assert item["ordered_since_snapshot"] is False

    after = dt.datetime.combine(warehouse.day + dt.timedelta(days=1), dt.time(0, 0, 2), dt.UTC)
    order = sample_event("order_placed", user_id=row["user_id"], now=after)
    order["occurred_at"] = after.isoformat().replace("+00:00", "Z")
    order["items"] = [{"product_id": row["product_id"], "quantity": 2, "unit_price": "1.00"}]
    order["total"] = "2.00"
    assert post(capture.url, order) == 200

    _, _, now = get(url)
    [item] = [r for r in now["reorder_due"] if r["product_id"] == row["product_id"]]
    assert item["ordered_since_snapshot"] is True and item["due"] is False
    assert item["last_ordered_on"] == after.date().isoformat()
    assert item["orders"] == row["orders"] + 1
    assert set(now) >= {"profile", "recommendations"} and now["recommendations"] == []


def test_recent_views_are_listed_and_drive_similar_products(
    warehouse: Warehouse, loaded: Any, features: Service, capture: Service
) -> None:
    similar = warehouse.snapshot(PRODUCT_RECOMMENDATIONS)
    source = sorted(similar, key=lambda r: (r["product_id"], r["rank"]))[0]["product_id"]
    expected = [r["recommended_product_id"] for r in similar if r["product_id"] == source]
    user = "u_live_viewer"
    view = sample_event("product_view", user_id=user)
    view["product_id"] = source
    assert post(capture.url, view) == 200

    status, _, answer = get(f"{features.url}/v1/users/{user}/features")

    assert status == 200 and answer["known"] is True  # live only: not in the snapshot
    assert answer["recent"]["viewed"] == [source]
    assert answer["profile"] is None and answer["recommendations"] == []
    assert [s["product_id"] for s in answer["similar_to_recent"]] == [
        p for p in expected if p != source
    ]
    status, headers, product = get(f"{features.url}/v1/products/{source}/similar?limit=2")
    assert status == 200 and headers["Cache-Control"] == "public, max-age=300"
    assert [s["product_id"] for s in product["similar"]] == expected[:2]


def test_a_device_not_logged_in_gets_its_own_views_and_what_goes_with_them(
    warehouse: Warehouse, loaded: Any, features: Service, capture: Service
) -> None:
    similar = warehouse.snapshot(PRODUCT_RECOMMENDATIONS)
    source = sorted(similar, key=lambda r: (r["product_id"], r["rank"]))[0]["product_id"]
    device = "a_live_browser"
    view = sample_event("product_view") | {"product_id": source, "anonymous_id": device}
    del view["user_id"]
    assert post(capture.url, view) == 200

    status, headers, answer = get(f"{features.url}/v1/devices/{device}/features")
    _, _, nobody = get(f"{features.url}/v1/users/{device}/features")

    assert status == 200 and headers["Cache-Control"] == "private, no-store"
    assert (answer["anonymous_id"], answer["known"]) == (device, True)
    assert answer["recent"]["viewed"] == [source]
    assert answer["similar_to_recent"] and source not in {
        s["product_id"] for s in answer["similar_to_recent"]
    }
    # The same id asked for as a user is no one: a device's activity is not a user's.
    assert nobody["known"] is False


def test_an_unknown_user_gets_the_documented_defaults(loaded: Any, features: Service) -> None:
    status, _, answer = get(f"{features.url}/v1/users/u_nobody_at_all/features")

    assert status == 200
    expected = UserFeatures.defaults("u_nobody_at_all").model_dump(mode="json")
    assert {k: v for k, v in answer.items() if k != "snapshot"} == {
        k: v for k, v in expected.items() if k != "snapshot"
    }
    assert answer["snapshot"] is not None


def test_bad_parameters_get_400_naming_the_parameter(features: Service) -> None:
    for query, parameter in (
        ("limit=0", "limit"),
        ("include=secrets", "include"),
        ("x=1", "query"),
    ):
        status, _, answer = get(f"{features.url}/v1/users/u1/features?{query}")
        assert (status, answer["parameter"]) == (400, parameter), query
    status, _, answer = get(f"{features.url}/v1/users/not%20an%20id/features")
    assert (status, answer["parameter"]) == (400, "user_id")


def test_without_a_snapshot_the_live_part_is_served_and_says_so(
    store: Any, features: Service
) -> None:
    status, headers, answer = get(f"{features.url}/v1/users/u1/features")

    assert status == 200 and answer["degraded"] == ["snapshot_missing"]
    assert headers["Cache-Control"] == "no-store"


def test_redis_hung_is_a_503_with_retry_after_in_time(
    cloud: LocalCloud, loaded: Any, features: Service
) -> None:
    with cloud.frozen(cloud.redis):
        started = time.monotonic()
        # A fresh connection (the pointer may be cached, the activity read is not).
        status, headers, answer = get(f"{features.url}/v1/users/u1/features")
        waited = time.monotonic() - started

    assert status == 503 and headers["Retry-After"] == "5"
    assert answer["degraded"] == ["redis_unavailable"] and answer["known"] is False
    # REDIS_TIMEOUT_SECONDS is 0.2: one attempt, then the answer.
    assert waited < 2.0


def test_redis_down_is_a_503_not_a_500(cloud: LocalCloud) -> None:
    service = cloud.start_features(env={"REDIS_URL": "redis://127.0.0.1:9/0"})
    try:
        status, headers, answer = get(f"{service.url}/v1/products/p1/similar")
    finally:
        service.stop()

    assert status == 503 and "Retry-After" in headers
    assert answer["degraded"] == ["redis_unavailable"]


# --- the materializer function, as the cloud triggers it -------------------------------------


def _cloud_event(run: dict[str, Any]) -> dict[str, Any]:
    data = base64.b64encode(json.dumps(run).encode()).decode()
    return {
        "specversion": "1.0",
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "source": "//pubsub.googleapis.com/projects/p/topics/feature-runs",
        "id": "1",
        "data": {"message": {"data": data, "messageId": "1"}, "subscription": "s"},
    }


def test_the_materializer_function_loads_the_snapshot_a_succeeded_run_announces(
    cloud: LocalCloud, warehouse: Warehouse, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions_framework import create_app

    env = cloud.env(
        BIGQUERY_DATASET=EVENTS_DATASET, GCS_ENABLED="false", REDIS_URL=redis_url(cloud)
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delitem(sys.modules, "main", raising=False)
    app = create_app(  # type: ignore[no-untyped-call]
        target="materialize_snapshot",
        source=str(REPO / "functions" / "materializer" / "main.py"),
        signature_type="cloudevent",
    )
    client = app.test_client()
    run_time = dt.datetime.combine(warehouse.day + dt.timedelta(days=1), dt.time(3), dt.UTC)

    def deliver(body: Any) -> tuple[int, dict[str, Any]]:
        out = io.StringIO()
        with redirect_stdout(out):
            answer = client.post(
                "/", json=body, headers={"Content-Type": "application/cloudevents+json"}
            )
        line = json.loads(out.getvalue().strip().splitlines()[-1])
        # What the log-based metric counts runs by.
        assert (line["message"], line["outcome"] in MATERIALIZE_OUTCOMES) == (
            MATERIALIZE_MESSAGE,
            True,
        )
        return answer.status_code, line

    status, line = deliver(_cloud_event({"state": "FAILED", "runTime": run_time.isoformat()}))
    assert (status, line["outcome"]) == (200, "skipped") and not store.exists(keys.CURRENT_SNAPSHOT)

    status, line = deliver(_cloud_event({"state": "SUCCEEDED", "runTime": run_time.isoformat()}))
    assert (status, line["outcome"]) == (200, "loaded")
    assert store.get(keys.CURRENT_SNAPSHOT).decode() == line["snapshot"]
    assert line["snapshot"].startswith(warehouse.day.isoformat())

    status, line = deliver(_cloud_event({"state": "SUCCEEDED", "runTime": run_time.isoformat()}))
    assert (status, line["outcome"]) == (200, "unchanged")

    bad = _cloud_event({}) | {"data": {"message": {"data": "not base64!"}}}
    status, line = deliver(bad)
    assert (status, line["rule"]) == (200, "notification_invalid")


def test_the_client_package_reads_the_real_function(
    warehouse: Warehouse, loaded: Any, features: Service, cloud: LocalCloud
) -> None:
    from event_capture.client import FeaturesClient

    user, product = _user_with_recommendations(warehouse)
    _, _, raw = get(f"{features.url}/v1/users/{user}/features?include=profile,recommendations")
    with FeaturesClient(features.url, timeout_seconds=5) as client:
        answer = client.user_features(user, include=["profile", "recommendations"])
        similar = client.similar_products(product, limit=3)
        with cloud.frozen(cloud.redis):
            degraded = client.user_features(user)
        stats = client.stats()

    assert answer.model_dump(mode="json") == UserFeatures.model_validate(raw).model_dump(
        mode="json"
    )
    assert answer.known and answer.profile is not None and answer.recommendations
    assert similar.product_id == product and len(similar.similar) <= 3
    # The function's own 503 body, not the client's fallback.
    assert degraded.degraded == ["redis_unavailable"]
    assert stats.fallbacks == 0 and stats.connections_opened == 1


def test_a_day_without_profiles_leaves_the_current_snapshot(
    warehouse: Warehouse, loaded: Any
) -> None:
    current = loaded.get(keys.CURRENT_SNAPSHOT)
    empty_day = warehouse.day - dt.timedelta(days=3)

    result = materialize(warehouse.client, loaded, DATASETS.events, snapshot_date=empty_day)

    assert result is None
    assert loaded.get(keys.CURRENT_SNAPSHOT) == current
