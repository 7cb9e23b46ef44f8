"""The create-only NDJSON writer: retries inside its deadline, and what a 412 means.

A 412 on a retry is our own earlier attempt having landed (its answer was lost), so the object
is there and the write is done; a 412 on the first attempt is a name clash and an error, unless
the caller says an earlier run may have written the same object (replay).
"""

from __future__ import annotations

import pytest
from google.api_core import exceptions as gexc

from event_capture.ingest.retry import BackoffPolicy, Timing
from event_capture.ingest.sinks.gcs_objects import NdjsonWriter
from event_capture.platform.api_transport import ApiError
from event_capture.platform.curl_http import CurlTimeoutError
from tests.fakes.clock import Clock
from tests.fakes.storage import FakeBucket, FakeStorageClient, Fault
from tests.unit import event_factory as factory

R = factory.RECEIVED_AT


def writer(
    bucket: FakeBucket, clock: Clock, deadline: float = 10.0
) -> tuple[NdjsonWriter, list[int]]:
    made: list[int] = []

    def client() -> FakeStorageClient:
        made.append(1)
        return FakeStorageClient(bucket)

    timing = Timing(clock, clock.sleep, lambda: 1.0)
    return (
        NdjsonWriter(client, bucket="events", deadline_seconds=deadline, timing=timing),
        made,
    )


def unavailable() -> BaseException:
    error: BaseException = gexc.ServiceUnavailable("unavailable")  # type: ignore[no-untyped-call]
    return error


def test_lines_become_one_newline_terminated_object_created_only_if_absent() -> None:
    bucket, clock = FakeBucket(), Clock()
    w, made = writer(bucket, clock)

    assert w.create("archive/a.ndjson", ['{"a":1}', '{"b":2}']) == 0

    assert bucket.objects["archive/a.ndjson"].data == '{"a":1}\n{"b":2}\n'
    assert bucket.name == "events"
    assert made == [1]


def test_the_client_is_made_on_first_use_and_once() -> None:
    bucket, clock = FakeBucket(), Clock()
    w, made = writer(bucket, clock)
    assert made == []

    w.create("a", ["x"])
    w.create("b", ["y"])

    assert made == [1]


def test_a_transient_failure_is_retried_after_a_backoff() -> None:
    bucket, clock = (
        FakeBucket(faults={"upload": [Fault(unavailable()), Fault(unavailable())]}),
        Clock(),
    )
    w, _ = writer(bucket, clock)

    assert w.create("a", ["x"]) == 2

    assert clock.waits == pytest.approx([BackoffPolicy().cap(1), BackoffPolicy().cap(2)])
    assert bucket.objects["a"].data == "x\n"


def test_a_412_on_a_retry_means_the_lost_attempt_landed() -> None:
    # The first upload reaches the server but its answer is lost (a timeout); the retry then
    # finds the object there.
    bucket = FakeBucket(faults={"upload": [Fault(TimeoutError("read timed out"), land=True)]})
    w, _ = writer(bucket, Clock())

    assert w.create("a", ["x"]) == 1

    assert bucket.objects["a"].data == "x\n"
    assert bucket.journal == [("upload", "a")]


def test_a_412_on_the_first_attempt_is_a_clash_and_raises() -> None:
    bucket = FakeBucket()
    w, _ = writer(bucket, Clock())
    w.create("a", ["first"])

    with pytest.raises(gexc.PreconditionFailed):
        w.create("a", ["second"])

    assert bucket.objects["a"].data == "first\n"


def test_exists_ok_accepts_an_object_an_earlier_run_wrote() -> None:
    bucket = FakeBucket()
    w, _ = writer(bucket, Clock())
    w.create("a", ["first"])

    assert w.create("a", ["first"], exists_ok=True) == 0
    assert bucket.objects["a"].data == "first\n"


def test_a_permanent_failure_is_not_retried() -> None:
    forbidden = gexc.Forbidden("no access")  # type: ignore[no-untyped-call]
    bucket, clock = FakeBucket(faults={"upload": [Fault(forbidden)]}), Clock()
    w, _ = writer(bucket, clock)

    with pytest.raises(gexc.Forbidden):
        w.create("a", ["x"])

    assert clock.waits == []
    assert bucket.objects == {}


