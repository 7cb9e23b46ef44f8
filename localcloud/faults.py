"""Fault injection on a ``LocalCloud``: a capture function under load while a backend fails.

One run of a ``Scenario`` (``run_scenario``):

1. A capture function of its own starts on the cloud, writing to a dataset and bucket of the
   harness (``prepare``: event tables, the warehouse's ``_dedup`` views, a bucket that holds
   both the archive and the dead letters, so replay touches nothing of anyone else's).
2. Sender threads post batches of uniquely identified events (``sample_batch``: fresh uuids),
   released at an even pace over the run, each as a well-behaved client would: the identical
   body again after a 503 or 429 (or any 5xx), a connection error or a timeout; never after
   another 4xx. Retry-After is honoured but capped at ``ClientPolicy.retry_after_cap`` (1 s)
   where the function asks for 10 s, only to keep runs short: waiting longer would exercise
   nothing more.
3. After ``Load.lead_seconds`` the scenario injects its fault (SIGKILL, SIGSTOP, a killed
   gunicorn worker) and undoes it; the senders keep going through it and after.
4. Dead letters are replayed (``tools.replay``) until none is left, then BigQuery is read:
   every acknowledged event (the events of batches answered 200/207, minus those rejected) must
   be in the ``_dedup`` views exactly once. Raw copies beyond the first are counted, not
   failed: at-least-once delivery allows them and the views hide them.

Every attempt's wait (request sent to answer or error) is kept, so the report gives the waits'
median, p99 and maximum per scenario, overall and for attempts started during the fault.

``tests/integration/test_faults.py`` runs a quick subset on the session's cloud;
``bench/faults.py`` runs every scenario with more events on a cloud of its own.
"""

import contextlib
import io
import json
import math
import queue
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from google.cloud import bigquery

from event_capture.ingest.wiring import bigquery_sink, dead_letter_writer
from event_capture.schemas.families import MODEL_BY_EVENT_TYPE
from event_capture.warehouse.render import Datasets
from localcloud import bootstrap
from localcloud.cloud import LocalCloud
from localcloud.processes import Service
from localcloud.sample_events import sample_batch, sample_event
from localcloud.warehouse import create_warehouse
from tools.replay import ReplayReport, bigquery_lookup, replay

FAULT_DATASET = "faults"
ACKNOWLEDGED = frozenset({200, 207})
# Sink statuses in an answer that mean the sink did not take the rows.
FAILING = frozenset({"failed", "partial", "skipped"})
# The function's timeout where it is deployed: no request may wait longer than this.
DEPLOYED_REQUEST_TIMEOUT_SECONDS = 60.0

# Short deadlines, so that an outage costs seconds, not the defaults' tens of seconds.
# REQUEST_DEADLINE_SECONDS is the whole budget of one request; CIRCUIT_COOLDOWN_SECONDS how
# long a backend's open circuit is skipped before it is tried again (the default, 30 s, would
# keep answering 503 for up to that long after both backends are back).
FUNCTION_ENV: Mapping[str, str] = {
    "WORKERS": "1",
    "THREADS": "8",
    "BIGQUERY_DEADLINE_SECONDS": "2",
    "GCS_DEADLINE_SECONDS": "2",
    "REQUEST_DEADLINE_SECONDS": "5",
    "CIRCUIT_COOLDOWN_SECONDS": "2",
    "REDIS_ENABLED": "false",
}


def request_budget(env: Mapping[str, str]) -> float:
    """One request's whole time budget under ``env``: REQUEST_DEADLINE_SECONDS, or, without
    it, BigQuery's deadline plus two object writes' (dead letters, then the archive)."""
    if "REQUEST_DEADLINE_SECONDS" in env:
        return float(env["REQUEST_DEADLINE_SECONDS"])
    return float(env.get("BIGQUERY_DEADLINE_SECONDS", "20")) + 2 * float(
        env.get("GCS_DEADLINE_SECONDS", "10")
    )


