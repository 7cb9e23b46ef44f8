"""CostGuard's steps on fakes: the order of its side effects, and what a failure half-way leaves.

The control store keeps the document as JSON text with a generation, as Cloud Storage does
(``if_generation_match``: a write naming another generation is a ConflictError), and can play a
concurrent writer just before a write. The query switch, the loader, the clock and the sleep
are fakes too, and every side effect goes to one journal, so a test reads as the list of what
the guard did. Sleeping only moves the clock: no test waits. The same flow on the real
emulators is tests/integration/test_cost_guard.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from event_capture.contracts.capture_mode import (
    MODE_OBJECT,
    CaptureMode,
    ControlState,
    PendingLoad,
    Period,
)
from event_capture.cost_guard.archive_load import ArchiveLoader, LoadError, LoadReport, TableLoad
from event_capture.cost_guard.control_store import ConflictError
from event_capture.cost_guard.decision import Action
from event_capture.cost_guard.guard import (
    EARLY_MARGIN,
    RUN_MARGIN,
    WRITE_ATTEMPTS,
    CostGuard,
    GuardSettings,
)
from event_capture.cost_guard.notification import BudgetNotification
from event_capture.cost_guard.scheduled_queries import TransferError
from event_capture.ingest.mode_reader import ModeReader
from tests.fakes.clock import WallClock
from tests.unit.cost_guard.budget import BUDGET, DECEMBER, NOVEMBER, Q1, Q2, QUERIES, spent

SETTLE = 70.0
TRIPPED_AT = dt.datetime(2026, 11, 20, 9, 30, 41, tzinfo=dt.UTC)
RESUMED_AT = dt.datetime(2026, 12, 1, 9, 12, 5, tzinfo=dt.UTC)
NOVEMBER_PERIOD = Period(budget_id=BUDGET, interval_start=NOVEMBER)

Entry = tuple[Any, ...]


class MemoryStore:
    """The control object: JSON text and a generation (0: no object yet)."""

    def __init__(self, journal: list[Entry]) -> None:
        self.journal = journal
        self.text: str | None = None
        self.generation = 0
        self.reads = 0
        self.writes: list[ControlState] = []
        # Run before the next write is checked: another guard's delivery writing first.
        self.before_write: Callable[[MemoryStore], None] | None = None
        self.every_write = False

    def read(self) -> tuple[ControlState, int]:
        self.reads += 1
        if self.text is None:
            return ControlState(), 0
        return ControlState.from_json(self.text), self.generation

    def write(self, state: ControlState, generation: int) -> int:
        hook = self.before_write
        if hook is not None:
            if not self.every_write:
                self.before_write = None
            hook(self)
        if generation != self.generation:
            self.journal.append(("conflict", generation, self.generation))
            raise ConflictError(MODE_OBJECT)
        self.put(state)
        self.writes.append(state)
        self.journal.append(("write", state.mode.value, state.paused_queries, _pending(state)))
        return self.generation

    def put(self, state: ControlState) -> None:
        self.text = state.to_json()
        self.generation += 1

    @property
    def state(self) -> ControlState:
        return self.read()[0]


def _pending(state: ControlState) -> tuple[dt.datetime, dt.datetime] | None:
    load = state.pending_load
    return None if load is None else (load.received_from, load.received_until)


class RecordingSwitch:
    """The Data Transfer API: calls journaled; ``failures`` raise once (or ``always``)."""

    def __init__(self, journal: list[Entry]) -> None:
        self.journal = journal
        self.failures: dict[tuple[str, str], TransferError] = {}
        self.always: set[tuple[str, str]] = set()

    def _fail(self, call: str, config: str) -> None:
        key = (call, config)
        error = self.failures.get(key)
        if error is not None:
            if key not in self.always:
                del self.failures[key]
            raise error

    def set_disabled(self, config: str, disabled: bool) -> None:
        call = "pause" if disabled else "enable"
        self.journal.append((call, config))
        self._fail(call, config)

    def run_missed(self, config: str, start: dt.datetime, end: dt.datetime) -> None:
        self.journal.append(("run_missed", config, start, end))
        self._fail("run_missed", config)


REPORT = LoadReport(objects=4, tables={"search_events": TableLoad(found=9, present=2, loaded=7)})


class FakeLoader(ArchiveLoader):
    """The batch load: the windows asked for, and when; ``fail_next`` raises once."""

    def __init__(self, journal: list[Entry], clock: WallClock) -> None:
        self.journal = journal
        self.clock = clock
        self.windows: list[tuple[dt.datetime, dt.datetime]] = []
        self.loaded_at: list[dt.datetime] = []
        self.fail_next: Exception | None = None

    def load(self, start: dt.datetime, end: dt.datetime) -> LoadReport:
        self.journal.append(("load", start, end))
        self.windows.append((start, end))
        self.loaded_at.append(self.clock())
        failure, self.fail_next = self.fail_next, None
        if failure is not None:
            raise failure
        return REPORT


@dataclass
class Rig:
    journal: list[Entry] = field(default_factory=list)
    now: dt.datetime = TRIPPED_AT
    queries: tuple[str, ...] = QUERIES
    threshold: float = 1.0

    def __post_init__(self) -> None:
        self.clock = WallClock(self.now, self.journal)
        self.store = MemoryStore(self.journal)
        self.switch = RecordingSwitch(self.journal)
        self.loader = FakeLoader(self.journal, self.clock)
        self.guard = CostGuard(
            store=self.store,
            queries=self.switch,
            loader=self.loader,
            settings=GuardSettings(
                threshold=self.threshold, queries=self.queries, settle_seconds=SETTLE
            ),
            clock=self.clock,
            sleep=self.clock.sleep,
        )

    def done(self) -> list[Entry]:
        """The journal so far, emptied."""
        entries = list(self.journal)
        self.journal.clear()
        return entries


def tripped() -> Rig:
    """A guard that tripped on November's spend at TRIPPED_AT, with the journal emptied."""
    rig = Rig()
    rig.guard.on_notification(spent(1.05))
    rig.done()
    return rig


