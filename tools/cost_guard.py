"""The cost guard by hand: ``python -m tools.cost_guard status|resume|trip|notify``.

- ``status``: capture's mode, why, and what is pending (the control document).
- ``resume``: stream again now, for the rest of the budget period: waits until every capture
  instance has read the switch, loads what was archived but not streamed into the tables
  (free batch loads, original event ids, nothing twice), resumes the scheduled queries and
  starts their runs for the days they missed. Safe to run again if it stopped half-way.
- ``trip``: archive-only now, until ``resume`` (what the guard does past the budget).
- ``notify``: deliver a budget notification to a cost guard function (``make run``'s, on
  127.0.0.1:8083 by default), as the budget's Pub/Sub topic would.

Against a project, the configuration comes from the same variables as the function's
(``GCP_PROJECT``, ``BIGQUERY_DATASET``, ``GCS_BUCKET``, ``CAPTURE_MODE_BUCKET``,
``SCHEDULED_QUERIES``), with the operator's Application Default Credentials. ``--local`` reads
``make run``'s local cloud instead.
"""

import argparse
import os
import sys
from collections.abc import Mapping
from typing import NoReturn

import requests

from event_capture.cost_guard.config import load_guard_config
from event_capture.cost_guard.guard import CostGuard, Outcome
from event_capture.cost_guard.wiring import build_guard
from event_capture.ingest.config import ConfigError
from event_capture.ingest.retry import describe
from localcloud import budget_notification
from localcloud.budget_notification import month_start, notification_data
from localcloud.cloud import LocalCloud
from localcloud.processes import port_open
from localcloud.run import LOCAL_MODE_TTL_SECONDS, guard_port, run_settings

# make run's guard (localcloud/run.py: GUARD_PORT).
LOCAL_GUARD_URL = f"http://127.0.0.1:{guard_port()}/"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message}\n")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(prog="python -m tools.cost_guard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--local", action="store_true", help="make run's local cloud")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="print the control document")
    commands.add_parser("resume", help="stream again; load the archived events; resume queries")
    commands.add_parser("trip", help="archive-only until resume")
    notify = commands.add_parser("notify", help="deliver a budget notification")
    notify.add_argument("--cost", type=float, required=True, help="costAmount")
    notify.add_argument("--budget", type=float, default=5.0, help="budgetAmount (default 5)")
    notify.add_argument("--url", default=LOCAL_GUARD_URL, help=f"default {LOCAL_GUARD_URL}")
    return parser.parse_args(argv)


def _environment(local: bool) -> Mapping[str, str]:
    if not local:
        return os.environ
    settings = run_settings()
    if not port_open(settings.gcs_port):
        sys.exit(f"error: no fake-gcs-server on 127.0.0.1:{settings.gcs_port}; run `make run`")
    return LocalCloud(settings).guard_env(CAPTURE_MODE_TTL_SECONDS=LOCAL_MODE_TTL_SECONDS)


def _print(outcome: Outcome) -> None:
    print(f"{outcome.action}: {outcome.reason} (capture: {outcome.mode})")
    if outcome.paused:
        print(f"  scheduled queries paused: {', '.join(outcome.paused)}")
    if outcome.resumed:
        print(f"  scheduled queries resumed: {', '.join(outcome.resumed)}")
    if load := outcome.load:
        print(f"  archive: {load.objects} objects read, {load.loaded} events loaded")
        for table, counts in sorted(load.tables.items()):
            print(
                f"    {table}: {counts.found} archived, {counts.present} already stored, "
                f"{counts.loaded} loaded"
            )
    for problem in outcome.runs_not_started:
        print(f"  runs not started (run the missed days by hand): {problem}")


def main(argv: list[str] | None = None, guard: CostGuard | None = None) -> int:
    args = _arguments(argv)
    if args.command == "notify":
        return _notify(args)
    if guard is None:
        try:
            guard = build_guard(load_guard_config(_environment(args.local)))
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    try:
        if args.command == "status":
            print(guard.status().to_json(), end="")
        elif args.command == "resume":
            print(
                "switching back: waiting for every capture instance, then loading ...", flush=True
            )
            _print(guard.resume())
        else:
            _print(guard.trip())
    except Exception as error:  # noqa: BLE001 - one line for the operator, no traceback
        # Every step can be repeated: the command continues where it stopped when run again.
        print(f"error: {args.command} stopped: {describe(error)}; run it again", file=sys.stderr)
        return 1
    return 0


def _notify(args: argparse.Namespace) -> int:
    # Of this month's period: the guard refuses a period that has not begun (switch back with
    # ``resume``, as an operator would before the next period).
    data = notification_data(cost=args.cost, budget=args.budget, interval_start=month_start())
    try:
        answer = budget_notification.deliver(args.url, data)
    except requests.RequestException as error:
        print(f"error: no cost guard answered at {args.url}: {describe(error)}", file=sys.stderr)
        return 1
    print(f"delivered: the guard answered {answer.status_code}")
    return 0 if answer.status_code < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
