"""``make run``: the local cloud in the foreground until Ctrl-C.

Starts the BigQuery emulator, fake-gcs-server and (with REDIS_ENABLED=true) redis-server,
creates the dataset, tables and bucket from ``event_capture/tables``, and the warehouse's views
and tables, then serves the capture function on 127.0.0.1:8080, the collector (Segment's API) on
127.0.0.1:8082, the cost guard on 127.0.0.1:8083, the archive backfill on 127.0.0.1:8084 and
the forget function on 127.0.0.1:8085 (each run every hour, as the deployed schedules run them)
and, with Redis, the features function on 127.0.0.1:8081. BigQuery and GCS data live
under ``.localcloud/`` and survive a restart; ``make clean-data`` forgets them.
"""

import datetime as dt
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from types import FrameType

import requests

from event_capture.contracts.archive_layout import BACKFILL_EVERY_MINUTES
from event_capture.contracts.forget import RUN_EVERY_MINUTES as FORGET_RUN_EVERY_MINUTES
from event_capture.contracts.forget import RUNS_TOPIC as FORGET_RUNS_TOPIC
from event_capture.tables.definitions import load_table_definitions
from localcloud import pubsub_push
from localcloud.cloud import REQUEST_LOGS, CloudSettings, LocalCloud
from localcloud.processes import STATE_DIR, port_open
from localcloud.sample_events import sample_batch, sample_segment_batch
from localcloud.warehouse import create_warehouse

# The variables that move make run's ports, and their defaults.
PORT_VARIABLES = {
    "PORT": 8080,
    "BIGQUERY_EMULATOR_PORT": 9050,
    "BIGQUERY_EMULATOR_GRPC_PORT": 9060,
    "GCS_EMULATOR_PORT": 4443,
    "REDIS_PORT": 6380,
    "FEATURES_PORT": 8081,
    "COLLECTOR_PORT": 8082,
    "GUARD_PORT": 8083,
    "BACKFILL_PORT": 8084,
    "FORGET_PORT": 8085,
}
# The functions' own variables make run takes from its environment.
PASSED_TO_FUNCTIONS = ("BIGQUERY_WRITE_API",)
# make run's capture functions read the cost guard's switch this often (30 s in the cloud), so
# that trying it locally is quick; the guard waits as long before it loads the archive.
LOCAL_MODE_TTL_SECONDS = "5"
# make run's collector accepts this write key; a deployed one takes its keys from Secret Manager.
LOCAL_WRITE_KEY = "wk_local_make_run_only"
# The local key's id: what the rows' arrived_via names (collector:web) and make purge selects.
LOCAL_KEY_ID = "web"
# A server key, as the app's backend SDKs hold one: its calls' user ids are kept as sent.
LOCAL_SERVER_KEY = "sk_local_make_run_only_backend"
LOCAL_SERVER_KEY_ID = "backend"
# What make run's backend proves user ids with (schemas/user_proof.py): a page's calls under the
# client key keep their userId only with integrations.Intercom.user_hash made under it.
LOCAL_USER_ID_SECRET = "uid_local_make_run_only_not_secret"  # noqa: S105 - local only
LOCAL_WRITE_KEYS = [
    {"id": LOCAL_KEY_ID, "class": "client", "key": LOCAL_WRITE_KEY},
    {"id": LOCAL_SERVER_KEY_ID, "class": "server", "key": LOCAL_SERVER_KEY},
]


def run_settings(env: Mapping[str, str] = os.environ) -> CloudSettings:
    """make run's cloud: fixed ports and data under .localcloud/, from these variables."""
    port = {name: int(env.get(name, default)) for name, default in PORT_VARIABLES.items()}
    return CloudSettings(
        project=env.get("GCP_PROJECT", "local-capture"),
        dataset=env.get("BIGQUERY_DATASET", "events"),
        bucket=env.get("GCS_BUCKET", "local-capture-events"),
        data_dir=STATE_DIR,
        bigquery_port=port["BIGQUERY_EMULATOR_PORT"],
        bigquery_grpc_port=port["BIGQUERY_EMULATOR_GRPC_PORT"],
        gcs_port=port["GCS_EMULATOR_PORT"],
        redis_port=port["REDIS_PORT"],
        function_port=port["PORT"],
        features_port=port["FEATURES_PORT"],
        collector_port=port["COLLECTOR_PORT"],
        redis=env.get("REDIS_ENABLED", "false").lower() == "true",
        # BIGQUERY_WRITE_API=true make run: the functions append over the emulator's gRPC.
        function_env={name: env[name] for name in PASSED_TO_FUNCTIONS if env.get(name)},
    )