# --- where the harness writes -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Target:
    """The harness's own dataset (tables and ``_dedup`` views) and bucket on a cloud."""

    project: str
    dataset: str
    bucket: str

    @property
    def datasets(self) -> Datasets:
        return Datasets(
            f"{self.project}.{self.dataset}", f"{self.project}.{self.dataset}_analytics"
        )

    def env(self) -> dict[str, str]:
        """The function's variables that point it here (dead letters beside the archive)."""
        return {
            "BIGQUERY_DATASET": self.dataset,
            "GCS_BUCKET": self.bucket,
            "DEAD_LETTER_BUCKET": self.bucket,
        }


def prepare(cloud: LocalCloud, dataset: str = FAULT_DATASET) -> Target:
    """Create the harness's dataset, event tables, warehouse views and bucket (idempotent)."""
    project = cloud.settings.project
    target = Target(project=project, dataset=dataset, bucket=f"{project}-{dataset}")
    client = cloud.bigquery_client()
    bootstrap.create_dataset_and_tables(client, dataset)
    create_warehouse(client, target.datasets)
    bootstrap.create_bucket(cloud.storage_client(), target.bucket)
    return target


# --- load and client ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Load:
    events: int = 100
    batch_size: int = 5
    senders: int = 4
    # Batches released before the fault starts and after it is expected to end.
    lead_seconds: float = 1.0
    tail_seconds: float = 1.0


@dataclass(frozen=True, kw_only=True)
class ClientPolicy:
    connect_timeout: float = 5.0
    # Past the deployed function's 60 s timeout: the function, not the client, ends a request.
    read_timeout: float = 70.0
    # The function's Retry-After (10 s) is honoured up to this many seconds.
    retry_after_cap: float = 1.0
    # After a connection error or timeout: full jitter from this, doubling up to the cap.
    backoff_base: float = 0.1
    # A batch not acknowledged within this many seconds of its first attempt is given up.
    give_up_seconds: float = 300.0


@dataclass(frozen=True, kw_only=True)
class Attempt:
    started: float  # seconds since the run began
    waited: float  # seconds from sending to the answer or the error
    status: int | None  # None: no answer (connection error or timeout)
    error: str | None = None
    # Per sink, its status in the answer's body ("ok", "failed", ...).
    sinks: Mapping[str, str] = field(default_factory=dict)
    dead_lettered: int = 0


@dataclass(kw_only=True)
class Batch:
    index: int
    events: list[dict[str, Any]]
    release_at: float
    attempts: list[Attempt] = field(default_factory=list)
    status: int | None = None
    rejected: frozenset[int] = frozenset()
    finished: float = 0.0

    @property
    def acknowledged(self) -> bool:
        return self.status in ACKNOWLEDGED

    @property
    def accepted(self) -> list[dict[str, Any]]:
        if not self.acknowledged:
            return []
        return [event for n, event in enumerate(self.events) if n not in self.rejected]

    @property
    def time_to_answer(self) -> float:
        """From the first attempt to the final answer, resends and their waits included."""
        return self.finished - self.attempts[0].started if self.attempts else 0.0


# --- scenarios ----------------------------------------------------------------------------------


class FaultRun:
    """What a scenario's ``inject`` is given: the cloud, the function and the load's progress."""

    def __init__(
        self,
        cloud: LocalCloud,
        function: Service,
        batches: list[Batch],
        env: Mapping[str, str],
    ) -> None:
        self.cloud = cloud
        self.function = function
        self.batches = batches
        # The function's configuration, and so one request's whole budget.
        self.env = env
        self.budget = request_budget(env)
        self.started = time.perf_counter()
        self.windows: list[tuple[float, float]] = []
        self.notes: list[str] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._in_flight = 0

    def now(self) -> float:
        return time.perf_counter() - self.started

    @contextlib.contextmanager
    def fault(self) -> Iterator[None]:
        """Marks the block as a fault window: attempts started in it count as during the fault."""
        start = self.now()
        try:
            yield
        finally:
            self.windows.append((start, self.now()))

    def during_fault(self, attempt: Attempt) -> bool:
        return any(start <= attempt.started <= end for start, end in self.windows)

    def wait_in_flight(self, count: int = 1, timeout: float = 30.0) -> bool:
        """Wait until at least ``count`` requests are in flight (sent, not answered)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._in_flight >= count, timeout)

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        """Counts the block as one request in flight."""
        self._count(+1)
        try:
            yield
        finally:
            self._count(-1)

    def _count(self, delta: int) -> None:
        with self._changed:
            self._in_flight += delta
            self._changed.notify_all()


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str
    description: str
    # How long the fault is expected to last, given a request's budget: the load is paced to
    # span it.
    hold_seconds: Callable[[float], float]
    # Injects the fault and undoes it; the senders keep sending meanwhile.
    inject: Callable[[FaultRun], None]
    # Added to the function's configuration for this scenario.
    function_env: Mapping[str, str] = field(default_factory=dict)


def no_fault(seconds: float = 3.0) -> Scenario:
    """The same load with nothing injected: the run's baseline for the waits."""

    def inject(run: FaultRun) -> None:
        with run.fault():
            time.sleep(seconds)

    return Scenario(
        name="no-fault",
        description=f"nothing injected for {seconds:g} s (the baseline)",
        hold_seconds=lambda _budget: seconds,
        inject=inject,
    )