LOADS_AT = RESUMED_AT + dt.timedelta(seconds=SETTLE)
# Until every instance has read the switch back (LOADS_AT), some may archive without streaming.
WINDOW = (TRIPPED_AT - EARLY_MARGIN, LOADS_AT)


# --------------------------------------------------------------------------------------------
# Tripping
# --------------------------------------------------------------------------------------------


# A trip's steps: the queries to enable on the way back are recorded before any is paused.
TRIP_STEPS = [
    ("write", "archive_only", QUERIES, None),
    ("pause", Q1),
    ("pause", Q2),
    ("write", "archive_only", QUERIES, None),
]


def test_a_trip_switches_capture_before_it_pauses_a_query() -> None:
    rig = Rig()

    outcome = rig.guard.on_notification(spent(1.05))

    assert rig.done() == TRIP_STEPS
    assert [w.queries_paused for w in rig.store.writes] == [False, True]
    state = rig.store.state
    assert state.mode is CaptureMode.ARCHIVE_ONLY
    assert state.archive_only_since == TRIPPED_AT
    assert state.tripped == NOVEMBER_PERIOD
    assert state.paused_queries == QUERIES
    assert state.reason == "105% of the budget spent, threshold 100%"
    assert (outcome.action, outcome.mode, outcome.paused) == (
        Action.TRIP,
        CaptureMode.ARCHIVE_ONLY,
        list(QUERIES),
    )
    assert outcome.as_dict() == {
        "action": "trip",
        "reason": "105% of the budget spent, threshold 100%",
        "capture_mode": "archive_only",
        "queries_paused": 2,
    }
    assert rig.loader.windows == []
    assert rig.clock.waits == []


