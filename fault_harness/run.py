"""One scenario's run, start to end: the function started, the load sent through the fault, the
function stopped, the dead letters replayed and BigQuery checked, the archive backfilled and
checked, the report made (the steps: ``fault_harness``)."""

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fault_harness.check import backfill_run, check_archive, check_stored, replay_all
from fault_harness.report import ScenarioReport
from fault_harness.scenarios import FaultRun, Scenario
from fault_harness.senders import Batch, ClientPolicy, Load, sending, warm_up
from fault_harness.target import FUNCTION_ENV, Target, request_budget
from localcloud.cloud import LocalCloud
from localcloud.sample_events import sample_batch


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
    # The run's range for the backfill, a second wider than the run either side.
    range_start = datetime.now(UTC) - timedelta(seconds=1)
    function = cloud.start_function(env=env, log_path=log_path)
    try:
        warm_up(function, client)
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
        with sending(run, function.url, batches, load, client):
            time.sleep(max(0.0, load.lead_seconds - run.now()))
            scenario.inject(run)
    finally:
        # Gracefully, as Cloud Run stops an instance: the worker writes its archive lines.
        function.stop()
    range_end = datetime.now(UTC) + timedelta(seconds=1)
    sent = time.perf_counter()
    replays = replay_all(cloud, target)
    replayed = time.perf_counter()
    check = check_stored(cloud, target, batches)
    checked = time.perf_counter()
    # After replay: dead letters reach BigQuery only then, and the backfill reads BigQuery.
    archive = check_archive(
        cloud, target, batches, backfill_run(cloud, target, range_start, range_end)
    )
    return ScenarioReport(
        scenario=scenario.name,
        description=scenario.description,
        budget_seconds=run.budget,
        batches=batches,
        windows=run.windows,
        during=[a for b in batches for a in b.attempts if run.during_fault(a)],
        replays=replays,
        check=check,
        archive=archive,
        notes=run.notes,
        seconds={
            "send": sent - began,
            "replay": replayed - sent,
            "check": checked - replayed,
            "backfill": time.perf_counter() - checked,
        },
    )
