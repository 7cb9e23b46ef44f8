"""The cost guard's steps: switch capture to archive-only and back, never losing an event.

Tripping: the control document says ``archive_only`` first (capture instances read it within
their TTL), then each scheduled query is paused, and the document records which. Switching back:
the document says ``stream`` with a pending load of the archive-only window, the guard waits
until every instance has read it and every request received before it has finished, loads the
window's archived events, resumes the paused queries with a manual run over the days they
missed, and clears the pending load. Every step can be repeated: a message delivered again, or
a guard that died half-way, continues where the document says it stopped.
"""

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from event_capture.contracts.capture_mode import CaptureMode, ControlState, PendingLoad, Period
from event_capture.cost_guard.archive_load import ArchiveLoader, LoadReport
from event_capture.cost_guard.control_store import ConflictError, ControlStore
from event_capture.cost_guard.decision import Action, Decision, decide, period_of
from event_capture.cost_guard.notification import BudgetNotification
from event_capture.cost_guard.scheduled_queries import QuerySwitch, TransferError

# Requests received this long before the switch may still have been archive-only (the
# request's receive time is read before its mode); the load starts that much earlier.
EARLY_MARGIN = dt.timedelta(minutes=1)
# Scheduled runs this close to now may not be due yet; a manual run must be in the past.
RUN_MARGIN = dt.timedelta(minutes=1)
WRITE_ATTEMPTS = 5


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, kw_only=True)
class GuardSettings:
    # The share of the budget at which capture goes archive-only (1.0 = 100 % of actual spend).
    threshold: float = 1.0
    # The scheduled queries to pause, by full transfer config name.
    queries: tuple[str, ...] = ()
    # Switch back, then wait this long before loading: capture's mode TTL plus its longest
    # request, so no instance is still archiving without streaming (capture_mode.py).
    settle_seconds: float = 100.0


@dataclass
class Outcome:
    """What one call did, for the log line."""

    action: Action
    reason: str
    mode: CaptureMode
    paused: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    load: LoadReport | None = None
    runs_not_started: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        line: dict[str, Any] = {
            "action": self.action.value,
            "reason": self.reason,
            "capture_mode": self.mode.value,
        }
        if self.paused:
            line["queries_paused"] = len(self.paused)
        if self.resumed:
            line["queries_resumed"] = len(self.resumed)
        if self.load is not None:
            line["archive_load"] = self.load.as_dict()
        if self.runs_not_started:
            line["runs_not_started"] = self.runs_not_started
        return line