def running_cloud(env: Mapping[str, str] = os.environ) -> tuple[LocalCloud, dict[str, str]]:
    """The cloud ``make run`` serves, for a tool to work on (ValueError when it is not up), and
    the variables that say what of it runs: Redis, when it does."""
    settings = run_settings(env)
    if not port_open(settings.gcs_port):
        raise ValueError(f"--local: no fake-gcs-server on 127.0.0.1:{settings.gcs_port}; make run")
    redis = "true" if port_open(settings.redis_port) else "false"
    return LocalCloud(settings), {"REDIS_ENABLED": redis}


def guard_port(env: Mapping[str, str] = os.environ) -> int:
    return int(env.get("GUARD_PORT", PORT_VARIABLES["GUARD_PORT"]))


def backfill_port(env: Mapping[str, str] = os.environ) -> int:
    return int(env.get("BACKFILL_PORT", PORT_VARIABLES["BACKFILL_PORT"]))


def forget_port(env: Mapping[str, str] = os.environ) -> int:
    return int(env.get("FORGET_PORT", PORT_VARIABLES["FORGET_PORT"]))


def push_run(url: str, topic: str) -> None:
    """One scheduled run of the function at ``url``, as the deployed job's message on ``topic``
    reaches it (the functions read nothing of the message); its answer comes after the run."""
    answer = pubsub_push.deliver(
        url, pubsub_push.envelope(b"", subscription=f"eventarc-{topic}"), topic=topic
    )
    answer.raise_for_status()


def push_backfill_run(url: str) -> None:
    push_run(url, "archive-backfill-runs")


def push_forget_run(url: str) -> None:
    push_run(url, FORGET_RUNS_TOPIC)


def run_schedule(
    push: Callable[[], None],
    every_seconds: float,
    stopping: threading.Event,
    name: str = "archive backfill",
) -> None:
    """Cloud Scheduler's stand-in: ``push`` every interval until ``stopping`` is set; a failed
    run is reported and the next one comes all the same, as the deployed schedule does."""
    while not stopping.wait(every_seconds):
        try:
            push()
        except requests.RequestException as error:
            print(f"{name}: the scheduled run failed: {error}", file=sys.stderr)


def _ports_in_use(settings: CloudSettings) -> list[str]:
    ports = {
        "PORT": settings.function_port,
        "BIGQUERY_EMULATOR_PORT": settings.bigquery_port,
        "BIGQUERY_EMULATOR_GRPC_PORT": settings.bigquery_grpc_port,
        "GCS_EMULATOR_PORT": settings.gcs_port,
        "COLLECTOR_PORT": settings.collector_port,
        "GUARD_PORT": guard_port(),
        "BACKFILL_PORT": backfill_port(),
        "FORGET_PORT": forget_port(),
    }
    if settings.redis:
        ports["REDIS_PORT"] = settings.redis_port
        ports["FEATURES_PORT"] = settings.features_port
    return [f"port {port} ({name})" for name, port in ports.items() if port_open(port)]


