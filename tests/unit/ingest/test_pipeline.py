"""Tests for event_capture.ingest.pipeline.CapturePipeline: durability rules, the log contract,
what it does while a backend is down (its time budget, circuit breakers and archive gaps) and in
the cost guard's archive-only mode.

The sinks are replaced by small fakes that speak the sink interface and return the real result
type; they all append to one shared journal so the order of side effects can be asserted. The
clocks are injected. The outage rules run against killed and frozen emulators in
tests/integration/test_faults.py, archive-only mode in tests/integration/test_cost_guard.py.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from event_capture.contracts import log_fields
from event_capture.contracts.archive_layout import MAX_LINE_AGE_SECONDS
from event_capture.contracts.timing import MODE_TTL_SECONDS
from event_capture.ingest.answer import capture_answer
from event_capture.ingest.circuit import CircuitBreaker
from event_capture.ingest.mode_reader import ModeReader
from event_capture.ingest.pipeline import BIGQUERY_SHARE, CapturePipeline
from event_capture.ingest.row import Request, Row
from event_capture.ingest.sinks.result import (
    Failure,
    FailureKind,
    SinkResult,
)
from event_capture.platform.answer import Answer
from tests.fakes.clock import Clock, WallClock
from tests.fakes.sinks import FakeDeadLetter, FakeSink, always, never
from tests.unit import event_factory as factory
from tests.unit.event_factory import RECEIVED_AT
from tests.unit.ingest.test_mode_reader import ARCHIVE_DOC, STREAM_DOC, Source

R = factory.RECEIVED_AT
REQUEST_ID = "req0123456789abc"

Journal = list[str]
RowPredicate = Callable[[Row], bool]


def refused(row: Row) -> Failure:
    return Failure(FailureKind.INVALID, "row refused")


class Fakes:
    """A pipeline on fake sinks; pass ``bigquery=False`` etc. to switch a sink off."""

    def __init__(
        self,
        *,
        bq_fails: RowPredicate = never,
        dead_letter_writes: RowPredicate = always,
        archive_writes: RowPredicate = always,
        redis_ok: bool = True,
        bigquery: bool = True,
        dead_letter: bool = True,
        archive: bool = True,
        redis: bool = True,
        bq_down: bool = False,
        **options: Any,
    ) -> None:
        self.journal: Journal = []
        self.bigquery = FakeSink(
            name="bigquery",
            journal=self.journal,
            down=bq_down,
            refuses=lambda row: refused(row) if bq_fails(row) else None,
            error="ServiceUnavailable: 503 backend down",
            retries=1,
            api_requests=2,
        )
        self.dead_letter = FakeDeadLetter(self.journal, dead_letter_writes)
        self.archive = FakeSink(
            name="archive",
            journal=self.journal,
            loses=lambda row: not archive_writes(row),
            error="Forbidden: 403 no access",
        )
        self.redis = FakeSink(
            name="redis", journal=self.journal, down=not redis_ok, error="ConnectionError: refused"
        )
        self.pipeline = CapturePipeline(
            bigquery=self.bigquery if bigquery else None,
            dead_letter=self.dead_letter if dead_letter else None,
            archive=self.archive if archive else None,
            redis=self.redis if redis else None,
            clock=options.pop("clock", lambda: R),
            request_id=lambda: REQUEST_ID,
            **options,
        )

    def handle(self, events: list[Any], batch: bool = True) -> Answer:
        result = capture_answer(self.pipeline.handle(events, batch))
        self.journal.append("returned")
        return result


def _status(result: Answer, sink: str) -> str:
    status: str = result.body["sinks"][sink]["status"]
    return status


def _is_order(row: Row) -> bool:
    return row.table == "orders"


def mixed_batch() -> list[Any]:
    return [factory.search(R), factory.order(R), factory.voice(R)]


BUDGET = 30.0


def breakers(clock: Clock, threshold: int = 2) -> dict[str, CircuitBreaker]:
    return {
        name: CircuitBreaker(failure_threshold=threshold, cooldown_seconds=30, clock=clock)
        for name in ("bigquery", "gcs", "redis")
    }


# --------------------------------------------------------------------------------------------
# Status codes
# --------------------------------------------------------------------------------------------


def test_all_inserted_is_200() -> None:
    sinks = Fakes()
    events = mixed_batch()

    result = sinks.handle(events)

    assert result.status == 200
    assert result.headers == {}
    assert result.body["request_id"] == REQUEST_ID
    assert (result.body["received"], result.body["accepted"], result.body["rejected"]) == (3, 3, 0)
    assert result.body["rejections"] == []
    assert "error" not in result.body
    assert {name: o["status"] for name, o in result.body["sinks"].items()} == {
        "bigquery": "ok",
        "gcs_archive": "ok",
        "redis": "ok",
    }
    assert [row.event_id for row in sinks.bigquery.calls[0]] == [e["event_id"] for e in events]
    assert sinks.dead_letter.calls == []
    assert result.log["severity"] == "INFO"


def test_some_rejected_is_207_with_rejections_named() -> None:
    sinks = Fakes()
    bad = factory.search(R, query="")
    events: list[Any] = [factory.voice(R), bad, factory.order(R), "not an event"]

    result = sinks.handle(events)

    assert result.status == 207
    assert (result.body["received"], result.body["accepted"], result.body["rejected"]) == (4, 2, 2)
    rejections = result.body["rejections"]
    assert [r["index"] for r in rejections] == [1, 3]
    assert rejections[0]["event_id"] == bad["event_id"]
    assert rejections[0]["errors"][0]["field"] == "events[1].query"
    assert rejections[0]["errors"][0]["rule"] == "string_too_short"
    assert rejections[1]["errors"][0]["field"] == "events[3]"
    # Only the valid events reach the sinks.
    assert [row.index for row in sinks.bigquery.calls[0]] == [0, 2]
    assert [row.index for row in sinks.redis.calls[0]] == [0, 2]
    assert result.log["severity"] == "WARNING"


def test_single_event_rejection_paths_have_no_prefix() -> None:
    sinks = Fakes()

    result = sinks.handle([factory.search(R, query="")], batch=False)

    assert result.status == 400
    assert result.body["rejections"][0]["errors"][0]["field"] == "query"


def test_no_valid_event_is_400_and_touches_no_sink() -> None:
    sinks = Fakes()

    result = sinks.handle([factory.search(R, query=""), 5])

    assert result.status == 400
    assert "no valid events" in result.body["error"]
    assert (result.body["accepted"], result.body["rejected"]) == (0, 2)
    assert sinks.journal == ["returned"]
    assert result.log["http_status"] == 400


def test_bigquery_failures_written_to_dead_letter_are_200() -> None:
    sinks = Fakes(bq_fails=_is_order)
    events = mixed_batch()

    result = sinks.handle(events)

    assert result.status == 200
    assert result.body["accepted"] == 3
    assert _status(result, "bigquery") == "partial"
    assert _status(result, "dead_letter") == "ok"
    failed, request = sinks.dead_letter.calls[0], sinks.dead_letter.requests[0]
    # What BigQuery said of each row travels to the dead-letter area unchanged.
    assert [(f.row.event_id, f.failure) for f in failed] == [
        (events[1]["event_id"], Failure(FailureKind.INVALID, "row refused"))
    ]
    assert request == Request(REQUEST_ID, R)
    assert result.log["events_dead_lettered"] == 1
    assert result.log["bigquery_failed_rows"] == 1
    assert result.log["events_not_stored"] == 0
    # Everything is durable, so the cache sees every accepted event.
    assert len(sinks.redis.calls[0]) == 3


def test_bigquery_and_dead_letter_both_failing_is_503_with_retry_after() -> None:
    sinks = Fakes(bq_fails=_is_order, dead_letter_writes=never)

    result = sinks.handle(mixed_batch())

    assert result.status == 503
    assert int(result.headers["Retry-After"]) > 0
    assert result.headers["Retry-After"] in result.body["error"]
    assert result.body["accepted"] == 0
    assert _status(result, "dead_letter") == "failed"
    assert _status(result, "redis") == "skipped"
    assert sinks.redis.calls == []
    assert result.log["events_accepted"] == 0
    assert result.log["events_not_stored"] == 1
    assert result.log["events_dead_lettered"] == 0
    assert result.log["severity"] == "ERROR"


def test_partially_written_dead_letter_is_still_503() -> None:
    sinks = Fakes(bq_fails=always, dead_letter_writes=_is_order)

    result = sinks.handle(mixed_batch())

    assert result.status == 503
    assert _status(result, "dead_letter") == "partial"
    assert result.log["events_dead_lettered"] == 1
    assert result.log["events_not_stored"] == 2
    assert sinks.redis.calls == []


def test_bigquery_failures_without_a_dead_letter_area_are_503() -> None:
    sinks = Fakes(bq_fails=always, dead_letter=False, archive=False)

    result = sinks.handle(mixed_batch())

    assert result.status == 503
    assert "Retry-After" in result.headers
    assert result.body["sinks"]["dead_letter"]["status"] == "disabled"
    assert "nowhere to go" in result.body["sinks"]["dead_letter"]["error"]


def test_bigquery_disabled_and_archive_ok_is_200() -> None:
    sinks = Fakes(bigquery=False)

    result = sinks.handle(mixed_batch())

    assert result.status == 200
    assert result.body["accepted"] == 3
    assert _status(result, "bigquery") == "disabled"
    assert _status(result, "gcs_archive") == "ok"
    assert sinks.journal == ["archive.write", "redis.write", "returned"]


def test_bigquery_disabled_and_archive_failed_is_503() -> None:
    sinks = Fakes(bigquery=False, archive_writes=never)

    result = sinks.handle(mixed_batch())

    assert result.status == 503
    assert "Retry-After" in result.headers
    assert _status(result, "gcs_archive") == "failed"
    assert _status(result, "redis") == "skipped"
    assert sinks.redis.calls == []


def test_bigquery_disabled_and_archive_partial_is_503() -> None:
    sinks = Fakes(bigquery=False, archive_writes=_is_order)

    result = sinks.handle(mixed_batch())

    assert result.status == 503
    assert _status(result, "gcs_archive") == "partial"
    assert result.log["events_not_stored"] == 2


def test_archive_failure_alone_keeps_200_but_is_reported() -> None:
    sinks = Fakes(archive_writes=never)

    result = sinks.handle(mixed_batch())

    assert result.status == 200
    assert result.body["accepted"] == 3
    assert _status(result, "gcs_archive") == "failed"
    assert result.log["sinks"]["gcs_archive"]["status"] == "failed"
    assert result.log["sinks"]["gcs_archive"]["error"] == "Forbidden: 403 no access"
    assert result.log["severity"] == "WARNING"
    assert len(sinks.redis.calls) == 1


@pytest.mark.parametrize(
    ("events", "expected_status"),
    [
        pytest.param(mixed_batch, 200, id="all-valid"),
        pytest.param(lambda: [*mixed_batch(), factory.search(R, query="")], 207, id="some-bad"),
    ],
)
def test_redis_failure_never_changes_the_status(
    events: Callable[[], list[Any]], expected_status: int
) -> None:
    sinks = Fakes(redis_ok=False)

    result = sinks.handle(events())

    assert result.status == expected_status
    assert _status(result, "redis") == "failed"
    assert result.headers == {}


def test_redis_disabled_is_reported_as_disabled() -> None:
    sinks = Fakes(redis=False)

    result = sinks.handle(mixed_batch())

    assert result.status == 200
    assert _status(result, "redis") == "disabled"


def test_archive_and_dead_letter_share_the_request_clock_and_id() -> None:
    sinks = Fakes(bq_fails=_is_order)

    sinks.handle(mixed_batch())

    assert sinks.archive.requests[0] == Request(REQUEST_ID, R)
    assert sinks.dead_letter.requests[0] == Request(REQUEST_ID, R)
    # The stored rows carry the same receive time.
    assert all(row.data["received_at"] == factory.iso(R) for row in sinks.archive.calls[0])


# --------------------------------------------------------------------------------------------
# Accepted means durable: order of side effects
# --------------------------------------------------------------------------------------------


def test_dead_letter_is_written_before_the_answer_and_redis_only_after_durability() -> None:
    sinks = Fakes(bq_fails=_is_order)

    result = sinks.handle(mixed_batch())

    assert result.status == 200
    assert sinks.journal == [
        "bigquery.write",
        "dead_letter.write",
        "archive.write",
        "redis.write",
        "returned",
    ]


def test_nothing_reaches_redis_when_durability_is_not_confirmed() -> None:
    sinks = Fakes(bq_fails=always, dead_letter_writes=never)

    result = sinks.handle(mixed_batch())

    assert result.status == 503
    assert sinks.journal == ["bigquery.write", "dead_letter.write", "archive.write", "returned"]


def test_no_dead_letter_write_when_bigquery_took_everything() -> None:
    sinks = Fakes()

    sinks.handle(mixed_batch())

    assert sinks.journal == ["bigquery.write", "archive.write", "redis.write", "returned"]


# --------------------------------------------------------------------------------------------
# Log contract
# --------------------------------------------------------------------------------------------

# Log-based metrics and alert policies select on these exact names: renaming one breaks an
# alert without any error, so they are spelled out here rather than read from the module.
LOG_KEYS = {
    "severity",
    "message",
    "request_id",
    "http_status",
    "latency_ms",
    "events_received",
    "events_accepted",
    "events_rejected",
    "events_dead_lettered",
    "events_not_stored",
    "events_suppressed",
    "by_event_type",
    "sinks",
    "bigquery_insert_requests",
    "bigquery_retries",
    "bigquery_failed_rows",
    "rejected_rules",
    "events_not_archived",
    "archive_buffered",
    "archive_objects_written",
    "archive_lines_written",
    "archive_lines_kept",
    "archive_lines_dropped",
    "circuits",
    "capture_mode",
    "bigquery_error_reasons",
}


def test_capture_log_names_are_pinned() -> None:
    assert log_fields.CAPTURE_MESSAGE == "capture"
    assert {
        log_fields.SEVERITY,
        log_fields.REQUEST_ID,
        log_fields.HTTP_STATUS,
        log_fields.LATENCY_MS,
        log_fields.EVENTS_RECEIVED,
        log_fields.EVENTS_ACCEPTED,
        log_fields.EVENTS_REJECTED,
        log_fields.EVENTS_DEAD_LETTERED,
        log_fields.EVENTS_NOT_STORED,
        log_fields.EVENTS_SUPPRESSED,
        log_fields.BY_EVENT_TYPE,
        log_fields.SINKS,
        log_fields.BIGQUERY_INSERT_REQUESTS,
        log_fields.BIGQUERY_RETRIES,
        log_fields.BIGQUERY_FAILED_ROWS,
        log_fields.REJECTED_RULES,
        log_fields.EVENTS_NOT_ARCHIVED,
        log_fields.ARCHIVE_BUFFERED,
        log_fields.ARCHIVE_OBJECTS_WRITTEN,
        log_fields.ARCHIVE_LINES_WRITTEN,
        log_fields.ARCHIVE_LINES_KEPT,
        log_fields.ARCHIVE_LINES_DROPPED,
        log_fields.CIRCUITS,
        log_fields.CAPTURE_MODE,
        log_fields.BIGQUERY_ERROR_REASONS,
    } == LOG_KEYS - {"message"}
    assert (
        log_fields.SINK_BIGQUERY,
        log_fields.SINK_DEAD_LETTER,
        log_fields.SINK_GCS_ARCHIVE,
        log_fields.SINK_REDIS,
    ) == ("bigquery", "dead_letter", "gcs_archive", "redis")


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="200"),
        pytest.param({"bq_fails": _is_order}, id="dead-lettered"),
        pytest.param({"bq_fails": always, "dead_letter_writes": never}, id="503"),
        pytest.param({"bigquery": False, "redis": False}, id="bigquery-off"),
    ],
)
def test_log_line_has_exactly_the_contract_keys(options: dict[str, Any]) -> None:
    sinks = Fakes(**options)

    result = sinks.handle([*mixed_batch(), factory.search(R, query="")])

    assert set(result.log) == LOG_KEYS
    assert result.log["message"] == "capture"
    assert result.log["http_status"] == result.status
    assert result.log["request_id"] == REQUEST_ID
    assert set(result.log["sinks"]) <= {"bigquery", "dead_letter", "gcs_archive", "redis"}
    assert isinstance(result.log["latency_ms"], float)
    # Plain JSON values only: a tuple or a Decimal would not survive the round trip.
    assert json.loads(json.dumps(result.log)) == result.log


def test_log_line_counts() -> None:
    sinks = Fakes(bq_fails=_is_order)
    events: list[Any] = [
        *mixed_batch(),
        factory.search(R, query=""),
        factory.search(R, user_id="has space", anonymous_id="a_1", query=""),
        factory.envelope("purchase", R),
    ]

    result = sinks.handle(events)
    log = result.log

    assert result.status == 207
    assert log["severity"] == "WARNING"
    assert (log["events_received"], log["events_accepted"], log["events_rejected"]) == (6, 3, 3)
    assert (log["events_dead_lettered"], log["events_not_stored"]) == (1, 0)
    assert (log["bigquery_insert_requests"], log["bigquery_retries"]) == (2, 1)
    assert log["bigquery_failed_rows"] == 1
    assert log["rejected_rules"] == {
        "string_too_short": 2,
        "string_pattern_mismatch": 1,
        "literal_error": 1,
    }
    assert log["by_event_type"]["search"] == {"received": 3, "accepted": 1, "rejected": 2}
    assert log["by_event_type"]["order_placed"] == {"received": 1, "accepted": 1}
    assert log["sinks"]["bigquery"]["status"] == "partial"
    assert log["sinks"]["dead_letter"] == result.body["sinks"]["dead_letter"]


SECRET_EMAIL = "jane.doe.secret@example.com"
SECRET_PHONE = "+44 7700 900123"


def test_log_never_contains_rejected_values() -> None:
    sinks = Fakes()
    events: list[Any] = [
        factory.search(R),
        # Each is rejected, and each holds personal data the client should not have sent.
        factory.search(R, user_id=SECRET_EMAIL),
        factory.search(R, query=f"mail {SECRET_EMAIL} " + "x" * 600),
        factory.voice(R, transcript=5, detected_intent=SECRET_PHONE),
        factory.order(R, email=SECRET_EMAIL),
        factory.session(R, referrer=SECRET_EMAIL * 100),
    ]

    result = sinks.handle(events)

    assert result.log["events_rejected"] == 5
    text = json.dumps(result.log)
    assert SECRET_EMAIL not in text
    assert "jane.doe" not in text
    assert SECRET_PHONE not in text
    assert "7700" not in text


def test_log_never_contains_an_unknown_event_type_value() -> None:
    sinks = Fakes()
    events: list[Any] = [factory.search(R), factory.envelope(SECRET_EMAIL, R)]

    result = sinks.handle(events)

    assert result.status == 207
    assert SECRET_EMAIL not in json.dumps(result.log)


# --------------------------------------------------------------------------------------------
# One budget per request
# --------------------------------------------------------------------------------------------


def test_bigquery_gets_its_share_of_the_budget_and_the_dead_letters_the_rest(clock: Clock) -> None:
    sinks = Fakes(bq_down=True, budget_seconds=BUDGET, monotonic=clock)

    result = sinks.handle(mixed_batch())

    assert result.status == 200
    [bigquery] = sinks.bigquery.requests
    [dead_letter] = sinks.dead_letter.requests
    [archive] = sinks.archive.requests
    assert bigquery.expires_at == pytest.approx(clock.now + BIGQUERY_SHARE * BUDGET)
    assert dead_letter.expires_at == archive.expires_at == pytest.approx(clock.now + BUDGET)


def test_without_a_budget_only_each_sinks_own_deadline_applies() -> None:
    sinks = Fakes()

    sinks.handle(mixed_batch())

    assert sinks.bigquery.requests[0].expires_at is None


def test_a_sink_deadline_is_cut_to_what_is_left_of_the_request() -> None:
    request = Request("r", RECEIVED_AT, expires_at=100.0)

    assert request.seconds_left(20.0, now=90.0) == 10.0
    assert request.seconds_left(5.0, now=90.0) == 5.0
    assert request.seconds_left(5.0, now=130.0) == 0.0
    assert request.until(95.0).expires_at == 95.0
    assert request.until(120.0).expires_at == 100.0


# --------------------------------------------------------------------------------------------
# Circuit breakers
# --------------------------------------------------------------------------------------------


def test_after_repeated_bigquery_failures_requests_go_straight_to_the_dead_letters(
    clock: Clock,
) -> None:
    sinks = Fakes(bq_down=True, breakers=breakers(clock), monotonic=clock)
    for _ in range(2):
        assert sinks.handle(mixed_batch()).status == 200
    assert len(sinks.bigquery.calls) == 2

    result = sinks.handle(mixed_batch())

    assert result.status == 200  # durable in the dead-letter area
    assert len(sinks.bigquery.calls) == 2  # not asked again while the circuit is open
    assert _status(result, "bigquery") == "skipped"
    assert result.body["sinks"]["bigquery"]["error"].startswith("circuit open")
    assert result.log["circuits"]["bigquery"] == "open"
    assert result.log["events_dead_lettered"] == 3
    assert result.log["severity"] == "WARNING"


def test_after_the_cool_down_one_request_probes_bigquery_and_closes_the_circuit(
    clock: Clock,
) -> None:
    sinks = Fakes(bq_down=True, breakers=breakers(clock), monotonic=clock)
    for _ in range(2):
        sinks.handle(mixed_batch())
    sinks.bigquery.down = False
    clock.now += 30

    result = sinks.handle(mixed_batch())

    assert len(sinks.bigquery.calls) == 3
    assert _status(result, "bigquery") == "ok"
    assert result.log["circuits"]["bigquery"] == "closed"


def test_invalid_rows_are_no_outage_and_never_open_the_circuit(clock: Clock) -> None:
    sinks = Fakes(bq_fails=always, breakers=breakers(clock), monotonic=clock)

    for _ in range(5):
        sinks.handle(mixed_batch())

    assert len(sinks.bigquery.calls) == 5
    assert (
        capture_answer(sinks.pipeline.handle(mixed_batch(), True)).log["circuits"]["bigquery"]
        == "closed"
    )


def test_with_both_backends_failing_the_503_comes_at_once(clock: Clock) -> None:
    sinks = Fakes(
        bq_down=True,
        dead_letter_writes=never,
        archive_writes=never,
        breakers=breakers(clock),
        monotonic=clock,
    )
    for _ in range(2):
        assert sinks.handle(mixed_batch()).status == 503

    result = sinks.handle(mixed_batch())

    assert result.status == 503
    assert result.headers == {"Retry-After": "10"}
    # Neither backend was tried: the request answers without waiting for either.
    assert len(sinks.bigquery.calls) == 2
    assert len(sinks.dead_letter.calls) == 2
    assert len(sinks.archive.calls) == 2
    assert result.log["circuits"] == {"bigquery": "open", "gcs": "open", "redis": "closed"}


def test_a_redis_outage_opens_its_own_circuit_only(clock: Clock) -> None:
    sinks = Fakes(redis_ok=False, breakers=breakers(clock), monotonic=clock)
    for _ in range(2):
        sinks.handle(mixed_batch())

    result = sinks.handle(mixed_batch())

    assert result.status == 200
    assert len(sinks.redis.calls) == 2
    assert _status(result, "redis") == "skipped"
    assert result.log["circuits"] == {"bigquery": "closed", "gcs": "closed", "redis": "open"}


# --------------------------------------------------------------------------------------------
# The archive beside BigQuery, and its gaps
# --------------------------------------------------------------------------------------------


def test_events_the_archive_missed_are_counted_as_a_gap() -> None:
    sinks = Fakes(archive_writes=lambda row: row.table != "orders")

    result = sinks.handle(mixed_batch())

    assert result.status == 200
    assert result.log["events_not_archived"] == 1
    assert _status(result, "gcs_archive") == "partial"


def test_nothing_is_a_gap_when_the_archive_is_switched_off_or_the_answer_is_503() -> None:
    off = Fakes(archive=False).handle(mixed_batch())
    refused = Fakes(bq_down=True, dead_letter_writes=never, archive_writes=never).handle(
        mixed_batch()
    )

    assert off.log["events_not_archived"] == 0
    assert refused.status == 503 and refused.log["events_not_archived"] == 0


@pytest.mark.parametrize("grouped_commit", [False, True], ids=["own-rows", "due-buffer"])
def test_the_archive_is_written_beside_bigquery_not_after_it(grouped_commit: bool) -> None:
    # BigQuery's write finishes only once the archive's has begun: it does so only if the two
    # run side by side (one after the other, the wait would run out).
    archive_began = threading.Event()
    wall = WallClock(R)
    with ThreadPoolExecutor(max_workers=2) as executor:
        flush = 60.0 if grouped_commit else 0.0
        sinks = Fakes(executor=executor, clock=wall, archive_flush_seconds=flush)
        if grouped_commit:
            # Buffered while BigQuery needs no waiting; then a request finds the buffer due.
            sinks.handle(mixed_batch())
            wall.now += dt.timedelta(seconds=60)
        archive_write, bigquery_write = sinks.archive.write, sinks.bigquery.write

        def archive(rows: Sequence[Row], request: Request) -> SinkResult:
            archive_began.set()
            return archive_write(rows, request)

        def bigquery(rows: Sequence[Row], request: Request) -> SinkResult:
            assert archive_began.wait(timeout=10), "the archive waited for BigQuery"
            return bigquery_write(rows, request)

        sinks.archive.write = archive  # type: ignore[method-assign]
        sinks.bigquery.write = bigquery  # type: ignore[method-assign]

        result = sinks.handle(mixed_batch())

    assert result.status == 200
    assert _status(result, "bigquery") == _status(result, "gcs_archive") == "ok"
    assert result.body["sinks"]["gcs_archive"]["rows"] == 3


def test_a_probe_that_raises_counts_as_a_failure_and_never_holds_the_circuit(clock: Clock) -> None:
    # Found in review: an exception between allow() and record() left the probe out for good,
    # and the backend was never tried again.
    sinks = Fakes(bq_down=True, breakers=breakers(clock), monotonic=clock)
    for _ in range(2):
        sinks.handle(mixed_batch())
    clock.now += 30

    def raising(rows: Sequence[Row], request: Request) -> SinkResult:
        raise KeyError("index")

    sinks.bigquery.write = raising  # type: ignore[method-assign]
    with pytest.raises(KeyError):
        sinks.handle(mixed_batch())
    del sinks.bigquery.write  # the fake's own write again
    sinks.bigquery.down = False
    clock.now += 30

    result = sinks.handle(mixed_batch())

    assert _status(result, "bigquery") == "ok"
    assert result.log["circuits"] == {"bigquery": "closed", "gcs": "closed", "redis": "closed"}


# --------------------------------------------------------------------------------------------
# The pipeline in archive-only mode
# --------------------------------------------------------------------------------------------


def archive_only(clock: Clock | None = None, *answers: bytes | Exception | None) -> ModeReader:
    return ModeReader(Source(*(answers or (ARCHIVE_DOC,))), clock=clock or Clock())


def test_archive_only_accepts_once_archived_without_any_bigquery_write() -> None:
    sinks = Fakes(mode=archive_only())
    events = mixed_batch()

    result = sinks.handle(events)

    assert result.status == 200
    assert result.body["accepted"] == len(events)
    assert sinks.bigquery.calls == []
    assert sinks.dead_letter.calls == []
    assert [row.event_id for row in sinks.archive.calls[0]] == [e["event_id"] for e in events]
    # Archived, then the cache, then the answer.
    assert sinks.journal == ["archive.write", "redis.write", "returned"]
    assert result.body["sinks"]["bigquery"]["status"] == "disabled"
    assert result.body["sinks"]["gcs_archive"]["status"] == "ok"
    assert result.log[log_fields.CAPTURE_MODE] == "archive_only"
    assert log_fields.CAPTURE_MODE_ERROR not in result.log
    assert result.log["events_not_archived"] == 0


def test_the_same_pipeline_streams_when_the_document_says_stream() -> None:
    """The negative control: the journal above would show a BigQuery write if one were made."""
    sinks = Fakes(mode=archive_only(None, STREAM_DOC))

    result = sinks.handle(mixed_batch())

    assert result.status == 200
    assert "bigquery.write" in sinks.journal
    assert result.log[log_fields.CAPTURE_MODE] == "stream"


@pytest.mark.parametrize(
    "archive_writes",
    [pytest.param(never, id="archive-down"), pytest.param(_is_order, id="one-not-archived")],
)
def test_archive_only_is_503_when_the_archive_fails_and_never_falls_back_to_bigquery(
    archive_writes: Callable[..., bool],
) -> None:
    sinks = Fakes(mode=archive_only(), archive_writes=archive_writes)

    result = sinks.handle(mixed_batch())

    assert result.status == 503
    assert "Retry-After" in result.headers
    assert result.body["accepted"] == 0
    assert sinks.bigquery.calls == []
    assert sinks.dead_letter.calls == []
    assert result.body["sinks"]["redis"]["status"] == "skipped"
    [archived] = sinks.archive.calls
    lost = [row for row in archived if not archive_writes(row)]
    assert lost
    assert result.log["events_not_stored"] == len(lost)
    assert result.log["severity"] == "ERROR"
    assert result.log[log_fields.CAPTURE_MODE] == "archive_only"


def test_the_log_line_says_when_the_mode_could_not_be_read(clock: Clock) -> None:
    mode = archive_only(clock, ARCHIVE_DOC, TimeoutError("read timed out"))
    sinks = Fakes(mode=mode)
    sinks.handle(mixed_batch())
    clock.now += MODE_TTL_SECONDS

    sinks.journal.clear()

    result = sinks.handle(mixed_batch())

    # Unconfirmed, archive-only is not kept: the request streams, and says why.
    assert result.status == 200
    assert "bigquery.write" in sinks.journal
    assert result.log[log_fields.CAPTURE_MODE] == "stream"
    assert result.log[log_fields.CAPTURE_MODE_ERROR] == (
        "TimeoutError: capture mode unreadable, streaming"
    )


def test_archive_only_with_rejections_is_207_and_still_no_bigquery_write() -> None:
    sinks = Fakes(mode=archive_only())

    result = sinks.handle([*mixed_batch(), factory.search(factory.RECEIVED_AT, query="")])

    assert result.status == 207
    assert sinks.bigquery.calls == []


# --------------------------------------------------------------------------------------------
# The archive's group commit
# --------------------------------------------------------------------------------------------

FLUSH = 60.0


def grouped(**options: Any) -> tuple[Fakes, WallClock]:
    wall = WallClock(R)
    return Fakes(clock=wall, archive_flush_seconds=FLUSH, **options), wall


def _archived_ids(sinks: Fakes) -> list[str]:
    return [row.event_id for call in sinks.archive.calls for row in call]


def test_streaming_buffers_durable_rows_and_the_first_request_past_due_writes_them() -> None:
    sinks, wall = grouped()
    first, second = mixed_batch(), mixed_batch()

    early = sinks.handle(first)
    wall.now += dt.timedelta(seconds=FLUSH - 1)
    not_yet = sinks.handle(mixed_batch())
    wall.now += dt.timedelta(seconds=1)
    due = sinks.handle(second)

    assert early.status == not_yet.status == due.status == 200
    assert early.log["archive_buffered"] == 3 and early.log["events_not_archived"] == 0
    assert not_yet.log["archive_lines_written"] == 0
    # The due request writes what was buffered before it; its own rows wait for the next.
    [written] = sinks.archive.calls
    assert [row.event_id for row in written] == [e["event_id"] for e in first] + [
        row.event_id for row in sinks.bigquery.calls[1]
    ]
    assert due.log["archive_objects_written"] == 1
    assert due.log["archive_lines_written"] == 6
    assert due.log["archive_buffered"] == 3
    assert _status(due, "gcs_archive") == "ok"


def test_rows_of_a_request_answered_503_never_join_the_buffer() -> None:
    sinks, wall = grouped(bq_down=True, dead_letter_writes=never)

    refused = sinks.handle(mixed_batch())
    sinks.bigquery.down = False
    wall.now += dt.timedelta(seconds=FLUSH)
    accepted = sinks.handle(mixed_batch())

    assert refused.status == 503
    assert refused.log["archive_buffered"] == 0
    assert accepted.status == 200 and sinks.archive.calls == []
    assert accepted.log["archive_buffered"] == 3


def test_a_failed_write_keeps_the_lines_for_the_next_and_says_so() -> None:
    sinks, wall = grouped()
    first = mixed_batch()
    sinks.handle(first)
    wall.now += dt.timedelta(seconds=FLUSH)
    sinks.archive.down = True

    failed = sinks.handle(mixed_batch())
    sinks.archive.down = False
    retried = sinks.handle(mixed_batch())

    # The request is durable in BigQuery: the archive's failure does not fail it.
    assert failed.status == 200
    assert _status(failed, "gcs_archive") == "failed"
    assert failed.log["archive_lines_kept"] == 3
    assert failed.log["archive_buffered"] == 6
    assert failed.log["events_not_archived"] == 0
    assert retried.log["archive_lines_written"] == 6
    assert _archived_ids(sinks)[-6:][:3] == [e["event_id"] for e in first]


def test_lines_older_than_the_maximum_age_are_dropped_for_the_backfill_not_written() -> None:
    sinks, wall = grouped()
    sinks.handle(mixed_batch())
    wall.now += dt.timedelta(seconds=MAX_LINE_AGE_SECONDS + 1)

    late = sinks.handle(mixed_batch())

    assert sinks.archive.calls == []
    assert late.log["archive_lines_dropped"] == 3
    assert late.log["archive_buffered"] == 3


def test_a_line_just_inside_the_maximum_age_is_still_written() -> None:
    # The negative control of the test above: the same wait, a second shorter.
    sinks, wall = grouped()
    sinks.handle(mixed_batch())
    wall.now += dt.timedelta(seconds=MAX_LINE_AGE_SECONDS)

    result = sinks.handle(mixed_batch())

    assert result.log["archive_lines_dropped"] == 0
    assert result.log["archive_lines_written"] == 3


def test_archive_only_writes_the_buffer_with_its_own_rows_and_waits_for_them(
    clock: Clock,
) -> None:
    mode = ModeReader(Source(STREAM_DOC, ARCHIVE_DOC), clock=clock)
    sinks, _ = grouped(mode=mode)
    streamed, archived = mixed_batch(), mixed_batch()
    sinks.handle(streamed)
    clock.now += MODE_TTL_SECONDS

    result = sinks.handle(archived)

    assert result.status == 200
    assert result.log[log_fields.CAPTURE_MODE] == "archive_only"
    assert _archived_ids(sinks) == [e["event_id"] for e in streamed + archived]
    assert result.log["archive_buffered"] == 0
    assert sinks.journal[-3:] == ["archive.write", "redis.write", "returned"]


def test_archive_only_does_not_keep_its_own_rows_when_the_write_fails(clock: Clock) -> None:
    mode = ModeReader(Source(STREAM_DOC, ARCHIVE_DOC), clock=clock)
    sinks, _ = grouped(mode=mode)
    sinks.handle(mixed_batch())
    clock.now += MODE_TTL_SECONDS
    sinks.archive.down = True

    result = sinks.handle(mixed_batch())

    # The client resends its own rows after the 503; the streamed ones wait for the next write.
    assert result.status == 503
    assert result.log["archive_lines_kept"] == 3
    assert result.log["archive_buffered"] == 3


def test_the_shutdown_flush_writes_whatever_is_buffered() -> None:
    sinks, _ = grouped()
    events = mixed_batch()
    sinks.handle(events)

    flushed = sinks.pipeline.flush_archive()

    assert _archived_ids(sinks) == [e["event_id"] for e in events]
    assert (flushed.objects_written, flushed.lines_written, flushed.buffered) == (1, 3, 0)
    assert sinks.pipeline.flush_archive().lines_written == 0