def test_under_threshold_nothing_is_written() -> None:
    rig = Rig()

    outcome = rig.guard.on_notification(spent(0.8))

    assert outcome.action is Action.NOTHING
    assert outcome.as_dict() == {
        "action": "nothing",
        "reason": "under threshold (80% of the budget spent)",
        "capture_mode": "stream",
    }
    assert rig.done() == []
    assert rig.store.text is None


def test_the_threshold_is_the_configured_one() -> None:
    rig = Rig(threshold=0.5)

    assert rig.guard.on_notification(spent(0.49)).action is Action.NOTHING
    assert rig.guard.on_notification(spent(0.5)).action is Action.TRIP


def test_the_same_period_again_and_again_changes_nothing() -> None:
    rig = tripped()
    written = rig.store.generation

    for share in (1.05, 1.2, 0.3):
        assert rig.guard.on_notification(spent(share)).action is Action.NOTHING

    assert rig.done() == []
    assert rig.store.generation == written


def test_a_pause_that_fails_leaves_archive_only_and_the_next_notification_finishes_the_trip() -> (
    None
):
    rig = Rig()
    rig.switch.failures[("pause", Q2)] = TransferError("PATCH /v1/...: 503 backend error")

    with pytest.raises(TransferError):
        rig.guard.on_notification(spent(1.05))

    assert rig.done() == [("write", "archive_only", QUERIES, None), ("pause", Q1), ("pause", Q2)]
    assert rig.store.state.mode is CaptureMode.ARCHIVE_ONLY
    # Recorded, so a switch back enables Q1 too; not done, so the next message finishes.
    assert rig.store.state.paused_queries == QUERIES
    assert rig.store.state.queries_paused is False

    rig.clock.at(TRIPPED_AT + dt.timedelta(hours=4))
    outcome = rig.guard.on_notification(spent(1.1))

    assert (outcome.action, outcome.paused) == (Action.FINISH_TRIP, list(QUERIES))
    assert rig.done() == [("pause", Q1), ("pause", Q2), ("write", "archive_only", QUERIES, None)]
    # Archive-only since the first trip, not since the finish.
    assert rig.store.state.archive_only_since == TRIPPED_AT


def test_a_later_period_over_threshold_stays_archive_only_and_keeps_its_start() -> None:
    rig = tripped()
    rig.clock.at(RESUMED_AT)

    outcome = rig.guard.on_notification(spent(1.01, DECEMBER))

    assert outcome.action is Action.TRIP
    state = rig.store.state
    assert state.mode is CaptureMode.ARCHIVE_ONLY
    assert state.tripped == Period(budget_id=BUDGET, interval_start=DECEMBER)
    assert state.archive_only_since == TRIPPED_AT
    assert rig.loader.windows == []


# --------------------------------------------------------------------------------------------
# Switching back
# --------------------------------------------------------------------------------------------


def test_a_switch_back_streams_first_then_waits_loads_and_resumes_the_queries() -> None:
    rig = tripped()
    rig.clock.at(RESUMED_AT)

    outcome = rig.guard.on_notification(spent(0.02, DECEMBER))

    missed = (TRIPPED_AT - EARLY_MARGIN, LOADS_AT - RUN_MARGIN)
    assert rig.done() == [
        ("write", "stream", QUERIES, WINDOW),
        ("sleep", SETTLE),
        ("load", *WINDOW),
        ("enable", Q1),
        ("run_missed", Q1, *missed),
        ("enable", Q2),
        ("run_missed", Q2, *missed),
        ("write", "stream", (), None),
    ]
    assert rig.loader.loaded_at == [LOADS_AT]
    [switched, finished] = rig.store.writes[-2:]
    assert switched.pending_load == PendingLoad(
        received_from=TRIPPED_AT - EARLY_MARGIN, received_until=LOADS_AT, not_before=LOADS_AT
    )
    assert switched.tripped is None
    # December's message switched it back: November's, arriving late, changes nothing.
    assert switched.resumed_by == Period(budget_id=BUDGET, interval_start=DECEMBER)
    assert finished == switched.model_copy(
        update={
            "pending_load": None,
            "paused_queries": (),
            "queries_paused": False,
            "archive_only_since": None,
            "updated_at": LOADS_AT,
        }
    )
    assert finished.overridden is None
    assert (outcome.action, outcome.mode, outcome.resumed) == (
        Action.RESUME,
        CaptureMode.STREAM,
        list(QUERIES),
    )
    assert outcome.load is REPORT
    assert outcome.runs_not_started == []
    assert outcome.as_dict()["archive_load"] == REPORT.as_dict()
    assert outcome.as_dict()["queries_resumed"] == 2