def bigquery_killed(down_seconds: float = 4.0) -> Scenario:
    def inject(run: FaultRun) -> None:
        with run.fault(), run.cloud.outage(run.cloud.bigquery, kill=True):
            time.sleep(down_seconds)

    return Scenario(
        name="bigquery-killed",
        description=f"BigQuery SIGKILLed, restarted after {down_seconds:g} s",
        hold_seconds=lambda _budget: down_seconds + 1,
        inject=inject,
    )


def bigquery_frozen(frozen_seconds: float = 5.0) -> Scenario:
    def inject(run: FaultRun) -> None:
        with run.fault(), run.cloud.frozen(run.cloud.bigquery):
            time.sleep(frozen_seconds)

    return Scenario(
        name="bigquery-frozen",
        description=f"BigQuery SIGSTOPped for {frozen_seconds:g} s (past its deadline)",
        hold_seconds=lambda _budget: frozen_seconds,
        inject=inject,
    )


def gcs_killed(down_seconds: float = 4.0) -> Scenario:
    def inject(run: FaultRun) -> None:
        with run.fault(), run.cloud.outage(run.cloud.gcs, kill=True):
            time.sleep(down_seconds)

    return Scenario(
        name="gcs-killed",
        description=f"Cloud Storage SIGKILLed, restarted after {down_seconds:g} s",
        hold_seconds=lambda _budget: down_seconds + 0.5,
        inject=inject,
    )


def worker_killed(kills: int = 3, gap_seconds: float = 1.0) -> Scenario:
    def inject(run: FaultRun) -> None:
        with run.fault():
            for _ in range(kills):
                if not run.wait_in_flight(1, timeout=30):
                    run.notes.append("no request in flight to kill the worker under")
                    continue
                # A moment into the request, so the worker is inside the pipeline, not
                # still reading the body.
                time.sleep(0.05)
                pid = run.function.kill_worker()
                run.notes.append(f"killed worker {pid} at {run.now():.2f} s")
                time.sleep(gap_seconds)

    return Scenario(
        name="worker-killed",
        description=f"the function's gunicorn worker SIGKILLed mid-request, {kills} times",
        hold_seconds=lambda _budget: kills * (gap_seconds + 1.5),
        inject=inject,
    )


def both_down(beyond_budget_seconds: float = 3.0) -> Scenario:
    """BigQuery and Cloud Storage down together for longer than a request's whole budget."""

    def inject(run: FaultRun) -> None:
        down = run.budget + beyond_budget_seconds
        run.notes.append(f"both down for {down:g} s (budget {run.budget:g} s)")
        with run.fault(), run.cloud.outage(run.cloud.bigquery, run.cloud.gcs, kill=True):
            time.sleep(down)

    return Scenario(
        name="both-down",
        description=(
            f"BigQuery and Cloud Storage SIGKILLed for a request's budget "
            f"+ {beyond_budget_seconds:g} s"
        ),
        hold_seconds=lambda budget: budget + beyond_budget_seconds + 1,
        inject=inject,
    )


def all_scenarios() -> list[Scenario]:
    return [bigquery_killed(), bigquery_frozen(), gcs_killed(), worker_killed(), both_down()]


