# mypy: disable-error-code="no-untyped-call"
# (google.api_core exception constructors carry no annotations)
"""The Write API's appends (ingest/write_api.py) on fake streams typed against ``AppendStream``:
one stream per table, reopened when idle or closed under an append, answers in insertAll's
shape, and the BigQuery sink retrying and dead-lettering through them as through insertAll."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.api_core import exceptions as gexc

from event_capture.ingest.proto_rows import TableEncoder
from event_capture.ingest.retry import BackoffPolicy, Timing
from event_capture.ingest.row import Request, Row
from event_capture.ingest.sinks.bigquery import BigQuerySink
from event_capture.ingest.sinks.result import FailureKind
from event_capture.ingest.validation import validate_events
from event_capture.ingest.write_api import (
    IDLE_LIMIT_SECONDS,
    AppendStream,
    PendingAppend,
    RowError,
    RowsRejectedError,
    StreamClosedError,
    WriteApiAppends,
    default_stream,
)
from tests.fakes.clock import START, Clock
from tests.unit import event_factory as factory

R = factory.RECEIVED_AT
TABLE = "proj-1.events.searches"

# What a fake stream answers to one append: success (None), an error to raise, or row errors.
Answer = BaseException | list[RowError] | None


@dataclass
class Done:
    answer: Answer

    def result(self, timeout: float) -> Any:
        if isinstance(self.answer, BaseException):
            raise self.answer
        if self.answer:
            raise RowsRejectedError(self.answer)
        return object()


@dataclass
class FakeStream:
    table: str
    script: list[Answer]
    sent: list[list[bytes]] = field(default_factory=list)
    closed: bool = False
    # Set by a test to play the server closing the stream between appends.
    dropped: bool = False

    @property
    def active(self) -> bool:
        return not (self.closed or self.dropped)

    def send(self, rows: Sequence[bytes]) -> PendingAppend:
        if self.closed:
            raise StreamClosedError("closed")
        self.sent.append(list(rows))
        return Done(self.script.pop(0) if self.script else None)

    def close(self) -> None:
        self.closed = True


@dataclass
class Streams:
    """Opens fake streams; each new one takes the next script."""

    scripts: list[list[Answer]] = field(default_factory=list)
    opened: list[FakeStream] = field(default_factory=list)

    def __call__(self, table: str, encoder: TableEncoder) -> AppendStream:
        stream = FakeStream(table, self.scripts.pop(0) if self.scripts else [])
        self.opened.append(stream)
        return stream


def search_rows(count: int) -> list[Row]:
    rows, rejections = validate_events([factory.search(R) for _ in range(count)], R)
    assert rejections == []
    return rows


def appends(streams: Streams, clock: Clock) -> WriteApiAppends:
    return WriteApiAppends(streams, clock=clock)


def test_the_default_stream_of_a_table() -> None:
    assert (
        default_stream("example.com:app.events.searches")
        == "projects/example.com:app/datasets/events/tables/searches/streams/_default"
    )


def test_appends_share_one_stream_per_table_until_it_sits_idle_too_long() -> None:
    clock, streams = Clock(), Streams()
    writes = appends(streams, clock)

    writes.insert_all(TABLE, search_rows(2), timeout=5)
    clock.now += IDLE_LIMIT_SECONDS  # at the limit: still used
    writes.insert_all(TABLE, search_rows(1), timeout=5)
    assert len(streams.opened) == 1

    clock.now += IDLE_LIMIT_SECONDS + 0.001
    writes.insert_all(TABLE, search_rows(1), timeout=5)

    assert len(streams.opened) == 2
    assert streams.opened[0].closed  # closed before the server would
    assert [len(sent) for sent in streams.opened[0].sent] == [2, 1]
    assert [len(sent) for sent in streams.opened[1].sent] == [1]


def test_each_table_has_its_own_stream() -> None:
    streams = Streams()
    writes = appends(streams, Clock())

    writes.insert_all(TABLE, search_rows(1), timeout=5)
    writes.insert_all("proj-1.events.orders", [], timeout=5)

    assert [s.table for s in streams.opened] == [TABLE, "proj-1.events.orders"]


def test_a_stream_closed_under_an_append_is_reopened_and_the_append_sent_again_once() -> None:
    streams = Streams([[StreamClosedError("inactive for 600 seconds")]])
    writes = appends(streams, Clock())

    assert writes.insert_all(TABLE, search_rows(3), timeout=5) == []

    assert len(streams.opened) == 2
    assert streams.opened[0].closed
    assert [len(sent) for sent in streams.opened[1].sent] == [3]


def test_a_stream_closed_twice_in_a_row_is_the_sinks_to_retry() -> None:
    streams = Streams([[StreamClosedError("a")], [StreamClosedError("b")]])
    writes = appends(streams, Clock())

    with pytest.raises(StreamClosedError, match="b"):
        writes.insert_all(TABLE, search_rows(1), timeout=5)
    # Negative control: the stream the server closed between appends is replaced silently.
    streams.opened[-1].dropped = True
    assert writes.insert_all(TABLE, search_rows(1), timeout=5) == []
    assert len(streams.opened) == 3


def test_a_failed_stream_is_never_used_again() -> None:
    streams = Streams([[gexc.from_grpc_status(grpc.StatusCode.UNAVAILABLE, "down")]])
    writes = appends(streams, Clock())

    with pytest.raises(gexc.ServiceUnavailable):
        writes.insert_all(TABLE, search_rows(1), timeout=5)
    writes.insert_all(TABLE, search_rows(1), timeout=5)

    assert len(streams.opened) == 2
    assert streams.opened[0].closed


def test_rejected_rows_come_back_as_insert_alls_invalid_and_stopped() -> None:
    streams = Streams([[[RowError(1, "Field result_count: bad")]]])
    writes = appends(streams, Clock())

    errors = writes.insert_all(TABLE, search_rows(3), timeout=5)

    assert [(e["index"], [x["reason"] for x in e["errors"]]) for e in errors] == [
        (0, ["stopped"]),
        (1, ["invalid"]),
        (2, ["stopped"]),
    ]
    assert errors[1]["errors"][0]["message"] == "Field result_count: bad"
    # A refusal says nothing against the stream: it is kept.
    writes.insert_all(TABLE, search_rows(1), timeout=5)
    assert len(streams.opened) == 1


def test_a_row_that_cannot_be_encoded_is_invalid_and_nothing_is_sent() -> None:
    import dataclasses

    streams = Streams()
    writes = appends(streams, Clock())
    rows = search_rows(2)
    rows[0] = dataclasses.replace(rows[0], json=rows[0].json[:-1] + ',"shoe_size":44}')

    errors = writes.insert_all(TABLE, rows, timeout=5)

    assert [e["errors"][0]["reason"] for e in errors] == ["invalid", "stopped"]
    assert "shoe_size" in errors[0]["errors"][0]["message"]
    assert streams.opened == []


# --- the sink over the Write API: retries and dead letters as with insertAll ------------------


def sink_over(
    streams: Streams, clock: Clock, *, deadline: float = 60.0
) -> tuple[BigQuerySink, WriteApiAppends]:
    writes = WriteApiAppends(streams, clock=clock)
    sink = BigQuerySink(
        lambda: writes,
        project="proj-1",
        dataset="events",
        deadline_seconds=deadline,
        policy=BackoffPolicy(initial_seconds=0.1, max_seconds=1.0),
        timing=Timing(clock, clock.sleep, lambda: 1.0),
    )
    return sink, writes


def test_the_sink_dead_letters_a_rejected_row_and_stores_the_rest() -> None:
    clock = Clock()
    streams = Streams([[[RowError(0, "Field total: not a number")]]])
    sink, _ = sink_over(streams, clock)
    rows = search_rows(3)

    result = sink.write(rows, Request("req", R))

    assert [row.event_id for row in result.stored] == [r.event_id for r in rows[1:]]
    assert [(f.row.event_id, f.failure.kind) for f in result.failed] == [
        (rows[0].event_id, FailureKind.INVALID)
    ]
    # The second append carried only the two rows the refusal stopped, without a wait.
    assert [len(sent) for sent in streams.opened[0].sent] == [3, 2]
    assert clock.waits == []


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(gexc.from_grpc_status(grpc.StatusCode.UNAVAILABLE, "x"), id="UNAVAILABLE"),
        pytest.param(
            gexc.from_grpc_status(grpc.StatusCode.DEADLINE_EXCEEDED, "x"), id="DEADLINE_EXCEEDED"
        ),
        pytest.param(TimeoutError("no answer in time"), id="timeout"),
    ],
)
def test_the_sink_retries_a_transient_failure_on_a_new_stream(error: BaseException) -> None:
    clock = Clock()
    streams = Streams([[error]])
    sink, _ = sink_over(streams, clock)

    result = sink.write(search_rows(2), Request("req", R))

    assert len(result.stored) == 2 and result.failed == []
    assert result.retries == 1
    assert len(clock.waits) == 1  # one backoff, as after a failed insertAll
    assert len(streams.opened) == 2


def test_the_sink_gives_up_at_once_on_a_permanent_failure() -> None:
    clock = Clock()
    denied = gexc.from_grpc_status(grpc.StatusCode.PERMISSION_DENIED, "no updateData")
    streams = Streams([[denied]])
    sink, _ = sink_over(streams, clock)

    result = sink.write(search_rows(2), Request("req", R))

    assert result.stored == []
    assert {f.failure.kind for f in result.failed} == {FailureKind.UNDELIVERED}
    assert "no updateData" in (result.error or "")
    assert clock.waits == []


def test_the_sink_gives_up_on_a_backend_that_stays_down_at_its_deadline() -> None:
    clock = Clock()
    down: Callable[[], BaseException] = lambda: gexc.from_grpc_status(  # noqa: E731
        grpc.StatusCode.UNAVAILABLE, "down"
    )
    streams = Streams([[down()] for _ in range(100)])
    sink, _ = sink_over(streams, clock, deadline=3.0)

    result = sink.write(search_rows(1), Request("req", R))

    assert result.stored == [] and len(result.failed) == 1
    assert "deadline of 3s exceeded" in result.failed[0].failure.detail
    assert result.retries == 5  # waits of 0.1, 0.2, 0.4, 0.8, 1.0: the next would overrun
    assert clock.now - START <= 3.0


# --- GrpcStream on a fake channel: answers in order, refusals, a call that fails -------------


class FakeCall:
    """The bidi call: answers each request with ``answer(request)`` from a thread of its own,
    as gRPC's own request consumer does; ``fail`` ends it with an error."""

    def __init__(self, requests: Any, answer: Callable[[Any], Any]) -> None:
        import queue
        import threading

        self.sent: list[Any] = []
        self._out: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._answer = answer

        def consume() -> None:
            for request in requests:
                self.sent.append(request)
                self._out.put(answer(request))

        threading.Thread(target=consume, daemon=True).start()

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        item = self._out.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def fail(self, error: BaseException) -> None:
        self._out.put(error)

    def cancel(self) -> None:
        self._out.put(RawCancelled())


