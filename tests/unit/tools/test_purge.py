"""The purge's refusals and races, on fakes: BigQuery refusing DML over its streaming buffer, an
object changed between read and rewrite, and operator mistakes. The whole purge runs on the
real emulators in tests/integration/test_purge.py."""

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.api_core.exceptions import BadRequest

from event_capture.contracts.archive_layout import ARCHIVE_AREA, object_name
from event_capture.contracts.redis_keys import activity_key, daily_counts_key
from event_capture.ingest.validation import validate_events
from tests.fakes.bigquery import FakeBigQuery
from tests.fakes.redis import FakeRedis
from tests.fakes.storage import FakeBlob, FakeBucket
from tests.unit import event_factory as factory
from tools.purge import Event, Scope, Stores, main, purge_bigquery, purge_objects, purge_redis

R = factory.RECEIVED_AT
SCOPE = Scope("collector:flood", R - timedelta(hours=1), R + timedelta(hours=1))
STREAMING = (
    "UPDATE or DELETE statement over table p.events.searches would affect rows in the streaming "
    "buffer, which is not supported"
)


class Tables(FakeBigQuery):
    """Matched rows per table until a DELETE, which removes them or raises ``refusal``."""

    def __init__(self, held: dict[str, int], refusal: Exception | None = None) -> None:
        super().__init__()
        self.held = held
        self.refusal = refusal

    def rows(self, sql: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        table = sql.split("`")[1]
        if sql.startswith("DELETE"):
            if self.refusal is not None:
                raise self.refusal
            self.held[table] = 0
            return []
        row = {"event_id": "e", "event_type": "search", "user_id": "u", "received_at": R}
        return [{**row, "event_id": f"{table}-{n}"} for n in range(self.held[table])]


def test_rows_in_the_streaming_buffer_are_pending_and_named_not_raised() -> None:
    bigquery = Tables({"p.events.searches": 3}, BadRequest(STREAMING))  # type: ignore[no-untyped-call]

    receipt, events = purge_bigquery(bigquery, {"searches": "p.events.searches"}, SCOPE, True)

    assert (receipt.matched, receipt.removed, receipt.pending) == (3, 0, 3)
    assert "streaming buffer" in receipt.notes[0] and "run the purge again" in receipt.notes[0]
    assert len(events) == 3  # Redis is still cleared of them.


def test_a_dry_run_sends_no_dml() -> None:
    bigquery = Tables({"p.events.searches": 2})
    receipt, _ = purge_bigquery(bigquery, {"searches": "p.events.searches"}, SCOPE, False)
    assert (receipt.matched, receipt.removed) == (2, 0)
    assert not any(sql.startswith("DELETE") for sql, _ in bigquery.queries)


def lines(via: str, count: int) -> str:
    rows, _ = validate_events([factory.search(R) for _ in range(count)], R, True, via)
    return "".join(row.json + "\n" for row in rows)


def test_an_object_written_again_since_it_was_read_is_left_and_reported() -> None:
    name = object_name(ARCHIVE_AREA, R, "req")

    class WrittenMeanwhile(FakeBlob):
        def download_as_bytes(self, *, timeout: float, retry: None = None) -> bytes:
            data = super().download_as_bytes(timeout=timeout)
            self.bucket.upload(name, self.bucket.objects[name].data + lines("web", 1), {})
            return data

    class Listing(FakeBucket):
        def list_blobs(self, *, prefix: str) -> Iterator[FakeBlob]:
            return iter([WrittenMeanwhile(self, name)])

    bucket = Listing()
    bucket.upload(name, lines("collector:flood", 2) + lines("collector:web", 1), {})

    receipt, _ = purge_objects(bucket, "archive", (ARCHIVE_AREA,), lambda r: r, SCOPE, True)

    assert (receipt.matched, receipt.removed, receipt.pending) == (2, 0, 2)
    assert receipt.notes[0].startswith(name)
    # Nothing written since the read is lost; a second run finds the lines again.
    assert bucket.objects[name].data.count("\n") == 4


def test_an_object_of_only_matching_lines_is_deleted_and_a_mixed_one_rewritten() -> None:
    bucket = FakeBucket()
    only = object_name(ARCHIVE_AREA, R, "only")
    mixed = object_name(ARCHIVE_AREA, R, "mixed")
    bucket.upload(only, lines("collector:flood", 2), {})
    bucket.upload(mixed, lines("collector:flood", 1) + lines("collector:web", 2), {})

    receipt, _ = purge_objects(bucket, "archive", (ARCHIVE_AREA,), lambda r: r, SCOPE, True)

    assert (receipt.matched, receipt.removed, receipt.pending) == (3, 3, 0)
    assert set(bucket.objects) == {mixed}
    assert bucket.objects[mixed].data.count('"arrived_via":"collector:web"') == 2
    assert "collector:flood" not in bucket.objects[mixed].data


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--source", "Web Key!", "--from", "2026-12-01", "--to", "2026-12-02"], "source"),
        (["--source", "web", "--from", "2026-12-02", "--to", "2026-12-01"], "before --to"),
        (["--source", "web", "--from", "yesterday", "--to", "2026-12-01"], "--from"),
        (["--source", "web", "--from", "2026-12-01T00:00", "--to", "2026-12-02"], "UTC offset"),
    ],
)
def test_operator_mistakes_are_one_line_and_status_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stores = Stores(FakeBigQuery(), {}, None, None, None)
    assert main(argv, stores=stores, out=io.StringIO()) == 2
    error = capsys.readouterr().err
    assert error.startswith("purge: ") and says in error and error.count("\n") == 1


def test_the_range_covers_each_day_it_touches() -> None:
    start = datetime(2026, 12, 1, 23, tzinfo=UTC)
    assert Scope("capture", start, start + timedelta(hours=2)).days() == [
        start.date(),
        start.date() + timedelta(days=1),
    ]
    assert Scope("capture", start, start + timedelta(minutes=60)).days() == [start.date()]


def test_redis_loses_the_events_entries_and_the_days_counts_never_below_zero() -> None:
    redis = FakeRedis()
    day = R.date()
    purged = {Event(f"e{n}", "search", "u_1", None, day) for n in range(3)}
    for entry in ("e0", "kept", "e1", "e2"):
        redis.lpush(activity_key("u_1"), json.dumps({"event_id": entry, "event_type": "search"}))
    counts = daily_counts_key(f"{day:%Y-%m-%d}")
    redis.hset(counts, mapping={"search": "2", "product_view": "5"})

    dry = purge_redis(redis, purged, execute=False)
    assert (dry.matched, dry.removed) == (3, 0)
    assert len(redis.lrange(activity_key("u_1"), 0, -1)) == 4
    assert redis.hget(counts, "search") == b"2"

    receipt = purge_redis(redis, purged, execute=True)

    assert (receipt.matched, receipt.removed) == (3, 3)
    left = [json.loads(e)["event_id"] for e in redis.lrange(activity_key("u_1"), 0, -1)]
    assert left == ["kept"]
    # Three purged searches, two counted (a write to Redis may have failed): zero, not -1.
    assert (redis.hget(counts, "search"), redis.hget(counts, "product_view")) == (b"0", b"5")
