"""Fault-injection benchmark: prints figures, asserts nothing (``python bench/faults.py``).

Every scenario of the fault harness (``fault_harness/``) on a ``LocalCloud`` of its own (fresh
temporary data dir, fake-gcs-server on its filesystem backend so dead letters survive its
restart): BigQuery killed and restarted, BigQuery frozen (SIGSTOP) past its deadline, Cloud
Storage killed, the function's gunicorn worker killed mid-request (three times), and both
backends down for longer than a request's whole budget; BigQuery killed for 40 s too. Each runs
a fresh capture function (1 worker, 8 threads, the harness's short deadlines, the archive's
group commit every second, or every minute where workers are killed) under several sender
threads that resend on 503 (Retry-After capped at 1 s), 429/5xx and connection errors; then
the function is stopped (SIGTERM), dead letters are replayed and BigQuery is read through the
``_dedup`` views, and the archive is backfilled over the run's range and read.

Per scenario: events sent and acknowledged, acknowledged events missing after replay (must be
0), raw duplicate rows (allowed, hidden by the views), the archive's lines the backfill wrote
(what killed workers lost), acknowledged events missing from the archive after it (must be 0)
and duplicate archive lines, attempts by status, and how long
requests waited: median, p99 and maximum of every attempt, of the attempts started while the
fault lasted (the goal: median under 1 s, none past the request budget), and of each batch's
time from its first attempt to its answer (resends included). The exit status is non-zero
only when a guarantee broke (an acknowledged event missing or read twice, or not in the archive
after the backfill, a dead letter left, a batch never acknowledged) or the local cloud failed.
"""

import argparse
import sys
import time

from bench.results import recorded
from fault_harness.report import ScenarioReport
from fault_harness.run import run_scenario
from fault_harness.scenarios import all_scenarios, no_fault
from fault_harness.senders import ClientPolicy, Load
from fault_harness.target import prepare
from localcloud.cloud import CloudSettings, LocalCloud
from localcloud.processes import STATE_DIR

LOG_DIR = STATE_DIR / "logs" / "faults-bench"
NO_FAULT = no_fault().name


def _row(report: ScenarioReport) -> str:
    check, archive = report.check, report.archive
    waits, during, answer = report.waits, report.waits_during_fault, report.time_to_answer
    over_budget = sum(a.waited > report.budget_seconds for a in report.during)
    return (
        f"| {report.scenario} | {check.acknowledged}/{check.sent} | {len(check.missing)} "
        f"| {check.raw_duplicates} "
        f"| {archive.backfilled} / {len(archive.missing)} / {archive.duplicates} "
        f"| {len(report.attempts)} "
        f"| {', '.join(f'{k}: {v}' for k, v in sorted(report.statuses.items()))} "
        f"| {waits.median:.2f} / {waits.p99:.2f} / {waits.max:.2f} "
        f"| {during.median:.2f} / {during.p99:.2f} / {during.max:.2f} ({during.count}) "
        f"| {over_budget} | {answer.median:.2f} / {answer.max:.2f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=600, help="events per scenario")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--only", nargs="*", default=None, help="scenario names to run")
    parser.add_argument(
        "--bigquery-api",
        choices=("insert-all", "write-api"),
        help="the functions' and replay's BigQuery path (default: the configuration's)",
    )
    args = parser.parse_args(argv)

    load = Load(
        events=args.events,
        batch_size=args.batch_size,
        senders=args.senders,
        lead_seconds=2.0,
        tail_seconds=2.0,
    )
    everything = [no_fault(), *all_scenarios()]
    scenarios = [s for s in everything if not args.only or s.name in args.only]
    api = {"insert-all": "false", "write-api": "true"}.get(args.bigquery_api or "")
    settings = CloudSettings(
        project="faults",
        bucket="faults-events",
        persistent_gcs=True,
        log_dir=LOG_DIR,
        function_env={"BIGQUERY_WRITE_API": api} if api else {},
    )
    reports = []
    began = time.perf_counter()
    with LocalCloud(settings) as cloud:
        # The emulator's first query loads its SQL engine; not inside a scenario.
        cloud.rows("searches", [])
        target = prepare(cloud)
        for scenario in scenarios:
            print(f"{scenario.name}: {scenario.description} ...", file=sys.stderr, flush=True)
            report = run_scenario(
                cloud,
                target,
                scenario,
                load=load,
                client=ClientPolicy(),
                log_path=LOG_DIR / f"{scenario.name}.log",
            )
            reports.append(report)
            phases = ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items())
            print(f"  {report.summary()} ({phases})", file=sys.stderr, flush=True)
            for note in report.notes:
                print(f"  note: {note}", file=sys.stderr)

    print(
        f"\n{load.events} events per scenario in batches of {load.batch_size}, "
        f"{load.senders} senders; budget per request {reports[0].budget_seconds:g} s; "
        f"waits in seconds: p50 / p99 / max\n"
        if reports
        else "no scenario ran"
    )
    print(
        "| scenario | acknowledged | missing | raw duplicates "
        "| archive: backfilled / missing / duplicate lines | attempts | statuses "
        "| every attempt's wait | wait while the fault lasts (attempts) | past budget "
        "| batch time to answer p50 / max |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for report in reports:
        print(_row(report))
    print()
    failed = False
    for report in reports:
        sinks = ", ".join(f"{k}: {v}" for k, v in sorted(report.sink_failures.items())) or "none"
        replayed = sum(r.rows for r in report.replays)
        print(
            f"{report.scenario}: sink failures in answers: {sinks}; dead-lettered rows "
            f"{report.dead_lettered}, replayed {replayed} in {len(report.replays)} run(s); "
            f"unacknowledged events stored anyway {report.check.unacknowledged_stored}"
        )
        during = report.waits_during_fault
        if report.scenario != NO_FAULT:
            met = during.median < 1 and during.max <= report.budget_seconds
            print(
                f"  goal while the fault lasts (median < 1 s, none past "
                f"{report.budget_seconds:g} s): {'met' if met else 'missed'}"
            )
        for problem in report.problems():
            failed = True
            print(f"  PROBLEM: {problem}")
    print(f"\ntotal {time.perf_counter() - began:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(recorded("faults", main))
