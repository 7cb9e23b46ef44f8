"""The real ``@segment/analytics-node`` (npm, run by Node) against the collector on the local
cloud: the ecommerce events land in the typed tables exactly once, also after the SDK retried
through a 503.

The calls are those ``test_collector_sdks`` sends with the Python SDKs, recorded once and
replayed by ``js/send_node.mjs`` with fixed messageIds; ``make test`` installs the package
(``npm ci`` from ``js/package-lock.json``).
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud import bootstrap
from localcloud.cloud import LocalCloud
from localcloud.processes import Service
from tests.integration.js_sdks import JS
from tests.integration.test_collector_sdks import (
    KEY,
    SERVER_KEYS,
    assert_landed,
    log_lines,
    replay_dead_letters,
    send_ecommerce,
    wait_for,
)

SEND = JS / "send_node.mjs"


class RecordingClient:
    """Takes ``track`` as the Python SDKs do and keeps the calls, each with a fixed messageId
    that is not a UUID (as the Node SDK's own ``node-next-<ms>-<uuid>`` is not)."""

    def __init__(self, run: str) -> None:
        self.run = run
        self.calls: list[dict[str, Any]] = []

    def track(
        self, *, user_id: str, event: str, properties: dict[str, Any]
    ) -> tuple[bool, dict[str, Any]]:
        message_id = f"node-{self.run}-{len(self.calls)}"
        call = {"userId": user_id, "event": event, "properties": properties}
        self.calls.append({**call, "messageId": message_id})
        return True, {"messageId": message_id}


@pytest.fixture(scope="module")
def collector(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    log = tmp_path_factory.mktemp("collector-node") / "collector.log"
    service = cloud.start_collector(write_keys=SERVER_KEYS, log_path=log)
    yield service
    service.stop()


def settings(url: str) -> dict[str, Any]:
    # The SDK builds its URL with new URL(path, host), which drops a path in host: a Cloud
    # Functions URL's /<function> prefix has to go into path.
    return {"writeKey": KEY, "host": url, "path": "/collector/v1/batch", "flushAt": 15}


def node_sends(node: str, url: str, calls: list[dict[str, Any]]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [node, str(SEND)],
        cwd=JS,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    process.stdin.write(json.dumps({"settings": settings(url), "calls": calls}))
    process.stdin.close()
    return process


def outcome(process: subprocess.Popen[str], timeout: float = 60.0) -> dict[str, Any]:
    """What the script printed: statuses, delivered calls, errors."""
    assert process.stdout is not None and process.stderr is not None
    try:
        process.wait(timeout)
    finally:
        process.kill()
    stdout, stderr = process.stdout.read(), process.stderr.read()
    assert process.returncode == 0, stderr
    result: dict[str, Any] = json.loads(stdout)
    return result


def test_the_node_sdk_lands_the_ecommerce_events_in_the_typed_tables_once(
    cloud: LocalCloud, collector: Service, node: str
) -> None:
    client = RecordingClient(uuid.uuid4().hex[:8])
    user = f"u_node_{client.run}"
    ids = send_ecommerce(client, user)

    result = outcome(node_sends(node, collector.url, client.calls))

    assert result == {"statuses": [200], "delivered": 5, "errors": []}
    assert_landed(cloud, ids, user)


def test_a_node_sdk_retry_through_a_503_is_stored_exactly_once(
    cloud: LocalCloud, node: str, tmp_path: Path
) -> None:
    # Short deadlines, so the 503 comes at once. The Node SDK honours Retry-After only on a
    # 429; after a 503 it backs off 1 to 2 s, then 2 to 4 s.
    bucket = own_bucket(cloud, "collector-retry-node")
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
    client = RecordingClient(uuid.uuid4().hex[:8])
    user = f"u_node_retry_{client.run}"
    ids = send_ecommerce(client, user)
    try:
        with cloud.outage(cloud.bigquery, cloud.gcs):
            process = node_sends(node, outage.url, client.calls)
            wait_for(lambda: any(line["http_status"] == 503 for line in log_lines(outage)))
        result = outcome(process)
    finally:
        outage.stop()

    assert result["errors"] == [] and result["delivered"] == 5
    assert result["statuses"][0] == 503 and result["statuses"][-1] == 200, result
    assert [line["http_status"] for line in log_lines(outage)] == result["statuses"]
    first = next(line for line in log_lines(outage) if line["http_status"] == 503)
    assert first["events_not_stored"] == 5 and first["route"] == "batch"
    # A 200 after the outage may come from the dead-letter area (BigQuery was still starting):
    # accepted is durable, and replay completes it, as an operator would.
    replay_dead_letters(cloud, bucket)
    assert_landed(cloud, ids, user)  # each table read returns one row per id: exactly once


def own_bucket(cloud: LocalCloud, suffix: str) -> str:
    name = f"{cloud.settings.bucket}-{suffix}"
    bootstrap.create_bucket(cloud.storage_client(), name)
    return name
