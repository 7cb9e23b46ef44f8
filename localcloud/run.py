"""``make run``: the whole local stack in the foreground until Ctrl-C.

Starts the BigQuery emulator, fake-gcs-server and (with REDIS_ENABLED=true) redis-server,
creates the dataset, tables and bucket from ``schemas/tables``, then serves the capture
function on 127.0.0.1:8080. BigQuery and GCS data live under ``.devstack/`` and survive a
restart; ``make clean-data`` forgets them.
"""

import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from localcloud import bootstrap
from localcloud.processes import (
    STATE_DIR,
    Service,
    bigquery_emulator,
    capture_function,
    gcs_emulator,
    port_open,
    redis_server,
)
from localcloud.sample_events import sample_batch
from localcloud.warehouse import create_warehouse
from event_capture.warehouse.catalog import Datasets

PROJECT = os.environ.get("GCP_PROJECT", "local-capture")
DATASET = os.environ.get("BIGQUERY_DATASET", "events")
BUCKET = os.environ.get("GCS_BUCKET", "local-capture-events")
PORT = int(os.environ.get("PORT", "8080"))
BIGQUERY_PORT = int(os.environ.get("BIGQUERY_EMULATOR_PORT", "9050"))
GCS_PORT = int(os.environ.get("GCS_EMULATOR_PORT", "4443"))
REDIS_PORT = int(os.environ.get("REDIS_PORT", "6380"))
REDIS_ENABLED = os.environ.get("REDIS_ENABLED", "false").lower() == "true"
WAREHOUSE_DATASETS = Datasets(f"{PROJECT}.{DATASET}", f"{PROJECT}.analytics")


def _check_free(port: int, what: str) -> None:
    if port_open(port):
        sys.exit(
            f"error: port {port} ({what}) is already in use; stop that process or set its port"
        )


def main() -> None:
    for port, what in (
        (PORT, "PORT"),
        (BIGQUERY_PORT, "BIGQUERY_EMULATOR_PORT"),
        (GCS_PORT, "GCS_EMULATOR_PORT"),
    ):
        _check_free(port, what)
    if REDIS_ENABLED:
        _check_free(REDIS_PORT, "REDIS_PORT")

    services: list[Service] = []

    def stop(signum: int = 0, frame: FrameType | None = None) -> None:
        print("\nstopping the local stack ...", flush=True)
        for service in reversed(services):
            service.stop()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        print("starting the BigQuery emulator (first start loads its SQL engine) ...", flush=True)
        services.append(
            bigquery_emulator(PROJECT, STATE_DIR / "bigquery-data", BIGQUERY_PORT).start()
        )
        services.append(gcs_emulator(GCS_PORT, root=STATE_DIR / "gcs").start())
        os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{GCS_PORT}"
        if REDIS_ENABLED:
            services.append(redis_server(REDIS_PORT).start())
        bigquery_endpoint = f"http://127.0.0.1:{BIGQUERY_PORT}"
        bigquery_client = bootstrap.bigquery_client(PROJECT, bigquery_endpoint)
        tables = bootstrap.create_dataset_and_tables(bigquery_client, DATASET)
        create_warehouse(bigquery_client, WAREHOUSE_DATASETS)
        bootstrap.create_bucket(bootstrap.storage_client(PROJECT), BUCKET)
        env = {
            "GCP_PROJECT": PROJECT,
            "BIGQUERY_DATASET": DATASET,
            "BIGQUERY_EMULATOR_HOST": bigquery_endpoint,
            "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{GCS_PORT}",
            "GCS_BUCKET": BUCKET,
            "REDIS_ENABLED": "true" if REDIS_ENABLED else "false",
            "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
        }
        function = capture_function(env, PORT)
        # The function's one-line-per-request JSON log goes to this terminal, as on Cloud Run.
        function.log_path = Path("/dev/stdout")
        services.append(function.start())
    except Exception as error:  # noqa: BLE001 - report and clean up whatever started
        print(f"error: {error}", file=sys.stderr)
        stop()
        return

    sample = STATE_DIR / "sample-batch.json"
    sample.write_text(json.dumps({"events": sample_batch(6, users=2)}, indent=2))
    query = (
        f"SELECT event_type, COUNT(*) AS events FROM `{PROJECT}.{DATASET}.searches` "
        "WHERE received_at > TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY) GROUP BY 1"
    )
    print(
        f"""
capture function ready on http://127.0.0.1:{PORT}  (tables: {", ".join(tables)})
BigQuery emulator {bigquery_endpoint}, fake-gcs-server http://127.0.0.1:{GCS_PORT}, \
Redis {"on port " + str(REDIS_PORT) if REDIS_ENABLED else "off (REDIS_ENABLED=true to enable)"}

send a sample batch (fresh timestamps and ids in {sample.relative_to(Path.cwd())}):
  curl -s -X POST http://127.0.0.1:{PORT} -H 'Content-Type: application/json' \\
       --data @{sample.relative_to(Path.cwd())} | python3 -m json.tool

see the rows in BigQuery (every table, today's counts and latest rows):
  .venv/bin/python -m devstack.show_rows
or any query:
  .venv/bin/python -m devstack.show_rows {shlex.quote(query)}

Ctrl-C stops everything.
""",
        flush=True,
    )
    while all(service.running for service in services):
        time.sleep(0.5)
    dead = [service.name for service in services if not service.running]
    print(f"error: {', '.join(dead)} stopped unexpectedly; see .devstack/logs/", file=sys.stderr)
    stop()


if __name__ == "__main__":
    main()
