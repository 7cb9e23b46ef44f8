"""The cost guard end to end on the real emulators: a budget notification in the documented
format switches the running capture function to archive-only, events keep being accepted and
land in the archive only, and the next budget period's notification switches it back and loads
them into the tables, every event exactly once.

The guard and capture run as functions-framework servers, as deployed; the notification is the
CloudEvent Eventarc delivers for a Pub/Sub message. The next period's notification is handed to
a guard in this process whose clock is in that period, since the guard refuses a period that
has not begun. The Data Transfer API has no emulator: a
loopback server records the guard's calls (their shapes are checked against the API's REST
reference in tests/unit/cost_guard/test_scheduled_queries.py).
A dataset and buckets of its own keep the other tests' events out of the archive it loads.
"""

import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import requests
from cloudevents.http import CloudEvent

from event_capture.contracts.capture_mode import MODE_OBJECT, CaptureMode, ControlState
from event_capture.cost_guard.config import load_guard_config
from event_capture.cost_guard.function import GuardFunction
from event_capture.cost_guard.wiring import build_guard
from event_capture.ingest.validation import validate_events
from localcloud import bootstrap, budget_notification
from localcloud.budget_notification import (
    LOCAL_BUDGET_ID,
    month_start,
    next_month_start,
    notification_data,
)
from localcloud.cloud import LocalCloud
from localcloud.processes import Service
from localcloud.pubsub_push import MESSAGE_PUBLISHED
from localcloud.sample_events import sample_batch
from tools import cost_guard

DATASET = "guarded"
CONFIG = "projects/capture-test/locations/us/transferConfigs/nightly-search-daily"


class TransferApi(BaseHTTPRequestHandler):
    calls: ClassVar[list[tuple[str, str, dict[str, Any]]]] = []

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        TransferApi.calls.append((self.command, self.path, body))
        answer = json.dumps({"name": CONFIG}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_PATCH = do_POST = _record  # noqa: N815 - http.server's names

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def transfer_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), TransferApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def notification(cost: float, interval_start: datetime, budget: float = 5.0) -> dict[str, Any]:
    return notification_data(cost=cost, budget=budget, interval_start=interval_start)


def cloud_event(data: dict[str, Any]) -> CloudEvent:
    """The notification as Eventarc hands it to the function."""
    return CloudEvent({"type": MESSAGE_PUBLISHED, "source": "//pubsub.googleapis.com/"}, data)


def deliver(guard: Service, data: dict[str, Any]) -> None:
    answer = budget_notification.deliver(f"{guard.url}/", data, timeout=120)
    assert answer.status_code < 300, answer.text


def send(capture: Service, events: list[dict[str, Any]]) -> dict[str, Any]:
    answer = requests.post(f"{capture.url}/", json={"events": events}, timeout=60)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def streamed(body: dict[str, Any]) -> bool:
    return bool(body["sinks"]["bigquery"]["status"] != "disabled")


def send_until(capture: Service, streaming: bool) -> list[dict[str, Any]]:
    """Batches until one is answered in the wanted mode; every batch is accepted either way."""
    sent: list[dict[str, Any]] = []
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while datetime.now(UTC) < deadline:
        batch = sample_batch(5)
        sent += batch
        if streamed(send(capture, batch)) is streaming:
            return sent
    raise AssertionError(f"capture never switched to streaming={streaming}")


def copies(cloud: LocalCloud, events: list[dict[str, Any]]) -> Counter[str]:
    """Raw rows per event id, over every table (duplicates would show)."""
    rows, _ = validate_events(events, datetime.now(UTC))
    found: Counter[str] = Counter()
    for table in {row.table for row in rows}:
        ids = [row.event_id for row in rows if row.table == table]
        found.update(row["event_id"] for row in cloud.rows(table, ids, dataset=DATASET))
    return found


def archived_ids(cloud: LocalCloud, bucket: str) -> set[str]:
    return {
        json.loads(line)["event_id"]
        for text in cloud.objects("archive/", bucket).values()
        for line in text.splitlines()
    }


def guarded_env(cloud: LocalCloud) -> dict[str, str]:
    """Capture's variables with a control bucket, on the test's own dataset and buckets."""
    bootstrap.create_dataset_and_tables(cloud.bigquery_client(), DATASET)
    suffix = uuid.uuid4().hex[:8]
    archive, control_bucket = f"guarded-archive-{suffix}", f"guarded-control-{suffix}"
    for name in (archive, control_bucket):
        cloud.storage_client().create_bucket(name)
    return {
        "BIGQUERY_DATASET": DATASET,
        "GCS_BUCKET": archive,
        "CAPTURE_MODE_BUCKET": control_bucket,
        # Quick to follow a switch: the test waits for it by sending, never by sleeping.
        "CAPTURE_MODE_TTL_SECONDS": "0.5",
    }


def control(cloud: LocalCloud, bucket: str) -> ControlState:
    return ControlState.from_json(cloud.bucket(bucket).blob(MODE_OBJECT).download_as_bytes())