def main() -> None:
    settings = run_settings()
    if busy := _ports_in_use(settings):
        sys.exit(f"error: {', '.join(busy)} already in use; stop that process or set the variable")
    cloud = LocalCloud(settings)

    follow: subprocess.Popen[bytes] | None = None
    stopping = threading.Event()

    def stop(signum: int = 0, frame: FrameType | None = None, status: int = 0) -> None:
        print("\nstopping the local cloud ...", flush=True)
        stopping.set()
        if follow is not None:
            follow.terminate()
        cloud.stop()
        sys.exit(status)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        print("starting the BigQuery emulator (first start loads its SQL engine) ...", flush=True)
        cloud.start()
        create_warehouse(cloud.bigquery_client(), settings.warehouse_datasets)
        # Both follow the cost guard's switch, as deployed.
        mode = {
            "CAPTURE_MODE_BUCKET": settings.control_bucket,
            "CAPTURE_MODE_TTL_SECONDS": LOCAL_MODE_TTL_SECONDS,
        }
        # The request lines go to their files (make report routes them, as Cloud Logging's
        # sink would) and, through tail, to this terminal, as on Cloud Run.
        function = cloud.start_function(env=mode)
        collector = cloud.start_collector(
            write_keys=LOCAL_WRITE_KEYS,
            port=settings.collector_port,
            env={**mode, "COLLECTOR_USER_ID_SECRETS": LOCAL_USER_ID_SECRET},
        )
        logs = [settings.log_dir / name for name in REQUEST_LOGS]
        follow = subprocess.Popen(["tail", "-q", "-n", "0", "-F", *map(str, logs)])
        guard = cloud.start_guard(port=guard_port(), log_path=Path("/dev/stdout"), env=mode)
        backfill = cloud.start_backfill(port=backfill_port(), log_path=Path("/dev/stdout"))
        threading.Thread(
            target=run_schedule,
            args=(partial(push_backfill_run, backfill.url), BACKFILL_EVERY_MINUTES * 60, stopping),
            name="backfill-schedule",
            daemon=True,
        ).start()
        forgetting = cloud.start_forget(
            port=forget_port(),
            log_path=Path("/dev/stdout"),
            env={"CAPTURE_MODE_TTL_SECONDS": LOCAL_MODE_TTL_SECONDS},
        )
        threading.Thread(
            target=run_schedule,
            args=(
                partial(push_forget_run, forgetting.url),
                FORGET_RUN_EVERY_MINUTES * 60,
                stopping,
                "forget",
            ),
            name="forget-schedule",
            daemon=True,
        ).start()
        features = (
            cloud.start_features(port=settings.features_port, log_path=Path("/dev/stdout"))
            if settings.redis
            else None
        )
    except Exception as error:  # noqa: BLE001 - report and clean up whatever started
        print(f"error: {error}", file=sys.stderr)
        stop(status=1)

    sample = STATE_DIR / "sample-batch.json"
    sample.write_text(json.dumps({"events": sample_batch(6, users=2)}, indent=2))
    shown = sample.relative_to(Path.cwd()) if sample.is_relative_to(Path.cwd()) else sample
    segment = STATE_DIR / "sample-segment-batch.json"
    segment.write_text(json.dumps(sample_segment_batch(), indent=2))
    segment_shown = (
        segment.relative_to(Path.cwd()) if segment.is_relative_to(Path.cwd()) else segment
    )
    query = (
        f"SELECT event_type, COUNT(*) AS events "
        f"FROM `{settings.project}.{settings.dataset}.searches` "
        "WHERE received_at > TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY) GROUP BY 1"
    )
    tables = [definition["table_id"] for definition in load_table_definitions()]
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    redis = f"on port {cloud.redis.port}" if settings.redis else "off (REDIS_ENABLED=true)"
    sample_user = json.loads(sample.read_text())["events"][0]["user_id"]
    nightly_and = " (and load the features into Redis)" if features else ""
    serving = (
        f"""
features function ready on {features.url}; a sample user's features (after make warehouse,
or live only before it):
  curl -s '{features.url}/v1/users/{sample_user}/features?limit=5' | python3 -m json.tool
"""
        if features
        else ""
    )
    print(
        f"""
capture function ready on {function.url}  (tables: {", ".join(tables)})
BigQuery emulator {cloud.bigquery.url}, fake-gcs-server {cloud.gcs.url}, Redis {redis}

send a sample batch (fresh timestamps and ids in {shown}):
  curl -s -X POST {function.url} -H 'Content-Type: application/json' \\
       --data @{shown} | python3 -m json.tool

collector (Segment's API) ready on {collector.url}: SDKs take it as their host, with the
write key {LOCAL_WRITE_KEY} (a client key, id {LOCAL_KEY_ID}: a userId is kept only with its
proof, user_proof({LOCAL_USER_ID_SECRET!r}, user_id) from event_capture.schemas.user_proof, in
integrations.Intercom.user_hash) or {LOCAL_SERVER_KEY} (a server key, id {LOCAL_SERVER_KEY_ID});
a sample Segment batch:
  curl -s -u {LOCAL_WRITE_KEY}: -X POST {collector.url}/v1/batch \\
       -H 'Content-Type: application/json' --data @{segment_shown} | python3 -m json.tool

see the rows in BigQuery (every table, today's counts and latest rows):
  .venv/bin/python -m tools.show_rows
or any query:
  .venv/bin/python -m tools.show_rows {shlex.quote(query)}
run the nightly scheduled queries on today's data{nightly_and}:
  make {"warehouse" if features else "nightly"} RUN_DATE={tomorrow}
{serving}
cost guard ready on {guard.url}: spend the budget (capture goes archive-only), look, switch back
(the archived events are loaded into the tables):
  .venv/bin/python -m tools.cost_guard notify --cost 6 --budget 5
  .venv/bin/python -m tools.cost_guard --local status
  .venv/bin/python -m tools.cost_guard --local resume
archive backfill ready on {backfill.url}, run every {BACKFILL_EVERY_MINUTES} minutes as deployed
(the lines an instance stopped before its group commit lost); any range by hand:
  make backfill-archive FROM={dt.datetime.now(dt.UTC):%Y-%m-%dT00:00Z} TO=<an hour ago>
forget function ready on {forgetting.url}, run every {FORGET_RUN_EVERY_MINUTES} minutes as deployed
(the requests the app files in the {settings.forget_bucket} bucket); a user now:
  make forget USER={sample_user} [SUPPRESS=true]
Ctrl-C stops everything.
""",
        flush=True,
    )
    services = [
        *cloud.backends,
        function,
        collector,
        guard,
        backfill,
        forgetting,
        *([features] if features else []),
    ]
    while all(service.running for service in services):
        time.sleep(0.5)
    dead = [service.name for service in services if not service.running]
    print(f"error: {', '.join(dead)} stopped unexpectedly; see .localcloud/logs/", file=sys.stderr)
    stop(status=1)


if __name__ == "__main__":
    main()