class CostGuard:
    def __init__(
        self,
        *,
        store: ControlStore,
        queries: QuerySwitch,
        loader: ArchiveLoader,
        settings: GuardSettings,
        clock: Callable[[], dt.datetime] = _now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._queries = queries
        self._loader = loader
        self._settings = settings
        self._clock = clock
        self._sleep = sleep

    # --- ways in -------------------------------------------------------------------------------

    def on_notification(self, notification: BudgetNotification) -> Outcome:
        """What a budget notification calls for, done; safe to call again with the same one."""

        def step(state: ControlState, generation: int) -> Outcome:
            state, generation, finished = self._finish_pending(state, generation)
            decision = decide(
                state,
                notification,
                threshold=self._settings.threshold,
                queries=self._settings.queries,
            )
            if finished is not None and decision.action is Action.NOTHING:
                return finished
            return self._apply(decision, state, generation, period_of(notification))

        return self._retrying(step, "the message comes again")

    def resume(self, reason: str = "switched back by an operator") -> Outcome:
        """The operator's switch back: streaming again for the rest of the tripped period."""

        def step(state: ControlState, generation: int) -> Outcome:
            if state.mode is CaptureMode.ARCHIVE_ONLY:
                return self._resume(state, generation, reason, override=state.tripped)
            if state.pending_load is not None:
                return self._resume(state, generation, reason, override=state.overridden)
            return Outcome(Action.NOTHING, "capture is streaming already", state.mode)

        return self._retrying(step, "run the command again")

    def trip(self, reason: str = "switched to archive-only by an operator") -> Outcome:
        """The operator's switch to archive-only, until an operator switches back."""

        def step(state: ControlState, generation: int) -> Outcome:
            state, generation, _ = self._finish_pending(state, generation)
            period = Period(budget_id="operator", interval_start=self._clock())
            return self._apply(Decision(Action.TRIP, reason), state, generation, period)

        return self._retrying(step, "run the command again")

    def status(self) -> ControlState:
        return self._store.read()[0]

    # --- steps ---------------------------------------------------------------------------------

    def _retrying(self, step: Callable[[ControlState, int], Outcome], then: str) -> Outcome:
        """``step`` on the document as read, read again after a concurrent write."""
        for _ in range(WRITE_ATTEMPTS):
            state, generation = self._store.read()
            try:
                return step(state, generation)
            except ConflictError:
                continue
        raise ConflictError(f"the control document kept changing; {then}")

    def _finish_pending(
        self, state: ControlState, generation: int
    ) -> tuple[ControlState, int, Outcome | None]:
        """An earlier switch back that stopped half-way comes first, or its window would be
        lost; the document as it is then, and what finishing it did (None: nothing pending)."""
        if state.pending_load is None:
            return state, generation, None
        finished = self._resume(state, generation, state.reason, override=None)
        return *self._store.read(), finished

    def _apply(
        self, decision: Decision, state: ControlState, generation: int, period: Period
    ) -> Outcome:
        if decision.action is Action.RESUME:
            return self._resume(
                state, generation, decision.reason, override=None, resumed_by=period
            )
        if decision.action is Action.TRIP:
            now = self._clock()
            state = state.model_copy(
                update={
                    "mode": CaptureMode.ARCHIVE_ONLY,
                    "reason": decision.reason,
                    "updated_at": now,
                    "archive_only_since": state.archive_only_since or now,
                    "tripped": period,
                    "paused_queries": self._to_pause(state),
                    "queries_paused": False,
                }
            )
            generation = self._store.write(state, generation)
        if decision.action in (Action.TRIP, Action.FINISH_TRIP):
            paused = self._pause(state, generation)
            return Outcome(decision.action, decision.reason, CaptureMode.ARCHIVE_ONLY, paused)
        return Outcome(decision.action, decision.reason, state.mode)

    def _to_pause(self, state: ControlState) -> tuple[str, ...]:
        """The queries a switch back must enable: recorded before the pause calls, so that one
        a failure half-way left paused is among them (enabling one that is not paused does no
        harm), and kept, so that one dropped from the settings while paused still is."""
        new = (q for q in self._settings.queries if q not in state.paused_queries)
        return (*state.paused_queries, *new)

    def _pause(self, state: ControlState, generation: int) -> list[str]:
        wanted = self._to_pause(state)
        if wanted != state.paused_queries:
            state = state.model_copy(
                update={
                    "paused_queries": wanted,
                    "queries_paused": False,
                    "updated_at": self._clock(),
                }
            )
            generation = self._store.write(state, generation)
        for config in self._settings.queries:
            self._queries.set_disabled(config, True)
        self._store.write(
            state.model_copy(update={"queries_paused": True, "updated_at": self._clock()}),
            generation,
        )
        return list(self._settings.queries)

    def _resume(
        self,
        state: ControlState,
        generation: int,
        reason: str,
        *,
        override: Period | None,
        resumed_by: Period | None = None,
    ) -> Outcome:
        if state.pending_load is None:
            now = self._clock()
            since = state.archive_only_since or now
            settled = now + dt.timedelta(seconds=self._settings.settle_seconds)
            pending = PendingLoad(
                received_from=since - EARLY_MARGIN,
                # Until every instance has read the switch, some may still accept events into
                # the archive alone: the window ends when the wait does.
                received_until=settled,
                not_before=settled,
            )
            state = state.model_copy(
                update={
                    "mode": CaptureMode.STREAM,
                    "reason": reason,
                    "updated_at": now,
                    "tripped": None,
                    "overridden": override or state.overridden,
                    "resumed_by": resumed_by or state.resumed_by,
                    "pending_load": pending,
                }
            )
            generation = self._store.write(state, generation)
        outcome = Outcome(Action.RESUME, reason, state.mode, resumed=list(state.paused_queries))
        outcome.load, outcome.runs_not_started = self._finish_resume(state, generation)
        return outcome

    def _finish_resume(self, state: ControlState, generation: int) -> tuple[LoadReport, list[str]]:
        pending = state.pending_load
        assert pending is not None
        wait = (pending.not_before - self._clock()).total_seconds()
        if wait > 0:
            self._sleep(wait)
        load = self._loader.load(pending.received_from, pending.received_until)
        missed_until = self._clock() - RUN_MARGIN
        not_started: list[str] = []
        for config in state.paused_queries:
            self._queries.set_disabled(config, False)
            try:
                self._queries.run_missed(config, pending.received_from, missed_until)
            except TransferError as error:
                # The events are back and the next nightly run comes anyway; only the days
                # missed stay unbuilt, and the log line says which query to run by hand.
                not_started.append(f"{config}: {error}")
        state = state.model_copy(
            update={
                "pending_load": None,
                "paused_queries": (),
                "queries_paused": False,
                "archive_only_since": None,
                "updated_at": self._clock(),
            }
        )
        self._store.write(state, generation)
        return load, not_started
