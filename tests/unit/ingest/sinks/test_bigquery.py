"""Tests for the BigQuery sink with a scripted fake client and a fake clock.

The fake client answers each insertAll call from a script (an exception to raise, per-row
errors to return, or success) and records what it was sent; the fake clock's ``sleep`` records
the backoff waits and moves the clock, so retries, jitter and the deadline are checked exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from event_capture.ingest.insert_all import insert_all_body
from event_capture.ingest.retry import BackoffPolicy, Timing
from event_capture.ingest.row import Request, Row
from event_capture.ingest.sinks.bigquery import BigQuerySink
from event_capture.ingest.sinks.result import FailureKind, SinkResult
from event_capture.ingest.validation import validate_events
from tests.fakes.clock import START, Clock
from tests.unit import event_factory as factory

R = factory.RECEIVED_AT
PROJECT, DATASET = "proj-1", "events_ds"

RowErrors = list[dict[str, Any]]
Answer = BaseException | RowErrors | Callable[["Call"], RowErrors]


class TooManyCalls(BaseException):
    """Not an Exception, so the sink cannot swallow it: the test fails loudly."""


@dataclass
class Call:
    table: str
    json_rows: list[dict[str, Any]]
    row_ids: list[str]
    skip_invalid_rows: bool
    ignore_unknown_values: bool
    timeout: float
    at: float


@dataclass
class FakeClient:
    """Answers insertAll from a script; records each call as read back from the real body."""

    clock: Clock
    script: list[Answer] = field(default_factory=list)
    # Seconds every call takes on the fake clock.
    latency: float = 0.0
    # What to answer once the script is used up; None means success.
    then: Answer | None = None
    max_calls: int = 200
    calls: list[Call] = field(default_factory=list)

    def insert_all(
        self, table: str, rows: Sequence[Row], *, timeout: float
    ) -> Sequence[dict[str, Any]]:
        body = json.loads(insert_all_body(rows))
        call = Call(
            table,
            [item["json"] for item in body["rows"]],
            [item["insertId"] for item in body["rows"]],
            body["skipInvalidRows"],
            body["ignoreUnknownValues"],
            timeout,
            self.clock.now,
        )
        self.calls.append(call)
        if len(self.calls) > self.max_calls:
            raise TooManyCalls(f"{len(self.calls)} calls")
        self.clock.now += self.latency
        answer = self.script.pop(0) if self.script else self.then
        if answer is None:
            return []
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(call)
        return answer


@dataclass
class Harness:
    clock: Clock
    client: FakeClient
    sink: BigQuerySink
    factory_calls: list[int]

    def insert(self, rows: Sequence[Row]) -> SinkResult:
        return self.sink.write(rows, Request("req", R))


def harness(
    script: list[Answer] | None = None,
    *,
    then: Answer | None = None,
    latency: float = 0.0,
    deadline: float = 600.0,
    rand: Callable[[], float] = lambda: 1.0,
    policy: BackoffPolicy | None = None,
) -> Harness:
    clock = Clock()
    client = FakeClient(clock, list(script or []), latency=latency, then=then)
    factory_calls: list[int] = []

    def make_client() -> FakeClient:
        factory_calls.append(1)
        return client

    extra: dict[str, Any] = {} if policy is None else {"policy": policy}
    sink = BigQuerySink(
        make_client,
        project=PROJECT,
        dataset=DATASET,
        deadline_seconds=deadline,
        timing=Timing(clock, clock.sleep, rand),
        **extra,
    )
    return Harness(clock, client, sink, factory_calls)


def search_rows(count: int) -> list[Row]:
    rows, rejections = validate_events([factory.search(R) for _ in range(count)], R)
    assert rejections == []
    return rows


def reasons(result: SinkResult) -> list[str]:
    return [f.failure.detail for f in result.failed]


def ids(rows: Sequence[Row]) -> list[str]:
    return [row.event_id for row in rows]


def row_error(index: int, reason: str, message: str = "", location: str = "") -> dict[str, Any]:
    return {
        "index": index,
        "errors": [{"reason": reason, "location": location, "debugInfo": "", "message": message}],
    }


def api_error(
    cls: type[gexc.GoogleAPICallError], message: str, errors: Sequence[Any] = ()
) -> gexc.GoogleAPICallError:
    """A google.api_core HTTP error (its constructors carry no annotations)."""
    return cls(message, errors=errors)


class CodedError(Exception):
    """The duck type the sink classifies: any exception with an HTTP ``code``."""

    def __init__(self, code: int, message: str = "coded") -> None:
        super().__init__(message)
        self.code = code


TRANSIENT: list[Any] = [
    pytest.param(lambda: api_error(gexc.TooManyRequests, "slow down"), id="429"),
    pytest.param(lambda: api_error(gexc.InternalServerError, "oops"), id="500"),
    pytest.param(lambda: api_error(gexc.BadGateway, "bad gateway"), id="502"),
    pytest.param(lambda: api_error(gexc.ServiceUnavailable, "unavailable"), id="503"),
    pytest.param(lambda: CodedError(503), id="503-duck-typed"),
    pytest.param(lambda: ConnectionError("connection reset by peer"), id="ConnectionError"),
    pytest.param(lambda: ConnectionRefusedError("refused"), id="ConnectionRefusedError"),
    pytest.param(lambda: TimeoutError("read timed out"), id="TimeoutError"),
    pytest.param(
        lambda: api_error(gexc.Forbidden, "rate", errors=[{"reason": "rateLimitExceeded"}]),
        id="403-rateLimitExceeded",
    ),
    pytest.param(
        lambda: api_error(gexc.Forbidden, "quota", errors=[{"reason": "quotaExceeded"}]),
        id="403-quotaExceeded",
    ),
]

PERMANENT: list[Any] = [
    # Not in google-cloud-bigquery's list (google-cloud-storage's has them: the GCS writer's).
    pytest.param(
        lambda: api_error(gexc.GatewayTimeout, "gateway timeout"), "gateway timeout", id="504"
    ),
    pytest.param(lambda: CodedError(408, "request timeout"), "request timeout", id="408"),
    pytest.param(
        lambda: api_error(gexc.BadRequest, "no such table field"), "no such table field", id="400"
    ),
    pytest.param(
        lambda: api_error(gexc.Unauthorized, "bad credentials"), "bad credentials", id="401"
    ),
    pytest.param(
        lambda: api_error(gexc.NotFound, "Not found: Table"), "Not found: Table", id="404"
    ),
    pytest.param(
        lambda: api_error(gexc.Forbidden, "access denied"), "access denied", id="403-plain"
    ),
    pytest.param(
        lambda: api_error(gexc.Forbidden, "denied", errors=[{"reason": "accessDenied"}]),
        "denied",
        id="403-accessDenied",
    ),
    pytest.param(lambda: CodedError(409, "conflict"), "conflict", id="409-duck-typed"),
    pytest.param(lambda: ValueError("cannot serialize"), "cannot serialize", id="ValueError"),
]


# --------------------------------------------------------------------------------------------
# What is sent
# --------------------------------------------------------------------------------------------


def test_rows_are_sent_with_event_ids_as_insert_ids_to_the_family_table() -> None:
    h = harness()
    rows = search_rows(3)

    result = h.insert(rows)

    assert len(h.client.calls) == 1
    call = h.client.calls[0]
    assert call.table == f"{PROJECT}.{DATASET}.searches"
    assert call.row_ids == ids(rows)
    assert call.json_rows == [row.data for row in rows]
    # All-or-nothing per request, unknown fields refused.
    assert call.skip_invalid_rows is False
    assert call.ignore_unknown_values is False
    assert 0 < call.timeout <= 30
    assert result.stored == rows
    assert (result.failed, result.requests, result.retries) == ([], 1, 0)
    assert h.clock.waits == []


def test_rows_of_different_tables_go_to_different_table_ids() -> None:
    events = factory.one_of_each(R)
    rows, _ = validate_events(events, R)
    h = harness()

    result = h.insert(rows)

    sent = {call.table: call.row_ids for call in h.client.calls}
    assert sent == {
        f"{PROJECT}.{DATASET}.searches": [rows[0].event_id],
        f"{PROJECT}.{DATASET}.product_interactions": ids(rows[1:5]),
        f"{PROJECT}.{DATASET}.orders": [rows[5].event_id],
        f"{PROJECT}.{DATASET}.sessions": ids(rows[6:8]),
        f"{PROJECT}.{DATASET}.voice_interactions": [rows[8].event_id],
        f"{PROJECT}.{DATASET}.identity_links": [rows[9].event_id],
    }
    assert sorted(ids(result.stored)) == sorted(ids(rows))


def test_1200_rows_are_sent_in_chunks_of_at_most_500() -> None:
    rows = search_rows(1200)
    h = harness()

    result = h.insert(rows)

    assert [len(call.row_ids) for call in h.client.calls] == [500, 500, 200]
    assert [i for call in h.client.calls for i in call.row_ids] == ids(rows)
    assert result.requests == 3
    assert len(result.stored) == 1200


def test_no_rows_means_no_request_and_no_client() -> None:
    h = harness()

    result = h.insert([])

    assert h.client.calls == []
    assert h.factory_calls == []
    assert (result.stored, result.failed, result.requests) == ([], [], 0)


def test_client_is_created_lazily_and_once() -> None:
    h = harness()
    assert h.factory_calls == []

    h.insert(search_rows(2))
    h.insert(search_rows(2))

    assert len(h.factory_calls) == 1
    assert len(h.client.calls) == 2


# --------------------------------------------------------------------------------------------
# Request-level failures
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make_error", TRANSIENT)
def test_transient_failures_are_retried_until_success(
    make_error: Callable[[], BaseException],
) -> None:
    h = harness([make_error(), make_error(), make_error()])
    rows = search_rows(4)

    result = h.insert(rows)

    assert len(h.client.calls) == 4
    assert all(call.row_ids == ids(rows) for call in h.client.calls)
    assert result.stored == rows
    assert result.failed == []
    assert (result.requests, result.retries) == (4, 3)
    assert len(h.clock.waits) == 3


@pytest.mark.parametrize(("make_error", "text"), PERMANENT)
def test_permanent_failures_are_not_retried(
    make_error: Callable[[], BaseException], text: str
) -> None:
    error = make_error()
    h = harness([error])
    rows = search_rows(3)

    result = h.insert(rows)

    assert len(h.client.calls) == 1
    assert h.clock.waits == []
    assert result.stored == []
    assert [f.row for f in result.failed] == rows
    for reason in reasons(result):
        assert type(error).__name__ in reason
        assert text in reason
    assert (result.requests, result.retries) == (1, 0)
    assert result.error is not None and text in result.error


def test_permanent_failure_after_transient_ones_stops_retrying() -> None:
    h = harness(
        [api_error(gexc.ServiceUnavailable, "busy"), api_error(gexc.BadRequest, "schema mismatch")]
    )
    rows = search_rows(2)

    result = h.insert(rows)

    assert len(h.client.calls) == 2
    assert len(h.clock.waits) == 1
    assert [f.row for f in result.failed] == rows
    assert all("schema mismatch" in reason for reason in reasons(result))


def test_a_failing_table_does_not_block_the_next_one() -> None:
    rows, _ = validate_events([factory.search(R), factory.order(R)], R)

    def answer(call: Call) -> RowErrors:
        if call.table.endswith(".searches"):
            raise api_error(gexc.NotFound, "Not found: Table searches")
        return []

    h = harness(then=answer)

    result = h.insert(rows)

    assert [row.table for row in result.stored] == ["orders"]
    assert [f.row.table for f in result.failed] == ["searches"]


# --------------------------------------------------------------------------------------------
# Backoff with full jitter
# --------------------------------------------------------------------------------------------


def _caps(initial: float, maximum: float, multiplier: float, count: int) -> list[float]:
    return [min(maximum, initial * multiplier ** (n - 1)) for n in range(1, count + 1)]


@pytest.mark.parametrize("rand_value", [1.0, 0.5, 0.0])
def test_default_backoff_is_full_jitter_doubling_from_100ms_capped_at_4s(
    rand_value: float,
) -> None:
    failures = 9
    h = harness([api_error(gexc.ServiceUnavailable, "busy")] * failures, rand=lambda: rand_value)

    result = h.insert(search_rows(1))

    expected = [rand_value * cap for cap in _caps(0.1, 4.0, 2.0, failures)]
    assert h.clock.waits == pytest.approx(expected)
    if rand_value == 1.0:
        assert h.clock.waits == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 4.0, 4.0, 4.0])
    assert len(result.stored) == 1
    assert result.retries == failures


def test_each_wait_draws_a_fresh_random_factor() -> None:
    draws = iter([0.9, 0.1, 0.5, 0.25])
    h = harness([api_error(gexc.TooManyRequests, "slow")] * 4, rand=lambda: next(draws))

    h.insert(search_rows(1))

    assert h.clock.waits == pytest.approx([0.9 * 0.1, 0.1 * 0.2, 0.5 * 0.4, 0.25 * 0.8])


def test_custom_policy_is_used() -> None:
    policy = BackoffPolicy(initial_seconds=0.5, max_seconds=5.0, multiplier=3.0)
    h = harness([api_error(gexc.InternalServerError, "x")] * 4, rand=lambda: 0.5, policy=policy)

    h.insert(search_rows(1))

    assert h.clock.waits == pytest.approx([0.5 * c for c in _caps(0.5, 5.0, 3.0, 4)])
    assert h.clock.waits == pytest.approx([0.25, 0.75, 2.25, 2.5])


def test_backoff_restarts_for_each_chunk() -> None:
    rows = search_rows(600)  # two chunks: 500 + 100
    h = harness(
        [
            api_error(gexc.ServiceUnavailable, "a"),
            api_error(gexc.ServiceUnavailable, "b"),
            [],
            api_error(gexc.BadGateway, "c"),
        ]
    )

    result = h.insert(rows)

    assert [len(c.row_ids) for c in h.client.calls] == [500, 500, 500, 100, 100]
    assert h.clock.waits == pytest.approx([0.1, 0.2, 0.1])
    assert len(result.stored) == 600


# --------------------------------------------------------------------------------------------
# Deadline
# --------------------------------------------------------------------------------------------


def test_retries_stop_at_the_deadline_and_no_wait_overruns_it() -> None:
    deadline = 5.0
    h = harness(
        then=api_error(gexc.ServiceUnavailable, "still down"), latency=1.0, deadline=deadline
    )
    start = h.clock.now
    rows = search_rows(3)

    result = h.insert(rows)

    assert result.stored == []
    assert [f.row for f in result.failed] == rows
    for reason in reasons(result):
        assert "deadline" in reason
        assert "5s" in reason
        assert "still down" in reason
    assert h.clock.waits, "expected at least one retry before giving up"
    for began, wait in zip(h.clock.began_at, h.clock.waits, strict=True):
        assert began + wait < start + deadline
    assert all(call.at < start + deadline for call in h.client.calls)
    # The request timeout never asks for more time than is left (beyond the 0.1 s floor).
    for call in h.client.calls:
        assert call.timeout <= max(0.1, start + deadline - call.at) + 1e-9
    # Gave up rather than looping: with 1 s calls at most five fit in 5 s.
    assert 2 <= len(h.client.calls) <= 5
    assert result.requests == len(h.client.calls)


def test_deadline_reached_between_attempts_fails_remaining_rows() -> None:
    # rand 0 means no waiting at all: only the calls' own latency consumes the budget,
    # so the loop ends on the "no time left" check rather than on a refused wait.
    deadline = 3.0
    h = harness(
        then=api_error(gexc.BadGateway, "flaky"), latency=1.0, deadline=deadline, rand=lambda: 0.0
    )
    rows = search_rows(2)

    result = h.insert(rows)

    assert len(h.client.calls) == 3
    assert [f.row for f in result.failed] == rows
    assert all("deadline" in reason for reason in reasons(result))


def test_deadline_is_shared_by_all_chunks_of_a_request() -> None:
    rows, _ = validate_events([factory.search(R), factory.order(R)], R)
    h = harness(
        then=api_error(gexc.ServiceUnavailable, "down"), latency=1.0, deadline=3.0, rand=lambda: 0.0
    )

    result = h.insert(rows)

    # The first table used the whole budget; the second is not even tried.
    assert {call.table for call in h.client.calls} == {f"{PROJECT}.{DATASET}.searches"}
    assert sorted(f.row.table for f in result.failed) == ["orders", "searches"]
    assert all("deadline" in reason for reason in reasons(result))


def test_long_deadline_lets_slow_retries_succeed() -> None:
    h = harness([api_error(gexc.ServiceUnavailable, "x")] * 3, latency=2.0, deadline=30.0)

    result = h.insert(search_rows(1))

    assert len(result.stored) == 1
    assert result.failed == []


# --------------------------------------------------------------------------------------------
# Per-row errors
# --------------------------------------------------------------------------------------------


def test_invalid_rows_fail_and_stopped_rows_are_retried_alone_at_once() -> None:
    rows = search_rows(5)
    first: RowErrors = [
        row_error(1, "invalid", "no such field: colour.", "colour"),
        *(row_error(i, "stopped") for i in (0, 2, 3, 4)),
    ]
    h = harness([first, []])

    result = h.insert(rows)

    assert len(h.client.calls) == 2
    second = h.client.calls[1]
    assert second.row_ids == ids([rows[0], rows[2], rows[3], rows[4]])
    assert second.json_rows == [rows[i].data for i in (0, 2, 3, 4)]
    # Stopped rows were never at fault: no backoff before resending them.
    assert h.clock.waits == []
    assert [f.row for f in result.failed] == [rows[1]]
    failure = result.failed[0].failure
    assert failure.kind is FailureKind.INVALID
    assert "colour" in failure.detail and "no such field: colour." in failure.detail
    assert ids(result.stored) == ids([rows[0], rows[2], rows[3], rows[4]])
    assert (result.requests, result.retries) == (2, 1)


def test_per_row_indexes_refer_to_the_rows_of_that_call() -> None:
    rows = search_rows(4)
    first: RowErrors = [
        row_error(0, "invalid", "bad a"),
        *(row_error(i, "stopped") for i in (1, 2, 3)),
    ]
    # The second call carries rows 1, 2, 3: its index 2 is rows[3].
    second: RowErrors = [
        row_error(2, "invalid", "bad d"),
        row_error(0, "stopped"),
        row_error(1, "stopped"),
    ]
    h = harness([first, second, []])

    result = h.insert(rows)

    assert [c.row_ids for c in h.client.calls] == [
        ids(rows),
        ids(rows[1:]),
        ids(rows[1:3]),
    ]
    assert {f.row.event_id: (f.failure.kind, f.failure.detail) for f in result.failed} == {
        rows[0].event_id: (FailureKind.INVALID, "row: bad a"),
        rows[3].event_id: (FailureKind.INVALID, "row: bad d"),
    }
    assert ids(result.stored) == ids(rows[1:3])


def test_rows_without_errors_in_a_partial_answer_count_as_inserted() -> None:
    rows = search_rows(3)
    h = harness([[row_error(2, "invalid", "too big")]])

    result = h.insert(rows)

    assert len(h.client.calls) == 1
    assert ids(result.stored) == ids(rows[:2])
    assert [f.row for f in result.failed] == [rows[2]]


def test_transient_per_row_errors_are_retried_after_a_backoff() -> None:
    rows = search_rows(3)
    h = harness([[row_error(1, "backendError", "try again")], []], rand=lambda: 1.0)

    result = h.insert(rows)

    assert [c.row_ids for c in h.client.calls] == [ids(rows), [rows[1].event_id]]
    assert h.clock.waits == pytest.approx([0.1])
    # The wait happened between the two calls.
    assert h.client.calls[0].at <= h.clock.began_at[0] <= h.client.calls[1].at
    assert sorted(ids(result.stored)) == sorted(ids(rows))
    assert result.failed == []
    assert result.retries == 1


def test_transient_per_row_errors_until_the_deadline_end_in_failed() -> None:
    rows = search_rows(2)
    h = harness(
        then=lambda call: [row_error(0, "backendError")],
        latency=1.0,
        deadline=4.0,
    )

    result = h.insert(rows)

    assert ids(result.stored) == [rows[1].event_id]
    assert [f.row for f in result.failed] == [rows[0]]
    failure = result.failed[0].failure
    assert failure.kind is FailureKind.UNDELIVERED
    assert "deadline" in failure.detail and "backendError" in failure.detail
    start = START
    for began, wait in zip(h.clock.began_at, h.clock.waits, strict=True):
        assert began + wait < start + 4.0


def test_an_answer_that_cannot_be_read_fails_its_rows_instead_of_raising() -> None:
    # Found in review: a malformed insertErrors entry raised out of the sink (a 500, and a
    # circuit probe never settled).
    rows = search_rows(2)
    h = harness([[{"errors": [{"reason": "invalid"}]}]])

    result = h.insert(rows)

    assert [f.row for f in result.failed] == rows
    assert {f.failure.kind for f in result.failed} == {FailureKind.UNDELIVERED}
    assert result.error is not None and result.error.startswith("unreadable insertAll answer")
