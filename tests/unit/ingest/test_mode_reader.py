"""Capture's side of the cost guard: the control document, the mode reader and archive-only mode.

``ModeReader`` runs on an injected clock and a read function that counts its calls, so "once per
TTL" is a number of reads, not a timing. The pipeline runs on the fake sinks of
tests/unit/test_pipeline.py, whose shared journal shows which sinks were called, and in which
order. The whole switch on the real emulators is tests/integration/test_cost_guard.py.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable

import pydantic
import pytest

from event_capture.contracts import log_fields
from event_capture.contracts.capture_mode import (
    CaptureMode,
    ControlState,
    PendingLoad,
    Period,
    read_mode,
)
from event_capture.contracts.timing import MODE_TTL_SECONDS
from event_capture.ingest.config import ConfigError, load_config
from event_capture.ingest.mode_reader import RETRY_SECONDS, ModeReader
from tests.unit import event_factory as factory
from tests.unit.ingest.test_pipeline import Fakes, _is_order, _never, mixed_batch

STREAM_DOC = ControlState(mode=CaptureMode.STREAM).to_json().encode()
ARCHIVE_DOC = ControlState(mode=CaptureMode.ARCHIVE_ONLY).to_json().encode()
# Long enough for a thread that is not stuck; the tests never wait it out.
WAIT = 10.0

Answer = bytes | None | Exception


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Source:
    """The control object: answers in turn (the last one repeats), each read counted."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.reads = 0

    def __call__(self) -> bytes | None:
        self.reads += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def reader(source: Callable[[], bytes | None], clock: Clock, **options: float) -> ModeReader:
    return ModeReader(source, clock=clock, **options)


# --------------------------------------------------------------------------------------------
# ModeReader
# --------------------------------------------------------------------------------------------


def test_the_object_is_read_once_per_ttl() -> None:
    clock, source = Clock(), Source(ARCHIVE_DOC, STREAM_DOC)
    mode = reader(source, clock)

    assert mode() is CaptureMode.ARCHIVE_ONLY
    for _ in range(50):
        assert mode() is CaptureMode.ARCHIVE_ONLY
    clock.now += MODE_TTL_SECONDS - 0.001
    assert mode() is CaptureMode.ARCHIVE_ONLY
    assert source.reads == 1

    clock.now += 0.001
    assert mode() is CaptureMode.STREAM
    assert mode() is CaptureMode.STREAM
    assert source.reads == 2
    assert mode.last_error is None


def test_an_idle_instance_reads_nothing() -> None:
    source = Source(ARCHIVE_DOC)

    reader(source, Clock())

    assert source.reads == 0


def test_the_ttl_is_configurable() -> None:
    clock, source = Clock(), Source(STREAM_DOC)
    mode = reader(source, clock, ttl_seconds=0.5)

    mode()
    clock.now += 0.4
    mode()
    assert source.reads == 1
    clock.now += 0.1
    mode()
    assert source.reads == 2


def test_a_missing_object_is_stream() -> None:
    clock, source = Clock(), Source(None)
    mode = reader(source, clock)

    assert mode() is CaptureMode.STREAM
    assert mode.last_error is None


def test_an_object_deleted_after_a_trip_means_stream_again() -> None:
    clock, source = Clock(), Source(ARCHIVE_DOC, None)
    mode = reader(source, clock)

    assert mode() is CaptureMode.ARCHIVE_ONLY
    clock.now += MODE_TTL_SECONDS

    assert mode() is CaptureMode.STREAM
    assert mode.last_error is None