def test_the_load_waits_exactly_until_not_before() -> None:
    rig = tripped()
    rig.clock.at(RESUMED_AT)

    rig.guard.on_notification(spent(0.02, DECEMBER))

    pending = rig.store.writes[-2].pending_load
    assert pending is not None
    assert rig.clock.waits == [SETTLE]
    assert rig.loader.loaded_at == [pending.not_before]


def test_the_switched_back_capture_streams_and_the_same_message_again_does_nothing() -> None:
    rig = tripped()
    rig.clock.at(RESUMED_AT)
    rig.guard.on_notification(spent(0.02, DECEMBER))
    rig.done()

    outcome = rig.guard.on_notification(spent(0.02, DECEMBER))

    assert outcome.action is Action.NOTHING
    assert rig.done() == []
    assert len(rig.loader.windows) == 1


def test_a_load_that_fails_keeps_the_pending_load_and_the_stream_mode() -> None:
    rig = tripped()
    rig.clock.at(RESUMED_AT)
    rig.loader.fail_next = LoadError("reading archive/dt=2026-11-20/hour=09/a.jsonl: 503")

    with pytest.raises(LoadError):
        rig.guard.on_notification(spent(0.02, DECEMBER))

    assert rig.done() == [
        ("write", "stream", QUERIES, WINDOW),
        ("sleep", SETTLE),
        ("load", *WINDOW),
    ]
    state = rig.store.state
    assert state.mode is CaptureMode.STREAM
    assert state.pending_load is not None
    assert state.paused_queries == QUERIES


@pytest.mark.parametrize(
    "next_one",
    [
        pytest.param(spent(0.02, DECEMBER), id="the-same-message"),
        pytest.param(spent(0.03, DECEMBER, "budget-e21c"), id="another-budget"),
        pytest.param(spent(0.9, DECEMBER), id="a-later-figure"),
    ],
)
def test_after_a_failed_load_the_next_notification_of_any_kind_loads_the_window_again(
    next_one: BudgetNotification,
) -> None:
    rig = tripped()
    rig.clock.at(RESUMED_AT)
    rig.loader.fail_next = LoadError("loading 7 rows into shop.events.search_events: 500")
    with pytest.raises(LoadError):
        rig.guard.on_notification(spent(0.02, DECEMBER))
    rig.done()
    later = RESUMED_AT + dt.timedelta(hours=3)
    rig.clock.at(later)

    outcome = rig.guard.on_notification(next_one)

    missed = (TRIPPED_AT - EARLY_MARGIN, later - RUN_MARGIN)
    # Past not_before already: no wait; the same window, nothing lost.
    assert rig.done() == [
        ("load", *WINDOW),
        ("enable", Q1),
        ("run_missed", Q1, *missed),
        ("enable", Q2),
        ("run_missed", Q2, *missed),
        ("write", "stream", (), None),
    ]
    assert rig.loader.windows == [WINDOW, WINDOW]
    assert (outcome.action, outcome.load) == (Action.RESUME, REPORT)
    assert rig.store.state.pending_load is None


