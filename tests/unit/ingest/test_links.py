"""ingest.links and its use by the pipeline: an event with both ids makes one link row per pair
and received day, stored with the events under the same durability rule; an instance remembers
the pairs it stored durably, so it writes each about once a day; links are not events, so the
answer's accepted count leaves them out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from event_capture.ingest.answer import capture_answer
from event_capture.ingest.links import LINK_EVENT_TYPE, LinkRecorder, link_event_id
from event_capture.ingest.pipeline import CapturePipeline
from event_capture.ingest.row import Row
from event_capture.ingest.sinks.result import Failure, FailureKind
from event_capture.ingest.validation import validate_events
from event_capture.schemas.identity_link import IdentityLink
from tests.fakes.sinks import FakeDeadLetter, FakeSink
from tests.unit import event_factory as factory

R = factory.RECEIVED_AT
DAY = R.date()
USER = "u_8f14e45f"  # event_factory's user
PHONE, LAPTOP = "a_phone", "a_laptop"


def rows(*events: dict[str, Any], at: dt.datetime = R) -> list[Row]:
    valid, rejections = validate_events(list(events), at)
    assert rejections == [], rejections
    return valid


def link_pairs(links: list[Row]) -> list[tuple[str | None, str | None]]:
    return [(link.anonymous_id, link.user_id) for link in links]


# --- LinkRecorder --------------------------------------------------------------------------------


def test_an_event_with_both_ids_makes_one_link_row() -> None:
    event = factory.search(R, anonymous_id=PHONE, source="ios")

    [link] = LinkRecorder().rows_for(rows(event), R, "collector:web")

    assert (link.table, link.event_type) == (IdentityLink.TABLE, LINK_EVENT_TYPE)
    assert (link.anonymous_id, link.user_id) == (PHONE, USER)
    assert link.event_id == link_event_id(PHONE, USER, DAY)
    data = link.data
    assert (data["occurred_at"], data["source"]) == (rows(event)[0].data["occurred_at"], "ios")
    assert data["arrived_via"] == "collector:web"
    assert set(data) <= {*IdentityLink.model_fields, "received_at", "arrived_via"}


def test_one_link_per_pair_however_many_events_carry_it() -> None:
    batch = rows(
        factory.search(R, anonymous_id=PHONE),
        factory.product_interaction(R, anonymous_id=PHONE),
        factory.search(R, anonymous_id=LAPTOP),
        factory.search(R, anonymous_id=PHONE, user_id="u_other"),
        factory.order(R, anonymous_id=PHONE),
    )

    links = LinkRecorder().rows_for(batch, R, None)

    assert link_pairs(links) == [(PHONE, USER), (LAPTOP, USER), (PHONE, "u_other")]
    assert len({link.event_id for link in links}) == 3


def test_events_with_one_id_make_no_link() -> None:
    batch = rows(factory.search(R), factory.search(R, user_id=None, anonymous_id=PHONE))

    assert LinkRecorder().rows_for(batch, R, None) == []


def test_identify_rows_are_links_already_and_make_no_other() -> None:
    identify = factory.envelope("identify", R, anonymous_id=PHONE, session_id=None)

    [row] = rows(identify)

    assert row.table == IdentityLink.TABLE
    assert LinkRecorder().rows_for([row], R, None) == []


def test_the_link_id_is_the_pairs_and_the_days() -> None:
    ids = {
        link_event_id(PHONE, USER, DAY),
        link_event_id(LAPTOP, USER, DAY),
        link_event_id(PHONE, "u_other", DAY),
        link_event_id(PHONE, USER, DAY + dt.timedelta(days=1)),
        # No pair may collide with another by where the ids are split.
        link_event_id(f"{PHONE}\n{USER}", "", DAY),
    }
    assert len(ids) == 5
    assert link_event_id(PHONE, USER, DAY) == link_event_id(PHONE, USER, DAY)


def test_a_remembered_pair_is_not_written_again_the_same_day() -> None:
    recorder = LinkRecorder()
    batch = rows(factory.search(R, anonymous_id=PHONE))
    first = recorder.rows_for(batch, R, None)

    recorder.remember(first, R)

    assert recorder.rows_for(batch, R + dt.timedelta(hours=7), None) == []
    other = rows(factory.search(R, anonymous_id=LAPTOP))
    assert link_pairs(recorder.rows_for(other, R, None)) == [(LAPTOP, USER)]


def test_a_pair_not_remembered_is_written_again() -> None:
    recorder = LinkRecorder()
    batch = rows(factory.search(R, anonymous_id=PHONE))
    first = recorder.rows_for(batch, R, None)

    again = recorder.rows_for(batch, R, None)

    assert [link.event_id for link in again] == [link.event_id for link in first]


def test_a_remembered_pair_is_written_again_the_next_day() -> None:
    recorder = LinkRecorder()
    recorder.remember(recorder.rows_for(rows(factory.search(R, anonymous_id=PHONE)), R, None), R)
    tomorrow = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(0, 0, 1), dt.UTC)

    [link] = recorder.rows_for(
        rows(factory.search(tomorrow, anonymous_id=PHONE), at=tomorrow), tomorrow, None
    )

    assert link.event_id == link_event_id(PHONE, USER, tomorrow.date())


def test_an_instance_forgets_its_oldest_pairs_beyond_its_capacity() -> None:
    recorder = LinkRecorder(remembered=2)
    for device in ("a_1", "a_2", "a_3"):
        batch = rows(factory.search(R, anonymous_id=device))
        recorder.remember(recorder.rows_for(batch, R, None), R)

    # a_1 was forgotten (written again, which the views absorb); a_2 and a_3 are remembered.
    remaining = rows(*(factory.search(R, anonymous_id=d) for d in ("a_1", "a_2", "a_3")))
    assert link_pairs(recorder.rows_for(remaining, R, None)) == [("a_1", USER)]


# --- in the pipeline -----------------------------------------------------------------------------


class Sinks:
    """A pipeline on fake sinks, its clock a reading the test moves."""

    def __init__(self, **options: Any) -> None:
        self.journal: list[str] = []
        self.bigquery = FakeSink(name="bigquery", journal=self.journal)
        self.dead_letter = FakeDeadLetter(self.journal)
        self.archive = FakeSink(name="archive", journal=self.journal)
        self.redis = FakeSink(name="redis", journal=self.journal)
        self.now = R
        self.pipeline = CapturePipeline(
            bigquery=self.bigquery,
            dead_letter=self.dead_letter,
            archive=self.archive,
            redis=self.redis,
            clock=lambda: self.now,
            **options,
        )

    def links_written(self) -> list[Row]:
        """The link rows BigQuery was handed in the last request."""
        return [row for row in self.bigquery.calls[-1] if row.table == IdentityLink.TABLE]

    def down(self) -> None:
        """BigQuery and the dead-letter bucket down: nothing is durable."""
        self.bigquery.down = True
        self.dead_letter.writes = lambda row: False

    def up(self) -> None:
        self.bigquery.down = False
        self.dead_letter.writes = lambda row: True


def test_links_are_stored_with_the_events_in_every_sink_but_not_counted() -> None:
    sinks = Sinks()
    events = [factory.search(R, anonymous_id=PHONE), factory.order(R, anonymous_id=PHONE)]

    outcome = sinks.pipeline.handle(events, True)

    assert (outcome.received, outcome.valid, outcome.links, outcome.accepted) == (2, 2, 1, 2)
    answer = capture_answer(outcome)
    assert (answer.status, answer.body["accepted"], answer.log["events_accepted"]) == (200, 2, 2)
    for sink in (sinks.bigquery, sinks.archive, sinks.redis):
        [call] = sink.calls
        assert [row.table for row in call] == ["searches", "orders", IdentityLink.TABLE]


def test_a_durable_link_is_not_written_again_that_day() -> None:
    sinks = Sinks()
    sinks.pipeline.handle([factory.search(R, anonymous_id=PHONE)], True)

    sinks.now = R + dt.timedelta(hours=1)
    outcome = sinks.pipeline.handle([factory.search(sinks.now, anonymous_id=PHONE)], True)

    assert outcome.links == 0 and sinks.links_written() == []


def test_a_link_is_written_again_after_a_request_that_was_not_durable() -> None:
    sinks = Sinks()
    sinks.down()
    event = factory.search(R, anonymous_id=PHONE)

    failed = sinks.pipeline.handle([event], True)

    assert capture_answer(failed).status == 503 and failed.links == 1
    sinks.up()
    resent = sinks.pipeline.handle([event], True)
    assert resent.accepted == 1
    assert link_pairs(sinks.links_written()) == [(PHONE, USER)]
    # And once durable, no more.
    assert sinks.pipeline.handle([factory.search(R, anonymous_id=PHONE)], True).links == 0


def test_a_new_day_writes_the_link_again() -> None:
    sinks = Sinks()
    sinks.pipeline.handle([factory.search(R, anonymous_id=PHONE)], True)

    sinks.now = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(0, 0, 1), dt.UTC)
    sinks.pipeline.handle([factory.search(sinks.now, anonymous_id=PHONE)], True)

    [link] = sinks.links_written()
    assert link.event_id == link_event_id(PHONE, USER, sinks.now.date())


def test_an_identify_event_is_stored_once_with_no_link_made_of_it() -> None:
    sinks = Sinks()
    identify = factory.envelope("identify", R, anonymous_id=PHONE, session_id=None)

    outcome = sinks.pipeline.handle([identify], True)

    assert (outcome.valid, outcome.links, outcome.accepted) == (1, 0, 1)
    assert [row.event_id for row in sinks.bigquery.rows] == [identify["event_id"]]


def test_not_stored_counts_the_events_not_the_links() -> None:
    # The 503 tells the caller how many of *its* events to resend; a link is not one of them.
    sinks = Sinks()
    sinks.down()

    outcome = sinks.pipeline.handle([factory.search(R, anonymous_id=PHONE)], True)

    answer = capture_answer(outcome)
    assert answer.status == 503 and outcome.accepted == 0
    assert outcome.not_stored == 1
    assert answer.log["events_not_stored"] == 1
    assert answer.body["error"].startswith("1 valid events could not be stored")


def test_a_link_not_stored_fails_the_request_as_an_event_would() -> None:
    sinks = Sinks()
    sinks.bigquery.refuses = lambda row: (
        Failure(FailureKind.INVALID, "refused") if row.table == IdentityLink.TABLE else None
    )
    sinks.dead_letter.writes = lambda row: row.table != IdentityLink.TABLE
    batch = [factory.search(R, anonymous_id=PHONE), factory.search(R, anonymous_id=LAPTOP)]

    outcome = sinks.pipeline.handle(batch, True)

    assert capture_answer(outcome).status == 503 and outcome.accepted == 0
    # Both events made a link that was lost: the caller resends both.
    assert outcome.not_stored == 2
    assert sinks.redis.calls == []
    # Nothing was remembered: the resend writes the links again.
    sinks.bigquery.refuses = lambda row: None
    assert sinks.pipeline.handle(batch, True).links == 2
