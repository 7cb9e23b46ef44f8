"""ingest.mode_reader: how capture reads the cost guard's control document, at most once per TTL.

``ModeReader`` runs on an injected clock and a read function that counts its calls, so "once per
TTL" is a number of reads, not a timing. The document itself is
tests/unit/contracts/test_capture_mode.py, the pipeline in archive-only mode
tests/unit/ingest/test_pipeline.py. The whole switch on the real emulators is
tests/integration/test_cost_guard.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from event_capture.contracts.capture_mode import CaptureMode, ControlState
from event_capture.contracts.timing import MODE_TTL_SECONDS
from event_capture.ingest.mode_reader import RETRY_SECONDS, ModeReader
from tests.fakes.clock import Clock

STREAM_DOC = ControlState(mode=CaptureMode.STREAM).to_json().encode()
ARCHIVE_DOC = ControlState(mode=CaptureMode.ARCHIVE_ONLY).to_json().encode()
# Long enough for a thread that is not stuck; the tests never wait it out.
WAIT = 10.0

Answer = bytes | None | Exception


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
    failure: Exception | bytes, name: str, clock: Clock
) -> None:
    """An instance that cannot read the switch back must not go on archiving alone past the
    window the guard loads: unconfirmed, archive-only is not kept."""
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


def test_callers_during_a_read_use_the_mode_last_read_and_do_not_read_again(clock: Clock) -> None:
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
