"""forget.requests: a run over the filed requests, on fake buckets and a fake BigQuery. What the
real stores do with the same run is tests/integration/test_forget.py.

- A request whose rows BigQuery cannot delete yet (the streaming buffer) stays filed with a
  pending receipt, and the next run finishes it.
- A request that is not one is refused with the rule it broke, never the value.
- Suppression goes on the list before anything is erased, and only then is the settle time
  waited; lifting it deletes nothing.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core.exceptions import BadRequest

from event_capture.contracts.forget import (
    SUPPRESSION_OBJECT,
    read_suppressed,
    request_object,
    subject_digest,
)
from event_capture.contracts.forget_request import ForgetRequest
from event_capture.forget.erase import Stores, event_tables, user_level_tables
from event_capture.forget.requests import RunReport, run_requests
from tests.fakes.bigquery import FakeBigQuery, FakeJob
from tests.fakes.storage import FakeBucket

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
USER = "u_leaving"
BUFFER = BadRequest(  # type: ignore[no-untyped-call]
    "UPDATE or DELETE statement over table p.events.searches would affect rows in the streaming "
    "buffer, which is not supported"
)


class Warehouse(FakeBigQuery):
    """Two of the user's rows in searches, none elsewhere; deletes refused while ``buffered``."""

    def __init__(self) -> None:
        super().__init__()
        self.buffered = True
        self.left = 2

    def query(self, sql: str, /, *, job_config: Any) -> FakeJob:
        job = super().query(sql, job_config=job_config)
        in_searches = "`p.events.searches`" in sql
        if sql.startswith("SELECT COUNT"):
            return FakeJob([{"n": self.left if in_searches else 0}], total_bytes_processed=10)
        if sql.startswith("DELETE") and in_searches:
            if self.buffered:
                return FakeJob(error=BUFFER)
            removed, self.left = self.left, 0
            return FakeJob(num_dml_affected_rows=removed, total_bytes_processed=20)
        return job


def stores(bigquery: FakeBigQuery) -> Stores:
    return Stores(
        bigquery=bigquery,
        event_tables=event_tables("p", "events"),
        user_level_tables=user_level_tables("p", "events"),
        archive=None,
        dead_letters=None,
        redis=None,
    )


def file(bucket: FakeBucket, request_id: str, request: ForgetRequest | str) -> None:
    text = request if isinstance(request, str) else request.model_dump_json()
    bucket.blob(request_object(request_id)).upload_from_string(
        text, content_type="application/json", if_generation_match=0, timeout=1
    )


def run(requests: FakeBucket, control: FakeBucket, bigquery: FakeBigQuery, at: datetime,
        waits: list[float]) -> RunReport:  # fmt: skip
    return run_requests(
        requests, control, stores(bigquery), clock=lambda: at, wait=waits.append, settle_seconds=35
    )


def receipts(bucket: FakeBucket, request_id: str) -> list[dict[str, Any]]:
    prefix = f"receipts/{request_id}/"
    return [json.loads(o.data) for n, o in sorted(bucket.objects.items()) if n.startswith(prefix)]


def test_rows_in_the_streaming_buffer_leave_the_request_filed_until_a_run_deletes_them() -> None:
    requests, control, warehouse = FakeBucket(), FakeBucket(), Warehouse()
    waits: list[float] = []
    file(requests, "req-00000001", ForgetRequest(user_id=USER))

    first = run(requests, control, warehouse, NOW, waits)

    assert (first.taken, first.finished, first.left) == (1, 0, 1)
    assert request_object("req-00000001") in requests.objects
    [pending] = receipts(requests, "req-00000001")
    assert pending["status"] == "pending" and pending["pending"] == 2
    assert "streaming buffer" in json.dumps(pending["stores"])

    warehouse.buffered = False
    second = run(requests, control, warehouse, NOW + timedelta(hours=1), waits)

    assert (second.taken, second.finished, second.left) == (1, 1, 0)
    assert second.bytes_processed == 20  # the one DELETE that read anything, as reported
    assert request_object("req-00000001") not in requests.objects
    done = receipts(requests, "req-00000001")[-1]
    assert done["status"] == "complete"
    assert done["stores"][0]["removed"] == 2 and done["stores"][0]["bytes_processed"] > 0
    assert done["subject_digest"] == subject_digest(USER)
    assert USER not in json.dumps(receipts(requests, "req-00000001"))
    assert waits == []  # nobody suppressed: nothing to wait for