def test_a_budget_notification_switches_capture_to_archive_only_and_back_losing_nothing(
    cloud: LocalCloud, transfer_api: str
) -> None:
    env = guarded_env(cloud)
    archive, control_bucket = env["GCS_BUCKET"], env["CAPTURE_MODE_BUCKET"]
    capture = cloud.start_function(env=env)
    guard_env = {
        **env,
        "SCHEDULED_QUERIES": CONFIG,
        "DATA_TRANSFER_ENDPOINT": transfer_api,
        # The TTL above plus a request's time on this machine.
        "GUARD_SETTLE_SECONDS": "3",
    }
    guard = cloud.start_guard(env=guard_env)
    TransferApi.calls.clear()
    month, next_month = month_start(), next_month_start()

    before = sample_batch(10)
    assert streamed(send(capture, before))
    deliver(guard, notification(cost=4.0, interval_start=month))  # 80 %: nothing happens
    assert TransferApi.calls == []

    deliver(guard, notification(cost=5.2, interval_start=month))
    assert control(cloud, control_bucket).mode is CaptureMode.ARCHIVE_ONLY
    assert TransferApi.calls == [("PATCH", f"/v1/{CONFIG}?updateMask=disabled", {"disabled": True})]
    switching = send_until(capture, streaming=False)
    archived_only = sample_batch(20)
    assert not streamed(send(capture, archived_only))
    # Accepted, durable in the archive, not in BigQuery.
    assert {e["event_id"] for e in archived_only} <= archived_ids(cloud, archive)
    assert copies(cloud, archived_only) == Counter()
    # Billing repeats itself several times a day: the same period changes nothing.
    deliver(guard, notification(cost=5.4, interval_start=month))
    assert len(TransferApi.calls) == 1

    # The next period has not begun; the guard of this process lives in it (same control
    # object, same archive), as the deployed one will when its first notification comes.
    next_period = GuardFunction(
        build_guard(load_guard_config(cloud.guard_env(**guard_env))),
        budget_id=LOCAL_BUDGET_ID,
        clock=lambda: next_month + timedelta(hours=9),
    )
    next_period(cloud_event(notification(cost=0.1, interval_start=next_month)))

    state = control(cloud, control_bucket)
    assert state.mode is CaptureMode.STREAM
    assert state.pending_load is None and state.paused_queries == ()
    methods = [(method, path.split("?")[0]) for method, path, _ in TransferApi.calls[1:]]
    assert methods == [("PATCH", f"/v1/{CONFIG}"), ("POST", f"/v1/{CONFIG}:startManualRuns")]
    assert TransferApi.calls[1][2] == {"disabled": False}
    after = send_until(capture, streaming=True)
    everything = before + switching + archived_only + after
    assert copies(cloud, everything) == Counter({e["event_id"]: 1 for e in everything})

    # The same notification again: nothing loaded twice, no call made.
    calls = len(TransferApi.calls)
    next_period(cloud_event(notification(cost=0.2, interval_start=next_month)))
    assert copies(cloud, everything) == Counter({e["event_id"]: 1 for e in everything})
    assert len(TransferApi.calls) == calls


def test_a_message_that_is_no_budget_notification_is_refused_with_a_log_line(
    cloud: LocalCloud, tmp_path: Any
) -> None:
    suffix = uuid.uuid4().hex[:8]
    control_bucket = f"refusing-control-{suffix}"
    cloud.storage_client().create_bucket(control_bucket)
    log = tmp_path / "guard.log"
    guard = cloud.start_guard(env={"CAPTURE_MODE_BUCKET": control_bucket}, log_path=log)
    bad = notification_data(
        cost=9.0, budget=5.0, interval_start=month_start(), data={"costAmount": "a lot"}
    )

    deliver(guard, bad)

    [line] = [json.loads(x) for x in log.read_text().splitlines() if '"cost_guard"' in x]
    assert line["action"] == "refused"
    assert line["detail"].startswith("data.costAmount: must be a finite number")
    assert not list(cloud.storage_client().list_blobs(control_bucket))


def test_an_operator_switches_capture_with_one_command_each_way(
    cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    env = guarded_env(cloud)
    capture = cloud.start_function(env=env)
    guard = build_guard(load_guard_config(cloud.guard_env(**env, GUARD_SETTLE_SECONDS="3")))

    assert cost_guard.main(["trip"], guard=guard) == 0
    switching = send_until(capture, streaming=False)
    archived_only = sample_batch(15)
    assert not streamed(send(capture, archived_only))
    assert cost_guard.main(["status"], guard=guard) == 0
    assert '"mode": "archive_only"' in capsys.readouterr().out

    stored = copies(cloud, switching + archived_only)
    not_streamed = [e for e in switching + archived_only if not stored[e["event_id"]]]
    assert len(not_streamed) >= len(archived_only)

    assert cost_guard.main(["resume"], guard=guard) == 0

    out = capsys.readouterr().out
    assert "resume: switched back by an operator (capture: stream)" in out
    assert f"{len(not_streamed)} events loaded" in out
    everything = switching + archived_only + send_until(capture, streaming=True)
    assert copies(cloud, everything) == Counter({e["event_id"]: 1 for e in everything})
    # Run again: it has nothing left to do.
    assert cost_guard.main(["resume"], guard=guard) == 0
    assert "capture is streaming already" in capsys.readouterr().out