def test_after_a_failed_load_a_notification_over_threshold_loads_first_then_trips() -> None:
    rig = tripped()
    rig.clock.at(RESUMED_AT)
    rig.loader.fail_next = LoadError("quota")
    with pytest.raises(LoadError):
        rig.guard.on_notification(spent(0.02, DECEMBER))
    rig.done()
    later = RESUMED_AT + dt.timedelta(days=2)
    rig.clock.at(later)

    outcome = rig.guard.on_notification(spent(1.3, DECEMBER))

    journal = rig.done()
    assert [entry[0] for entry in journal] == [
        "load",
        "enable",
        "run_missed",
        "enable",
        "run_missed",
        "write",
        "write",
        "pause",
        "pause",
        "write",
    ]
    assert journal[0] == ("load", *WINDOW)
    assert outcome.action is Action.TRIP
    state = rig.store.state
    assert state.mode is CaptureMode.ARCHIVE_ONLY
    assert state.archive_only_since == later
    assert state.pending_load is None


def test_a_manual_run_the_api_refuses_is_reported_not_raised() -> None:
    rig = tripped()
    rig.clock.at(RESUMED_AT)
    refusal = TransferError("POST /v1/...:startManualRuns: 400 requestedTimeRange in the future")
    rig.switch.failures[("run_missed", Q1)] = refusal

    outcome = rig.guard.on_notification(spent(0.02, DECEMBER))

    assert outcome.runs_not_started == [f"{Q1}: {refusal}"]
    assert outcome.as_dict()["runs_not_started"] == [f"{Q1}: {refusal}"]
    calls = [entry[:2] for entry in rig.done() if entry[0] in {"enable", "run_missed"}]
    assert calls == [("enable", Q1), ("run_missed", Q1), ("enable", Q2), ("run_missed", Q2)]
    assert rig.store.state.pending_load is None
    assert rig.store.state.paused_queries == ()


def test_a_query_that_cannot_be_enabled_keeps_the_pending_load_for_the_next_try() -> None:
    rig = tripped()
    rig.clock.at(RESUMED_AT)
    rig.switch.failures[("enable", Q2)] = TransferError("PATCH /v1/...: 403 denied")

    with pytest.raises(TransferError):
        rig.guard.on_notification(spent(0.02, DECEMBER))

    state = rig.store.state
    assert state.pending_load is not None
    assert state.paused_queries == QUERIES
    rig.done()
    rig.guard.on_notification(spent(0.02, DECEMBER))
    assert ("enable", Q2) in rig.done()
    assert rig.store.state.paused_queries == ()


# --------------------------------------------------------------------------------------------
# Concurrent deliveries
# --------------------------------------------------------------------------------------------


def test_a_concurrent_trip_makes_the_guard_read_again_and_do_nothing() -> None:
    rig = Rig()
    theirs = ControlState(
        mode=CaptureMode.ARCHIVE_ONLY,
        reason="the same message, delivered twice",
        archive_only_since=TRIPPED_AT,
        tripped=NOVEMBER_PERIOD,
        paused_queries=QUERIES,
        queries_paused=True,
    )
    rig.store.before_write = lambda store: store.put(theirs)

    outcome = rig.guard.on_notification(spent(1.05))

    assert rig.store.reads == 2
    assert rig.done() == [("conflict", 0, 1)]
    assert outcome.action is Action.NOTHING
    assert rig.store.state == theirs


def test_a_concurrent_trip_not_yet_paused_is_finished_after_the_conflict() -> None:
    rig = Rig()
    theirs = ControlState(
        mode=CaptureMode.ARCHIVE_ONLY, archive_only_since=TRIPPED_AT, tripped=NOVEMBER_PERIOD
    )
    rig.store.before_write = lambda store: store.put(theirs)

    outcome = rig.guard.on_notification(spent(1.05))

    assert outcome.action is Action.FINISH_TRIP
    assert rig.done() == [
        ("conflict", 0, 1),
        ("write", "archive_only", QUERIES, None),
        ("pause", Q1),
        ("pause", Q2),
        ("write", "archive_only", QUERIES, None),
    ]