def test_retries_stop_at_the_deadline() -> None:
    faults = [Fault(unavailable()) for _ in range(50)]
    bucket, clock = FakeBucket(faults={"upload": faults}), Clock()
    w, _ = writer(bucket, clock, deadline=1.0)

    with pytest.raises(gexc.ServiceUnavailable):
        w.create("a", ["x"])

    assert sum(clock.waits) < 1.0
    assert len(clock.waits) == 3  # 0.1 + 0.2 + 0.4 fit in a second; 0.8 more would not
    assert bucket.objects == {}


class ScriptedUploads:
    """``gcs_upload.ObjectUploads``: raises the scripted errors in turn, then lands."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls: list[tuple[str, str, bytes, str]] = []

    def create(
        self, bucket: str, name: str, data: bytes, *, content_type: str, timeout: float
    ) -> None:
        self.calls.append((bucket, name, data, content_type))
        if self.errors:
            raise self.errors.pop(0)


def uploads_writer(
    uploads: ScriptedUploads, clock: Clock, bucket: FakeBucket | None = None
) -> NdjsonWriter:
    """Uploads through ``uploads``; the library's client only reads (``bucket``, or none)."""

    def library() -> FakeStorageClient:
        if bucket is None:
            raise AssertionError("the library must not be used for uploads")
        return FakeStorageClient(bucket)

    timing = Timing(clock, clock.sleep, lambda: 1.0)
    return NdjsonWriter(
        library, bucket="events", deadline_seconds=10, uploads=lambda: uploads, timing=timing
    )


def test_given_uploads_they_create_the_object_instead_of_the_library() -> None:
    uploads = ScriptedUploads()

    assert uploads_writer(uploads, Clock()).create("a", ['{"a":"é"}', '{"b":2}']) == 0

    assert uploads.calls == [
        ("events", "a", '{"a":"é"}\n{"b":2}\n'.encode(), "application/x-ndjson")
    ]


def test_uploads_follow_the_same_retry_and_412_rules(clock: Clock) -> None:
    # A 503, then an attempt that landed but whose answer was lost, then the 412 that says so.
    uploads = ScriptedUploads(
        ApiError(503, "unavailable", []),
        CurlTimeoutError("curl 28: timed out"),
        ApiError(412, "conditionNotMet", []),
    )

    # Two retries; the 412 on the second is the timed-out attempt having landed.
    assert uploads_writer(uploads, clock).create("a", ["x"]) == 2

    assert len(clock.waits) == 2
    assert len(uploads.calls) == 3


def test_a_412_on_the_first_attempt_over_an_object_of_other_bytes_is_a_clash() -> None:
    bucket = FakeBucket()
    bucket.upload("a", "someone else's\n", {})
    uploads = ScriptedUploads(ApiError(412, "conditionNotMet", []))

    with pytest.raises(ApiError):
        uploads_writer(uploads, Clock(), bucket).create("a", ["x"])


def test_a_412_on_the_first_attempt_over_these_very_bytes_is_our_own_write() -> None:
    # libcurl sent the upload twice (a kept-alive connection closed before the answer): the
    # first copy landed, the second found it.
    bucket = FakeBucket()
    bucket.upload("a", '{"a":"é"}\n', {})
    uploads = ScriptedUploads(ApiError(412, "conditionNotMet", []))

    assert uploads_writer(uploads, Clock(), bucket).create("a", ['{"a":"é"}']) == 0
    assert len(uploads.calls) == 1


def test_a_412_whose_object_cannot_be_read_is_a_clash() -> None:
    bucket = FakeBucket(faults={"get": [Fault(unavailable())]})
    bucket.upload("a", "x\n", {})
    uploads = ScriptedUploads(ApiError(412, "conditionNotMet", []))

    with pytest.raises(ApiError):
        uploads_writer(uploads, Clock(), bucket).create("a", ["x"])