class RawCancelled(grpc.RpcError):  # type: ignore[misc]  # grpc ships no types
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.CANCELLED


@dataclass
class FakeChannel:
    answer: Callable[[Any], Any]
    calls: list[FakeCall] = field(default_factory=list)
    metadata: list[Any] = field(default_factory=list)

    def stream_stream(self, path: str, **_: Any) -> Callable[..., FakeCall]:
        assert path == "/google.cloud.bigquery.storage.v1.BigQueryWrite/AppendRows"

        def start(requests: Any, metadata: Any) -> FakeCall:
            self.metadata.append(metadata)
            call = FakeCall(requests, self.answer)
            self.calls.append(call)
            return call

        return start


def response(**fields: Any) -> Any:
    from google.cloud.bigquery_storage_v1 import types

    return types.AppendRowsResponse.pb()(**fields)


def grpc_stream(channel: FakeChannel) -> Any:
    from event_capture.ingest.proto_rows import table_encoders
    from event_capture.ingest.write_api import GrpcStream

    return GrpcStream(channel, TABLE, table_encoders()["searches"])


def test_the_first_request_names_the_stream_and_carries_the_schema_the_others_only_rows() -> None:
    channel = FakeChannel(lambda request: response())
    stream = grpc_stream(channel)

    for rows in ([b"a"], [b"b", b"c"]):
        stream.send(rows).result(timeout=5)

    first, second = channel.calls[0].sent
    assert first.write_stream == default_stream(TABLE)
    assert first.proto_rows.writer_schema.proto_descriptor.name == "SearchesRecord"
    assert list(first.proto_rows.rows.serialized_rows) == [b"a"]
    assert not second.write_stream and not second.proto_rows.HasField("writer_schema")
    assert list(second.proto_rows.rows.serialized_rows) == [b"b", b"c"]
    assert channel.metadata == [
        (("x-goog-request-params", f"write_stream={default_stream(TABLE)}"),)
    ]