def test_a_concurrent_switch_back_is_not_undone() -> None:
    """Both deliveries of December's message: the second finds stream and does nothing more."""
    rig = tripped()
    rig.clock.at(RESUMED_AT)
    already = rig.store.state.model_copy(
        update={"mode": CaptureMode.STREAM, "tripped": None, "paused_queries": ()}
    )
    rig.store.before_write = lambda store: store.put(already)

    outcome = rig.guard.on_notification(spent(0.02, DECEMBER))

    assert outcome.action is Action.NOTHING
    assert [entry[0] for entry in rig.done()] == ["conflict"]
    assert rig.loader.windows == []


def test_a_document_that_keeps_changing_raises_so_the_message_comes_again() -> None:
    rig = Rig()
    rig.store.every_write = True
    rig.store.before_write = lambda store: store.put(ControlState(reason="someone else"))

    with pytest.raises(ConflictError):
        rig.guard.on_notification(spent(1.05))

    assert rig.store.reads == WRITE_ATTEMPTS
    assert [entry[0] for entry in rig.done()] == ["conflict"] * WRITE_ATTEMPTS


# --------------------------------------------------------------------------------------------
# The operator
# --------------------------------------------------------------------------------------------


def test_an_operator_resume_holds_for_the_rest_of_the_tripped_period() -> None:
    rig = tripped()
    switched_back = TRIPPED_AT + dt.timedelta(hours=2)
    rig.clock.at(switched_back)

    outcome = rig.guard.resume()

    assert (outcome.action, outcome.reason, outcome.mode) == (
        Action.RESUME,
        "switched back by an operator",
        CaptureMode.STREAM,
    )
    settled = switched_back + dt.timedelta(seconds=SETTLE)
    assert rig.loader.windows == [(TRIPPED_AT - EARLY_MARGIN, settled)]
    assert [e for e in rig.done() if e[0] == "enable"] == [("enable", Q1), ("enable", Q2)]
    state = rig.store.state
    assert state.mode is CaptureMode.STREAM
    assert state.overridden == NOVEMBER_PERIOD
    assert state.pending_load is None

    # November's messages keep coming, over threshold: the operator's word holds.
    for share in (1.1, 1.4, 2.0):
        assert rig.guard.on_notification(spent(share)).action is Action.NOTHING
    assert rig.done() == []

    # December's does not inherit it.
    rig.clock.at(RESUMED_AT)
    assert rig.guard.on_notification(spent(1.2, DECEMBER)).action is Action.TRIP
    assert rig.store.state.mode is CaptureMode.ARCHIVE_ONLY


def test_an_operator_resume_with_custom_reason_is_written() -> None:
    rig = tripped()
    rig.clock.at(TRIPPED_AT + dt.timedelta(minutes=5))

    rig.guard.resume("budget raised to 400 EUR")

    assert rig.store.state.reason == "budget raised to 400 EUR"


def test_an_operator_resume_while_streaming_does_nothing() -> None:
    rig = Rig()

    outcome = rig.guard.resume()

    assert (outcome.action, outcome.reason) == (Action.NOTHING, "capture is streaming already")
    assert rig.done() == []


def test_an_operator_resume_finishes_a_pending_load() -> None:
    rig = tripped()
    rig.clock.at(RESUMED_AT)
    rig.loader.fail_next = LoadError("quota")
    with pytest.raises(LoadError):
        rig.guard.on_notification(spent(0.02, DECEMBER))
    rig.clock.at(RESUMED_AT + dt.timedelta(hours=1))

    outcome = rig.guard.resume()

    assert outcome.action is Action.RESUME
    assert rig.loader.windows == [WINDOW, WINDOW]
    assert rig.store.state.pending_load is None


