"""ingest.suppression: the users whose events capture drops, read at most once per TTL, and the
list last read kept through a failed read. The pipeline's drop is tested here too, on fake sinks;
on the real functions and emulators, tests/integration/test_forget.py."""

from event_capture.contracts.forget import subject_digest, suppression_document
from event_capture.ingest.mode_reader import RETRY_SECONDS
from event_capture.ingest.suppression import SuppressionReader
from tests.fakes.clock import Clock
from tests.unit import event_factory as factory
from tests.unit.ingest.test_mode_reader import Source
from tests.unit.ingest.test_pipeline import Fakes, R

GONE = "u_objected"
LISTED = suppression_document(frozenset({subject_digest(GONE)}), R)
EMPTY = suppression_document(frozenset(), R)


def test_the_list_is_read_once_per_ttl_and_a_change_is_seen_after_it() -> None:
    clock, source = Clock(), Source(LISTED, EMPTY)
    suppressed = SuppressionReader(source, ttl_seconds=30, clock=clock)

    for _ in range(20):
        assert suppressed() == {subject_digest(GONE)}
    assert source.reads == 1
    clock.now += 30
    assert suppressed() == frozenset()
    assert source.reads == 2


def test_a_failed_read_keeps_the_list_last_read_and_is_tried_again_soon() -> None:
    clock = Clock()
    source = Source(LISTED, ConnectionError("down"), EMPTY)
    suppressed = SuppressionReader(source, ttl_seconds=30, clock=clock)
    assert suppressed() == {subject_digest(GONE)}

    clock.now += 30
    assert suppressed() == {subject_digest(GONE)}
    assert suppressed.last_error is not None and "ConnectionError" in suppressed.last_error
    clock.now += RETRY_SECONDS
    assert suppressed() == frozenset()
    assert suppressed.last_error is None


def test_no_list_suppresses_nobody() -> None:
    assert SuppressionReader(Source(None), clock=Clock())() == frozenset()


def test_a_suppressed_users_events_are_accepted_counted_and_reach_no_sink() -> None:
    sinks = Fakes(suppressed=SuppressionReader(Source(LISTED), clock=Clock()))
    kept = factory.search(R, user_id="u_other")
    dropped = [factory.search(R, user_id=GONE), factory.order(R, user_id=GONE)]

    result = sinks.handle([kept, *dropped])

    assert result.status == 200
    assert result.body["accepted"] == 3
    assert result.body["suppressed"] == 2
    assert result.log["events_suppressed"] == 2
    stored = {row.user_id for row in sinks.bigquery.rows}
    assert stored == {"u_other"}
    assert {row.user_id for row in sinks.archive.rows} <= {"u_other"}


def test_a_request_of_only_suppressed_events_is_answered_200_and_stores_nothing() -> None:
    sinks = Fakes(suppressed=SuppressionReader(Source(LISTED), clock=Clock()))

    result = sinks.handle([factory.search(R, user_id=GONE)])

    assert (result.status, result.body["accepted"], result.body["suppressed"]) == (200, 1, 1)
    assert sinks.bigquery.rows == []


def test_an_unreadable_list_is_said_in_the_log_line_and_the_list_last_read_still_drops() -> None:
    clock = Clock()
    reader = SuppressionReader(Source(LISTED, ConnectionError("down")), ttl_seconds=30, clock=clock)
    sinks = Fakes(suppressed=reader)
    assert "suppression_error" not in sinks.handle([factory.search(R, user_id=GONE)]).log

    clock.now += 30
    result = sinks.handle([factory.search(R, user_id=GONE)])

    assert result.log["suppression_error"].startswith("ConnectionError: suppression list")
    assert result.body["suppressed"] == 1
    assert sinks.bigquery.rows == []