def test_row_errors_and_a_failed_append_settle_their_own_append_only() -> None:
    answers = iter(
        [
            response(row_errors=[{"index": 1, "code": 1, "message": "bad total"}]),
            response(error={"code": grpc.StatusCode.UNAVAILABLE.value[0], "message": "busy"}),
            response(),
        ]
    )
    stream = grpc_stream(FakeChannel(lambda request: next(answers)))
    pending = [stream.send([b"x", b"y"]), stream.send([b"z"]), stream.send([b"w"])]

    with pytest.raises(RowsRejectedError) as rejected:
        pending[0].result(timeout=5)
    assert rejected.value.errors == [RowError(1, "bad total")]
    with pytest.raises(gexc.ServiceUnavailable, match="busy"):
        pending[1].result(timeout=5)
    pending[2].result(timeout=5)
    assert stream.active


def test_a_call_that_fails_fails_every_pending_append_and_the_stream() -> None:
    import threading

    hold = threading.Event()
    channel = FakeChannel(lambda request: hold.wait(5) and response())
    stream = grpc_stream(channel)
    pending = [stream.send([b"a"]), stream.send([b"b"])]

    channel.calls[0].fail(RawUnavailable())

    for append in pending:
        with pytest.raises(gexc.ServiceUnavailable):
            append.result(timeout=5)
    assert not stream.active
    with pytest.raises(StreamClosedError):
        stream.send([b"c"])
    hold.set()


def test_closing_the_stream_fails_its_pending_appends_as_closed() -> None:
    import threading

    hold = threading.Event()
    stream = grpc_stream(FakeChannel(lambda request: hold.wait(5) and response()))
    pending = stream.send([b"a"])

    stream.close()

    with pytest.raises(StreamClosedError):
        pending.result(timeout=5)
    hold.set()


class RawUnavailable(grpc.RpcError, grpc.Call):  # type: ignore[misc]  # grpc ships no types
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "connection reset"

    def trailing_metadata(self) -> Any:
        return None

    def initial_metadata(self) -> Any:
        return None

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> Any:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Any) -> bool:
        return False