def test_an_operator_trip_holds_until_an_operator_resumes() -> None:
    rig = Rig()

    outcome = rig.guard.trip()

    assert outcome.action is Action.TRIP
    assert rig.done() == TRIP_STEPS
    assert [w.queries_paused for w in rig.store.writes] == [False, True]
    state = rig.store.state
    assert state.tripped == Period(budget_id="operator", interval_start=TRIPPED_AT)
    assert state.reason == "switched to archive-only by an operator"

    # No budget's notification switches back what an operator switched.
    rig.clock.at(RESUMED_AT)
    assert rig.guard.on_notification(spent(0.01, DECEMBER)).action is Action.NOTHING
    assert rig.store.state.mode is CaptureMode.ARCHIVE_ONLY

    later = RESUMED_AT + dt.timedelta(minutes=10)
    rig.clock.at(later)
    assert rig.guard.resume().mode is CaptureMode.STREAM
    settled = later + dt.timedelta(seconds=SETTLE)
    assert rig.loader.windows == [(TRIPPED_AT - EARLY_MARGIN, settled)]


def test_status_is_the_document() -> None:
    rig = tripped()

    assert rig.guard.status() == rig.store.state
    assert rig.done() == []


# --------------------------------------------------------------------------------------------
# Found while writing these tests
# --------------------------------------------------------------------------------------------


def test_the_load_covers_every_event_accepted_before_every_instance_read_the_switch() -> None:
    rig = tripped()
    # A capture instance that read the document one second before the switch back.
    instance = ModeReader(
        lambda: None if rig.store.text is None else rig.store.text.encode(),
        clock=lambda: rig.clock.now.timestamp(),
    )
    rig.clock.at(RESUMED_AT - dt.timedelta(seconds=1))
    assert instance() is CaptureMode.ARCHIVE_ONLY
    rig.clock.at(RESUMED_AT)
    archived_only: list[dt.datetime] = []

    def a_request_while_the_guard_waits() -> None:
        rig.clock.at(RESUMED_AT + dt.timedelta(seconds=10))
        assert rig.store.state.mode is CaptureMode.STREAM
        # Within its TTL the instance still archives without streaming, and answers 200.
        assert instance() is CaptureMode.ARCHIVE_ONLY
        archived_only.append(rig.clock.now)

    rig.clock.while_sleeping = a_request_while_the_guard_waits

    rig.guard.on_notification(spent(0.02, DECEMBER))

    [received_at] = archived_only
    [(start, end)] = rig.loader.windows
    assert start <= received_at <= end


def test_a_late_message_of_the_tripped_period_after_the_switch_back_is_ignored() -> None:
    rig = tripped()
    rig.clock.at(RESUMED_AT)
    rig.guard.on_notification(spent(0.02, DECEMBER))
    rig.done()
    rig.clock.at(RESUMED_AT + dt.timedelta(minutes=5))

    outcome = rig.guard.on_notification(spent(1.05, NOVEMBER))

    assert outcome.action is Action.NOTHING
    assert rig.store.state.mode is CaptureMode.STREAM


def test_a_query_paused_before_a_failing_one_is_enabled_by_the_switch_back() -> None:
    rig = Rig()
    rig.switch.failures[("pause", Q2)] = TransferError("PATCH /v1/...: 404 not found")
    rig.switch.always.add(("pause", Q2))
    with pytest.raises(TransferError):
        rig.guard.on_notification(spent(1.05))
    rig.clock.at(RESUMED_AT)

    rig.guard.on_notification(spent(0.02, DECEMBER))

    assert ("enable", Q1) in rig.done()


def test_an_operator_trip_while_a_load_is_pending_loses_nothing() -> None:
    rig = tripped()
    rig.clock.at(RESUMED_AT)
    rig.loader.fail_next = LoadError("quota")
    with pytest.raises(LoadError):
        rig.guard.on_notification(spent(0.02, DECEMBER))
    operator_trip = RESUMED_AT + dt.timedelta(hours=1)
    rig.clock.at(operator_trip)
    rig.guard.trip()
    operator_resume = operator_trip + dt.timedelta(hours=5)
    rig.clock.at(operator_resume)

    outcome = rig.guard.resume()

    assert outcome.mode is CaptureMode.STREAM
    assert rig.store.state.mode is CaptureMode.STREAM
    assert any(
        start <= operator_trip and end >= operator_resume for start, end in rig.loader.windows
    )