def test_a_request_that_is_not_one_is_refused_by_rule_without_its_value() -> None:
    requests, control = FakeBucket(), FakeBucket()
    waits: list[float] = []
    file(requests, "req-00000002", json.dumps({"user_id": "", "email": "jane@example.com"}))

    report = run(requests, control, Warehouse(), NOW, waits)

    assert (report.invalid, report.finished) == (1, 1)
    [refused] = receipts(requests, "req-00000002")
    assert refused["status"] == "invalid"
    assert "user_id" in refused["problem"] and "email" in refused["problem"]
    assert "jane" not in json.dumps(refused)
    assert requests.objects.keys() == {"receipts/req-00000002/20261207T120000000000Z.json"}


def test_suppression_is_listed_before_the_erasure_and_lifting_it_deletes_nothing() -> None:
    requests, control, warehouse = FakeBucket(), FakeBucket(), Warehouse()
    waits: list[float] = []
    warehouse.buffered = False
    listed_before_erasure: list[bool] = []
    warehouse.before_query = lambda: listed_before_erasure.append(
        SUPPRESSION_OBJECT in control.objects
    )
    file(requests, "req-00000003", ForgetRequest(user_id=USER, suppress=True))

    report = run(requests, control, warehouse, NOW, waits)

    assert report.suppressed == 1 and listed_before_erasure == [True]
    assert waits == [35]
    document = control.objects[SUPPRESSION_OBJECT].data.encode()
    assert read_suppressed(document) == {subject_digest(USER)}

    queries = len(warehouse.queries)
    file(requests, "req-00000004", ForgetRequest(user_id=USER, lift_suppression=True))
    lifted = run(requests, control, warehouse, NOW, waits)

    assert lifted.lifted == 1 and lifted.finished == 1
    assert read_suppressed(control.objects[SUPPRESSION_OBJECT].data.encode()) == frozenset()
    assert len(warehouse.queries) == queries  # nothing erased
    assert waits == [35]


def test_the_erasure_waits_for_the_weeks_batch_but_the_suppression_does_not() -> None:
    requests, control, warehouse = FakeBucket(), FakeBucket(), Warehouse()
    warehouse.buffered = False
    waits: list[float] = []
    week = 168 * 3600.0
    file(requests, "req-00000005", ForgetRequest(user_id=USER, suppress=True))

    def run_at(at: datetime) -> RunReport:
        return run_requests(
            requests,
            control,
            stores(warehouse),
            clock=lambda: at,
            wait=waits.append,
            settle_seconds=35,
            batch_seconds=week,
        )

    first = run_at(NOW)
    assert (first.queued, first.erased_users, warehouse.queries) == (1, 0, [])
    assert read_suppressed(control.objects[SUPPRESSION_OBJECT].data.encode()) == {
        subject_digest(USER)
    }
    [queued] = receipts(requests, "req-00000005")
    assert queued["status"] == "queued"
    assert queued["erase_due"] == (NOW + timedelta(hours=168)).isoformat()

    # An hour short of the week: still queued, and no second receipt.
    assert run_at(NOW + timedelta(hours=167)).queued == 1
    assert len(receipts(requests, "req-00000005")) == 1
    # A request asking for it now is erased at once, beside the queued one that is not due.
    file(requests, "req-00000006", ForgetRequest(user_id="u_now", erase_now=True))
    now_run = run_at(NOW + timedelta(hours=167, minutes=30))
    assert (now_run.erased_users, now_run.queued) == (1, 1)
    assert all("u_now" in str(parameters["users"]) for _, parameters in warehouse.queries)

    due = run_at(NOW + timedelta(hours=168))
    assert (due.erased_users, due.finished, due.queued) == (1, 1, 0)
    assert receipts(requests, "req-00000005")[-1]["status"] == "complete"
    assert waits == []  # the suppression was written a week before the erasure


def test_a_thousand_users_are_erased_with_one_statement_per_table() -> None:
    requests, control, warehouse = FakeBucket(), FakeBucket(), Warehouse()
    warehouse.buffered = False
    for n in range(1_000):
        file(requests, f"req-{n:08d}", ForgetRequest(user_id=f"u_{n}", erase_now=True))

    report = run(requests, control, warehouse, NOW, [])

    tables = len(event_tables("p", "events")) + len(user_level_tables("p", "events"))
    assert (report.erased_users, report.finished) == (1_000, 1_000)
    # The linked devices, then a DELETE per table: every statement names all 1,000 users.
    assert len(warehouse.queries) == 1 + tables
    for sql, parameters in warehouse.queries:
        assert len(parameters["users"]) == 1_000
        # user_id first: the tables' first clustering column, so BigQuery can skip blocks.
        assert "user_id IN UNNEST(@users)" in sql.split("WHERE", 1)[1].split(" AND ", 1)[1]