@pytest.mark.parametrize(
    ("failure", "name"),
    [
        pytest.param(TimeoutError("read timed out"), "TimeoutError", id="timeout"),
        pytest.param(PermissionError("403"), "PermissionError", id="forbidden"),
        pytest.param(b"{not json", "JSONDecodeError", id="not-json"),
        pytest.param(b'{"mode": "sideways"}', "ValueError", id="unknown-mode"),
        pytest.param(b'{"reason": "no mode"}', "KeyError", id="no-mode"),
        pytest.param(b'["archive_only"]', "TypeError", id="not-an-object"),
    ],
)
def test_an_unreadable_object_means_stream_until_a_read_confirms_archive_only_again(
    failure: Exception | bytes, name: str
) -> None:
    """An instance that cannot read the switch back must not go on archiving alone past the
    window the guard loads: unconfirmed, archive-only is not kept."""
    clock = Clock()
    source = Source(ARCHIVE_DOC, failure, ARCHIVE_DOC)
    mode = reader(source, clock)
    assert mode() is CaptureMode.ARCHIVE_ONLY
    clock.now += MODE_TTL_SECONDS

    assert mode() is CaptureMode.STREAM
    assert mode.last_error == f"{name}: capture mode unreadable, streaming"
    assert source.reads == 2

    # Retried after RETRY_SECONDS, well before a TTL; the error stays reported meanwhile.
    clock.now += RETRY_SECONDS - 0.001
    assert mode() is CaptureMode.STREAM
    assert source.reads == 2
    assert mode.last_error is not None
    clock.now += 0.001
    assert mode() is CaptureMode.ARCHIVE_ONLY
    assert source.reads == 3
    assert mode.last_error is None


def test_an_unreadable_object_at_start_is_stream() -> None:
    clock, source = Clock(), Source(ConnectionError("refused"))
    mode = reader(source, clock)

    assert mode() is CaptureMode.STREAM
    assert mode.last_error == "ConnectionError: capture mode unreadable, streaming"


def test_a_ttl_shorter_than_the_retry_interval_is_the_retry_interval() -> None:
    clock, source = Clock(), Source(OSError("down"))
    mode = reader(source, clock, ttl_seconds=0.5)

    mode()
    clock.now += 0.5
    mode()

    assert source.reads == 2


def test_callers_during_a_read_use_the_mode_last_read_and_do_not_read_again() -> None:
    clock = Clock()
    entered, release = threading.Event(), threading.Event()
    reads: list[str] = []
    answers = [STREAM_DOC, ARCHIVE_DOC]

    def slow_read() -> bytes | None:
        reads.append(threading.current_thread().name)
        if len(reads) == 2:
            entered.set()
            assert release.wait(WAIT)
        return answers[len(reads) - 1]

    mode = reader(slow_read, clock)
    assert mode() is CaptureMode.STREAM
    clock.now += MODE_TTL_SECONDS
    seen: list[CaptureMode] = []
    first = threading.Thread(target=lambda: seen.append(mode()), name="first")
    first.start()
    assert entered.wait(WAIT)

    # While the first caller waits on the read, the others answer at once with the old mode.
    others = [mode() for _ in range(5)]
    release.set()
    first.join(WAIT)

    assert not first.is_alive()
    assert others == [CaptureMode.STREAM] * 5
    assert seen == [CaptureMode.ARCHIVE_ONLY]
    assert reads == ["MainThread", "first"]
    assert mode() is CaptureMode.ARCHIVE_ONLY
    assert len(reads) == 2


def test_a_read_is_fresh_from_when_it_ended() -> None:
    """A slow read does not eat into the TTL: freshness starts once the answer is in."""
    clock, source = Clock(), Source(STREAM_DOC)

    def read_taking_two_seconds() -> bytes | None:
        clock.now += 2.0
        return source()

    mode = reader(read_taking_two_seconds, clock)
    mode()
    clock.now += MODE_TTL_SECONDS - 0.001
    mode()

    assert source.reads == 1


# --------------------------------------------------------------------------------------------
# The control document
# --------------------------------------------------------------------------------------------

SINCE = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
PERIOD = Period(budget_id="budget-7f3a", interval_start=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
EVERY_FIELD = ControlState(
    mode=CaptureMode.ARCHIVE_ONLY,
    reason="105% of the budget spent, threshold 100%",
    updated_at=SINCE + dt.timedelta(seconds=3),
    archive_only_since=SINCE,
    tripped=PERIOD,
    overridden=Period(budget_id="operator", interval_start=SINCE - dt.timedelta(days=40)),
    paused_queries=(
        "projects/p/locations/eu/transferConfigs/a",
        "projects/p/locations/eu/transferConfigs/b",
    ),
    pending_load=PendingLoad(
        received_from=SINCE - dt.timedelta(minutes=1),
        received_until=SINCE + dt.timedelta(days=11),
        not_before=SINCE + dt.timedelta(days=11, seconds=70),
    ),
)


@pytest.mark.parametrize(
    "state", [pytest.param(ControlState(), id="default"), pytest.param(EVERY_FIELD, id="full")]
)
def test_the_control_document_round_trips_through_json(state: ControlState) -> None:
    text = state.to_json()

    assert ControlState.from_json(text) == state
    assert ControlState.from_json(text.encode()) == state
    assert read_mode(text) is state.mode


def test_fields_left_unset_are_left_out_of_the_document() -> None:
    assert json.loads(ControlState().to_json()) == {
        "mode": "stream",
        "reason": "never switched",
        "paused_queries": [],
        "queries_paused": False,
    }


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"mode": "stream", "surprise": 1}', id="top-level"),
        pytest.param(
            '{"tripped": {"budget_id": "b", "interval_start": "2026-11-01T00:00:00Z", "x": 1}}',
            id="in-period",
        ),
        pytest.param(
            '{"pending_load": {"received_from": "2026-11-01T00:00:00Z",'
            ' "received_until": "2026-11-02T00:00:00Z", "not_before": "2026-11-02T00:01:00Z",'
            ' "rows": 3}}',
            id="in-pending-load",
        ),
    ],
)
def test_the_guard_refuses_a_document_with_keys_it_does_not_know(text: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="extra_forbidden"):
        ControlState.from_json(text)