# --- the run ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Stats:
    count: int
    median: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "Stats":
        if not values:
            return cls(count=0, median=math.nan, p99=math.nan, max=math.nan)
        ordered = sorted(values)
        rank = max(0, math.ceil(0.99 * len(ordered)) - 1)
        return cls(
            count=len(ordered),
            median=statistics.median(ordered),
            p99=ordered[rank],
            max=ordered[-1],
        )


@dataclass(frozen=True, kw_only=True)
class Check:
    """What BigQuery holds for the run's events, after replay."""

    sent: int
    acknowledged: int
    # Acknowledged events not in the _dedup views, and those in them more than once.
    missing: list[str]
    repeated_in_views: list[str]
    # Raw rows beyond the first per event_id, over every event sent.
    raw_duplicates: int
    # Events of batches never acknowledged that are stored anyway (allowed: the client gave up
    # on a batch the function had stored).
    unacknowledged_stored: int
    dead_letters_left: int


@dataclass(frozen=True, kw_only=True)
class ScenarioReport:
    scenario: str
    description: str
    budget_seconds: float
    batches: list[Batch]
    windows: list[tuple[float, float]]
    during: list[Attempt]
    replays: list[ReplayReport]
    check: Check
    notes: list[str]
    # Wall time of the run's phases: the function's start, the load and the fault ("send"),
    # replay and the check.
    seconds: Mapping[str, float]

    @property
    def attempts(self) -> list[Attempt]:
        return [a for b in self.batches for a in b.attempts]

    @property
    def waits(self) -> Stats:
        return Stats.of([a.waited for a in self.attempts])

    @property
    def waits_during_fault(self) -> Stats:
        return Stats.of([a.waited for a in self.during])

    @property
    def time_to_answer(self) -> Stats:
        return Stats.of([b.time_to_answer for b in self.batches])

    @property
    def statuses(self) -> Counter[str]:
        return Counter(str(a.status) if a.status else "no answer" for a in self.attempts)

    @property
    def sink_failures(self) -> Counter[str]:
        return Counter(
            f"{sink} {status}"
            for a in self.attempts
            for sink, status in a.sinks.items()
            if status in FAILING
        )

    @property
    def dead_lettered(self) -> int:
        return sum(a.dead_lettered for a in self.attempts)

    @property
    def fault_seen(self) -> bool:
        """Whether clients saw the fault at all: an attempt without a 2xx, a sink failing in an
        answer, or rows dead-lettered. A run where none did tested nothing."""
        return any(
            a.status not in ACKNOWLEDGED or a.dead_lettered or _failing(a) for a in self.attempts
        )

    @property
    def not_acknowledged(self) -> list[Batch]:
        return [b for b in self.batches if not b.acknowledged]

    def problems(self) -> list[str]:
        """What breaks a guarantee: acknowledged events lost or read twice, dead letters left,
        batches the client gave up on or that got a 4xx, a wait past the deployed timeout."""
        check = self.check
        found = []
        if check.missing:
            found.append(f"{len(check.missing)} acknowledged events missing: {check.missing[:5]}")
        if check.repeated_in_views:
            found.append(
                f"{len(check.repeated_in_views)} events more than once in the _dedup views: "
                f"{check.repeated_in_views[:5]}"
            )
        if check.dead_letters_left:
            found.append(f"{check.dead_letters_left} dead-letter objects left after replay")
        for batch in self.not_acknowledged:
            last = batch.attempts[-1] if batch.attempts else None
            found.append(
                f"batch {batch.index} not acknowledged after {len(batch.attempts)} attempts "
                f"(last: {batch.status or (last.error if last else 'never sent')})"
            )
        if self.waits.max > DEPLOYED_REQUEST_TIMEOUT_SECONDS:
            found.append(f"a request waited {self.waits.max:.1f} s")
        return found

    def summary(self) -> str:
        w, d, t = self.waits, self.waits_during_fault, self.time_to_answer
        return (
            f"{self.scenario}: {self.check.acknowledged}/{self.check.sent} acknowledged, "
            f"{len(self.check.missing)} missing, {self.check.raw_duplicates} raw duplicates, "
            f"{len(self.attempts)} attempts {dict(self.statuses)}; "
            f"waits p50/p99/max {w.median:.2f}/{w.p99:.2f}/{w.max:.2f} s, "
            f"during the fault {d.median:.2f}/{d.p99:.2f}/{d.max:.2f} s ({d.count}); "
            f"time to answer p50/max {t.median:.2f}/{t.max:.2f} s"
        )


