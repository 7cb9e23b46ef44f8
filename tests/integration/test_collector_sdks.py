"""The real Segment and RudderStack SDKs against the collector on the local cloud: ecommerce
events land in the typed tables exactly once, an SDK retry through a 503 is de-duplicated, and
an identify call full of personal data leaves nothing anywhere."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from rudderstack.analytics.client import Client as RudderClient  # type: ignore[import-untyped]
from segment.analytics.client import Client as SegmentClient  # type: ignore[import-untyped]

from event_capture.collector.event_ids import event_id
from event_capture.contracts import log_fields as log
from event_capture.ingest.wiring import bigquery_sink, dead_letter_writer
from localcloud import bootstrap
from localcloud.cloud import LocalCloud
from localcloud.processes import Service
from tools.replay import bigquery_lookup, replay

KEY = "wk_test_0123456789abcdef"
# The backend's SDKs hold a server key: their calls' user ids are kept as sent (a client key's
# need the backend's proof: test_collector_identity.py).
SERVER_KEYS = [
    {"id": "backend", "class": "server", "key": KEY},
    {"id": "backend", "class": "server", "key": "wk_next_fedcba9876543210"},
]
PERSON = "jane.doe.zq7@example.com"
TABLES = ("searches", "product_interactions", "orders", "sessions", "voice_interactions")


def make_client(kind: str, url: str, errors: list[Any], *, gzip: bool) -> Any:
    options: dict[str, Any] = {"host": url, "gzip": gzip, "upload_interval": 0.1}
    options["on_error"] = lambda error, batch: errors.append(error)
    if kind == "segment":
        return SegmentClient(KEY, **options)
    return RudderClient(KEY, **options)


def send_ecommerce(client: Any, user: str) -> dict[str, str]:
    """The ecommerce events, tracked; returns the event id of each, by event name."""
    search_call: dict[str, Any] = {"query": "oat milk", "intent": "product_lookup"}
    search_call |= {"intent_confidence": 0.8, "result_count": 12, "session_id": "s_sdk"}
    _, search = client.track(user_id=user, event="Products Searched", properties=search_call)
    product = {"product_id": "sku_42", "category": "dairy", "position": 1, "session_id": "s_sdk"}
    product |= {"search_event_id": search["messageId"], "name": "Oat milk", "price": 1.99}
    sent = {"Products Searched": search["messageId"]}
    for name in ("Product Viewed", "Product Clicked", "Product Added"):
        props = {**product, "quantity": 2} if name == "Product Added" else product
        _, message = client.track(user_id=user, event=name, properties=props)
        sent[name] = message["messageId"]
    order = {"order_id": f"ord_{uuid.uuid4().hex[:8]}", "total": 5.97, "currency": "eur"}
    order |= {
        "session_id": "s_sdk",
        "products": [
            {"product_id": "sku_42", "quantity": 2, "price": 1.99, "name": "Oat milk"},
            {"product_id": "sku_7", "quantity": 1, "price": "1.99"},
        ],
    }
    _, message = client.track(user_id=user, event="Order Completed", properties=order)
    sent["Order Completed"] = message["messageId"]
    return {name: event_id(message_id) for name, message_id in sent.items()}


@pytest.fixture(scope="module")
def collector(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    log = tmp_path_factory.mktemp("collector") / "collector.log"
    service = cloud.start_collector(
        write_keys=SERVER_KEYS, log_path=log, env={"REDIS_ENABLED": "true"}
    )
    yield service
    service.stop()


def log_lines(service: Service) -> list[dict[str, Any]]:
    """The collector's request lines (not the line its archive's exit write leaves)."""
    assert service.log_path is not None
    lines = Path(service.log_path).read_text().splitlines()
    payloads = [json.loads(line) for line in lines if line.startswith("{")]
    return [line for line in payloads if line.get("message") == log.COLLECTOR_MESSAGE]


def assert_landed(cloud: LocalCloud, ids: dict[str, str], user: str) -> None:
    [search] = cloud.rows("searches", [ids["Products Searched"]])
    assert (search["query"], search["intent"], search["result_count"]) == (
        "oat milk",
        "product_lookup",
        12,
    )
    assert (search["user_id"], search["session_id"], search["source"]) == (user, "s_sdk", "server")
    products = cloud.rows(
        "product_interactions",
        [ids[n] for n in ("Product Viewed", "Product Clicked", "Product Added")],
    )
    assert sorted(r["event_type"] for r in products) == [
        "add_to_cart",
        "product_click",
        "product_view",
    ]
    for row in products:
        assert (row["product_id"], row["category"], row["position"]) == ("sku_42", "dairy", 1)
        assert row["search_event_id"] == ids["Products Searched"]
    assert next(r for r in products if r["event_type"] == "add_to_cart")["quantity"] == 2
    [order] = cloud.rows("orders", [ids["Order Completed"]])
    assert order["currency"] == "EUR" and str(order["total"]) == "5.97"
    assert [(i["product_id"], i["quantity"], str(i["unit_price"])) for i in order["items"]] == [
        ("sku_42", 2, "1.99"),
        ("sku_7", 1, "1.99"),
    ]


@pytest.mark.parametrize(
    ("kind", "gzip"), [("segment", False), ("segment", True), ("rudder", True)]
)
def test_each_sdk_lands_the_ecommerce_events_in_the_typed_tables_once(
    cloud: LocalCloud, collector: Service, kind: str, gzip: bool
) -> None:
    errors: list[Any] = []
    # The Python SDKs append /v1/batch to the host: a path prefix, as a Cloud Functions URL has.
    client = make_client(kind, collector.url + "/collector", errors, gzip=gzip)
    user = f"u_{kind}_{uuid.uuid4().hex[:8]}"
    ids = send_ecommerce(client, user)
    client.flush()
    client.join()

    assert errors == []
    assert_landed(cloud, ids, user)


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("kind", ["segment", "rudder"])
def test_an_sdk_retry_through_a_503_is_stored_exactly_once(
    cloud: LocalCloud, tmp_path: Path, kind: str
) -> None:
    # Short deadlines, so the 503 comes at once; Retry-After 1, so the SDK's wait is short.
    bucket = own_bucket(cloud, f"collector-retry-{kind}")
    outage = cloud.start_collector(
        write_keys=SERVER_KEYS,
        log_path=tmp_path / "collector.log",
        env={
            # A bucket of its own: the dead letters this outage leaves are not other tests'.
            "GCS_BUCKET": bucket,
            "BIGQUERY_DEADLINE_SECONDS": "1",
            "GCS_DEADLINE_SECONDS": "1",
            "CIRCUIT_COOLDOWN_SECONDS": "1",
            "COLLECTOR_RETRY_AFTER_SECONDS": "1",
        },
    )
    errors: list[Any] = []
    # rudder-sdk-python ignores Retry-After: it backs off 1 s, 2 s, 4 s... on its own.
    client = make_client(kind, outage.url, errors, gzip=True)
    user = f"u_retry_{uuid.uuid4().hex[:8]}"
    try:
        with cloud.outage(cloud.bigquery, cloud.gcs):
            ids = send_ecommerce(client, user)
            wait_for(lambda: any(line["http_status"] == 503 for line in log_lines(outage)))
        client.flush()
        client.join()
    finally:
        outage.stop()

    assert errors == []
    statuses = [line["http_status"] for line in log_lines(outage)]
    assert statuses[0] == 503 and statuses[-1] == 200, statuses
    first = next(line for line in log_lines(outage) if line["http_status"] == 503)
    assert first["events_not_stored"] == 5 and first["severity"] == "ERROR"
    # A 200 after the outage may come from the dead-letter area (BigQuery was still starting):
    # accepted is durable, and replay completes it, as an operator would.
    replay_dead_letters(cloud, bucket)
    assert_landed(cloud, ids, user)  # each table read returns one row per id: exactly once


def test_identify_with_personal_data_leaves_nothing_in_bigquery_gcs_redis_or_logs(
    cloud: LocalCloud, collector: Service
) -> None:
    errors: list[Any] = []
    client = make_client("rudder", collector.url, errors, gzip=True)
    user = f"u_person_{uuid.uuid4().hex[:8]}"
    traits = {"email": PERSON, "name": "Jane Zq7 Doe", "phone": "+44 20 7946 0958"}
    client.identify(user_id=user, traits=traits, context={"ip": "203.0.113.77"})
    client.track(user_id=user, event=f"Signed Up {PERSON}", properties={"email": PERSON})
    client.flush()
    client.join()

    assert errors == []
    bigquery = cloud.bigquery_client()
    for table in TABLES:
        name = f"{cloud.settings.project}.{cloud.settings.dataset}.{table}"
        query = (
            f"SELECT COUNT(*) AS n FROM `{name}` "
            f"WHERE received_at > TIMESTAMP('2000-01-01') AND user_id = '{user}'"
        )
        assert [row["n"] for row in bigquery.query(query).result()] == [0]
    for text in cloud.objects("").values():
        assert PERSON not in text and user not in text
    client_redis = redis.Redis.from_url(cloud.redis_url)
    assert [key for key in client_redis.scan_iter() if user.encode() in key] == []
    lines = log_lines(collector)
    text = Path(str(collector.log_path)).read_text()
    assert PERSON not in text and "Zq7" not in text and "203.0.113.77" not in text
    assert any(line.get("ignored_by_call") == {"identify": 1, "track": 1} for line in lines)


def own_bucket(cloud: LocalCloud, suffix: str) -> str:
    name = f"{cloud.settings.bucket}-{suffix}"
    bootstrap.create_bucket(cloud.storage_client(), name)
    return name


def replay_dead_letters(cloud: LocalCloud, bucket: str) -> None:
    config = cloud.config(GCS_BUCKET=bucket)
    report = replay(
        dead_letter_writer(config),
        bigquery_sink(config),
        progress=io.StringIO(),
        stored=bigquery_lookup(config),
    )
    assert report.still_failing == 0 and report.invalid == 0