def test_capture_reads_only_the_mode_so_a_newer_document_does_not_stop_it() -> None:
    assert read_mode('{"mode": "archive_only", "added_later": true}') is CaptureMode.ARCHIVE_ONLY


def test_the_document_is_immutable() -> None:
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        EVERY_FIELD.mode = CaptureMode.STREAM  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# The pipeline in archive-only mode
# --------------------------------------------------------------------------------------------


def archive_only(clock: Clock | None = None, *answers: Answer) -> ModeReader:
    return ModeReader(Source(*(answers or (ARCHIVE_DOC,))), clock=clock or Clock())


def test_archive_only_accepts_once_archived_without_any_bigquery_write() -> None:
    sinks = Fakes(mode=archive_only())
    events = mixed_batch()

    result = sinks.handle(events)

    assert result.status == 200
    assert result.body["accepted"] == len(events)
    assert sinks.bigquery.calls == []
    assert sinks.dead_letter.calls == []
    assert [row.event_id for row in sinks.archive.calls[0][0]] == [e["event_id"] for e in events]
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
    [pytest.param(_never, id="archive-down"), pytest.param(_is_order, id="one-not-archived")],
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
    [(archived, _)] = sinks.archive.calls
    lost = [row for row in archived if not archive_writes(row)]
    assert lost
    assert result.log["events_not_stored"] == len(lost)
    assert result.log["severity"] == "ERROR"
    assert result.log[log_fields.CAPTURE_MODE] == "archive_only"


def test_the_log_line_says_when_the_mode_could_not_be_read() -> None:
    clock = Clock()
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
# Configuration
# --------------------------------------------------------------------------------------------

MINIMAL = {"GCP_PROJECT": "shop-analytics", "GCS_BUCKET": "shop-events"}


@pytest.mark.parametrize(
    "switched_off",
    [
        pytest.param({"GCS_ENABLED": "false"}, id="gcs"),
        pytest.param({"BIGQUERY_ENABLED": "0"}, id="bigquery"),
    ],
)
def test_a_mode_bucket_needs_both_bigquery_and_the_archive(switched_off: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({**MINIMAL, "CAPTURE_MODE_BUCKET": "shop-control", **switched_off})

    assert str(raised.value).startswith("CAPTURE_MODE_BUCKET: ")
    assert "BIGQUERY_ENABLED and GCS_ENABLED" in str(raised.value)


def test_the_mode_bucket_and_ttl_are_read() -> None:
    config = load_config(
        {**MINIMAL, "CAPTURE_MODE_BUCKET": "shop-control", "CAPTURE_MODE_TTL_SECONDS": "5"}
    )

    assert (config.capture_mode_bucket, config.capture_mode_ttl_seconds) == ("shop-control", 5.0)
    assert load_config(MINIMAL).capture_mode_bucket is None
    assert load_config(MINIMAL).capture_mode_ttl_seconds == MODE_TTL_SECONDS


@pytest.mark.parametrize("ttl", ["0", "601", "soon"])
def test_a_bad_mode_ttl_names_the_variable(ttl: str) -> None:
    with pytest.raises(ConfigError, match=r"^CAPTURE_MODE_TTL_SECONDS: "):
        load_config({**MINIMAL, "CAPTURE_MODE_TTL_SECONDS": ttl})