def _failing(attempt: Attempt) -> set[str]:
    """Sinks of the answer that failed, or were skipped (an open circuit); Redis is off."""
    return {sink for sink, status in attempt.sinks.items() if status in FAILING}


def run_scenario(
    cloud: LocalCloud,
    target: Target,
    scenario: Scenario,
    *,
    load: Load | None = None,
    client: ClientPolicy | None = None,
    function_env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
) -> ScenarioReport:
    """Start a function, send ``load`` through ``scenario``'s fault, replay, check, stop it.

    ``function_env`` adds to (or overrides) ``FUNCTION_ENV`` and the target's variables.
    """
    load = load or Load()
    client = client or ClientPolicy()
    env = {**FUNCTION_ENV, **scenario.function_env, **(function_env or {}), **target.env()}
    began = time.perf_counter()
    function = cloud.start_function(env=env, log_path=log_path)
    try:
        _warm_up(function, client)
        events = sample_batch(load.events, users=max(1, load.events // 10))
        chunks = [
            events[start : start + load.batch_size]
            for start in range(0, len(events), load.batch_size)
        ]
        span = load.lead_seconds + scenario.hold_seconds(request_budget(env)) + load.tail_seconds
        interval = span / max(1, len(chunks) - 1)
        batches = [
            Batch(index=n, events=chunk, release_at=n * interval) for n, chunk in enumerate(chunks)
        ]
        run = FaultRun(cloud, function, batches, env)
        _send_through(run, scenario, load, client)
    finally:
        function.stop()
    sent = time.perf_counter()
    replays = replay_all(cloud, target)
    replayed = time.perf_counter()
    check = check_stored(cloud, target, batches)
    return ScenarioReport(
        scenario=scenario.name,
        description=scenario.description,
        budget_seconds=run.budget,
        batches=batches,
        windows=run.windows,
        during=[a for b in batches for a in b.attempts if run.during_fault(a)],
        replays=replays,
        check=check,
        notes=run.notes,
        seconds={
            "send": sent - began,
            "replay": replayed - sent,
            "check": time.perf_counter() - replayed,
        },
    )


def _warm_up(function: Service, client: ClientPolicy) -> None:
    """One event until accepted: the worker's first request builds its clients."""
    deadline = time.monotonic() + 120
    with requests.Session() as session:
        while True:
            try:
                response = session.post(
                    function.url,
                    json=sample_event("search", user_id="u_warm_up"),
                    timeout=(client.connect_timeout, client.read_timeout),
                )
                if response.status_code in ACKNOWLEDGED:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{function.name} accepted no event within 120 s")
            time.sleep(0.2)


def _send_through(run: FaultRun, scenario: Scenario, load: Load, client: ClientPolicy) -> None:
    pending: queue.Queue[Batch] = queue.Queue()
    for batch in run.batches:
        pending.put(batch)
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            with requests.Session() as session:
                while True:
                    try:
                        batch = pending.get_nowait()
                    except queue.Empty:
                        return
                    delay = batch.release_at - run.now()
                    if delay > 0:
                        time.sleep(delay)
                    _deliver(run, session, batch, client)
        except BaseException as error:  # noqa: BLE001 - re-raised by the main thread
            errors.append(error)

    threads = [
        threading.Thread(target=sender, name=f"fault-sender-{n}", daemon=True)
        for n in range(load.senders)
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(max(0.0, load.lead_seconds - run.now()))
        scenario.inject(run)
    finally:
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]


def _deliver(run: FaultRun, session: requests.Session, batch: Batch, client: ClientPolicy) -> None:
    """Post the batch until it is answered for good; the same bytes every time."""
    body = json.dumps({"events": batch.events}).encode()
    headers = {"Content-Type": "application/json"}
    failures = 0
    while True:
        started = run.now()
        try:
            with run.in_flight():
                response = session.post(
                    run.function.url,
                    data=body,
                    headers=headers,
                    timeout=(client.connect_timeout, client.read_timeout),
                )
        except requests.RequestException as error:
            attempt = Attempt(
                started=started, waited=run.now() - started, status=None, error=type(error).__name__
            )
            failures += 1
            final = False
            pause = random.uniform(
                0, min(client.retry_after_cap, client.backoff_base * 2**failures)
            )
        else:
            answer = _parse(response)
            attempt = Attempt(
                started=started,
                waited=run.now() - started,
                status=response.status_code,
                sinks={
                    name: str(sink.get("status"))
                    for name, sink in answer.get("sinks", {}).items()
                    if isinstance(sink, dict)
                },
                dead_lettered=_dead_lettered(answer),
            )
            pause = min(client.retry_after_cap, _retry_after(response) or client.retry_after_cap)
            # Answered for good: accepted (200, 207) or refused as sent (any other 4xx).
            final = response.status_code != 429 and response.status_code < 500
            if final:
                batch.rejected = frozenset(
                    int(r["index"]) for r in answer.get("rejections", []) if "index" in r
                )
        batch.attempts.append(attempt)
        batch.status = attempt.status
        if final or run.now() + pause - batch.attempts[0].started > client.give_up_seconds:
            batch.finished = run.now()
            return
        time.sleep(pause)


def _parse(response: requests.Response) -> dict[str, Any]:
    try:
        parsed = response.json()
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _dead_lettered(answer: Mapping[str, Any]) -> int:
    sink = answer.get("sinks", {}).get("dead_letter")
    if isinstance(sink, dict) and sink.get("status") in ("ok", "partial"):
        return int(sink.get("rows", 0))
    return 0


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


# --- after the run ------------------------------------------------------------------------------


def replay_all(cloud: LocalCloud, target: Target, passes: int = 5) -> list[ReplayReport]:
    """Replay the target's dead letters until none is left (or ``passes`` runs)."""
    config = cloud.config(**target.env(), BIGQUERY_DEADLINE_SECONDS="60")
    reports = []
    for _ in range(passes):
        # As the operator's command does: events BigQuery already holds are not inserted again.
        report = replay(
            dead_letter_writer(config),
            bigquery_sink(config),
            progress=io.StringIO(),
            stored=bigquery_lookup(config),
        )
        reports.append(report)
        if report.still_failing == 0:
            break
        time.sleep(1)
    return reports


def check_stored(cloud: LocalCloud, target: Target, batches: Sequence[Batch]) -> Check:
    sent = [event for batch in batches for event in batch.events]
    acknowledged = {event["event_id"] for batch in batches for event in batch.accepted}
    client = cloud.bigquery_client()
    ids = [event["event_id"] for event in sent]
    tables = sorted({MODEL_BY_EVENT_TYPE[event["event_type"]].TABLE for event in sent})
    events = target.datasets.events
    in_views = _copies(client, [f"{events}.{table}_dedup" for table in tables], ids)
    raw = _copies(client, [f"{events}.{table}" for table in tables], ids)
    unacknowledged = {e["event_id"] for e in sent} - acknowledged
    dead_letters = list(cloud.bucket(target.bucket).list_blobs(prefix="dead-letter/"))
    return Check(
        sent=len(sent),
        acknowledged=len(acknowledged),
        missing=sorted(acknowledged - set(in_views)),
        repeated_in_views=sorted(i for i, n in in_views.items() if n > 1),
        raw_duplicates=sum(n - 1 for n in raw.values()),
        unacknowledged_stored=len(unacknowledged & set(raw)),
        dead_letters_left=len(dead_letters),
    )


def _copies(client: bigquery.Client, tables: Sequence[str], ids: Sequence[str]) -> Counter[str]:
    """Rows per event_id among ``ids`` in these tables (raw tables or their views), in one
    query: the emulator takes a moment per query."""
    if not tables:
        return Counter()
    union = " UNION ALL ".join(
        f"SELECT event_id FROM `{table}` "
        "WHERE received_at > TIMESTAMP('2000-01-01') AND event_id IN UNNEST(@ids)"
        for table in tables
    )
    job = client.query(
        f"SELECT event_id, COUNT(*) AS copies FROM ({union}) GROUP BY event_id",
        job_config=bigquery.QueryJobConfig(
            query_parameters=[bigquery.ArrayQueryParameter("ids", "STRING", list(ids))]
        ),
    )
    return Counter({row["event_id"]: int(row["copies"]) for row in job.result()})
