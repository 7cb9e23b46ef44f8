"""The cost model's measurements, taken on a local cloud of its own (about two minutes).

Rows: sample events of every event type go through the real capture pipeline (validation,
enrichment, the BigQuery sink's insertAll, the archive sink) into the emulators; the stored rows
are read back and their logical bytes worked out from their values (``event_capture.cost.sizes``),
the archive objects are read for their bytes per event, and the function's log line for a
request is written as the function writes it. History: the warehouse benchmark's 90 days of
sample events (``localcloud.history``) are loaded, ``user_daily`` backfilled and every scheduled
script run once; what each statement of each script reads is counted in the data, and the
scheduled tables' sizes are read.

The figures are cached in ``.localcloud/cost/measurements.json`` with a fingerprint of what
they derive from (the table definitions, the event models, the warehouse SQL and catalog, the
sample events, the log line's fields and this code): a change to any of them measures again.
"""

import contextlib
import datetime as dt
import hashlib
import io
import json
import random
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from google.cloud import bigquery

from event_capture.cost.model import History as MeasuredHistory
from event_capture.cost.model import Measurements, NightlyRead, TableSize
from event_capture.cost.sizes import row_size_sql, table_reads, table_size
from event_capture.ingest.answer import capture_answer
from event_capture.ingest.pipeline import CapturePipeline
from event_capture.platform.log_line import write_log_line
from event_capture.schemas.families import EVENT_TYPES
from event_capture.tables.definitions import load_table_definitions
from event_capture.warehouse.catalog import SCHEDULED_TABLES
from event_capture.warehouse.render import scheduled_sql, table_name
from localcloud import bootstrap
from localcloud.cloud import CloudSettings, LocalCloud
from localcloud.history import History, history_mix, load_history
from localcloud.processes import REPO, STATE_DIR
from localcloud.sample_events import sample_event
from localcloud.warehouse import backfill_partials, create_warehouse, run_all

SETTINGS = CloudSettings(
    project="cost-measure",
    bucket="cost-measure-events",
    log_dir=STATE_DIR / "logs" / "cost-measure",
    persistent_gcs=False,
)
# The samples go to a dataset and a bucket of their own, so the history's nightly reads see only
# the history, and the archive's bytes only the samples.
SAMPLES_DATASET = "samples"
SAMPLES_PER_TYPE = 40
SEED = 15
CACHE = STATE_DIR / "cost" / "measurements.json"
INPUTS = (
    "src/event_capture/tables/*.json",
    "client/src/event_capture/schemas/*.py",
    "src/event_capture/warehouse/sql/*.sql",
    "src/event_capture/warehouse/catalog.py",
    "src/event_capture/warehouse/render.py",
    "src/event_capture/ingest/log_fields.py",
    "src/event_capture/cost/sizes.py",
    "src/event_capture/cost/reads.py",
    "localcloud/sample_events.py",
    "localcloud/history.py",
    "tools/cost_measure.py",
)


def fingerprint(root: Path = REPO) -> str:
    digest = hashlib.sha256()
    for pattern in INPUTS:
        for path in sorted(root.glob(pattern)):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def table_of_event_type() -> dict[str, str]:
    return {
        event_type: definition["table_id"]
        for definition in load_table_definitions()
        for event_type in definition["event_types"]
    }


def log_line_bytes(line: dict[str, Any]) -> int:
    """The bytes of ``line`` as the function writes it to stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        write_log_line(line)
    return len(out.getvalue().encode())


def stored_row_bytes(
    client: bigquery.Client, table: str, event_ids: Iterable[str]
) -> dict[str, int]:
    """Each stored row's logical bytes, by event id (the last copy, were there several)."""
    schema = client.get_table(table).schema
    job = client.query(
        f"SELECT event_id, {row_size_sql(schema)} AS bytes FROM `{table}` "
        "WHERE received_at >= TIMESTAMP('2000-01-01') AND event_id IN UNNEST(@ids)",
        job_config=bigquery.QueryJobConfig(
            query_parameters=[bigquery.ArrayQueryParameter("ids", "STRING", list(event_ids))]
        ),
    )
    return {row["event_id"]: int(row["bytes"]) for row in job.result()}


def send(pipeline: CapturePipeline, events: list[dict[str, Any]]) -> dict[str, Any]:
    """One request's events through the pipeline; its log line. Every event must be stored."""
    result = capture_answer(pipeline.handle(events, batch=True))
    if result.status != 200:
        raise RuntimeError(f"the samples were not all stored: {result.status} {result.body}")
    return result.log


def measure_rows(cloud: LocalCloud, samples: int = SAMPLES_PER_TYPE) -> dict[str, Any]:
    """Rows, archive and log line of every event type's samples, stored by the pipeline in a
    dataset and a bucket of their own."""
    client = cloud.bigquery_client()
    project = cloud.settings.project
    bucket = f"{project}-{SAMPLES_DATASET}"
    bootstrap.create_dataset_and_tables(client, SAMPLES_DATASET)
    bootstrap.create_bucket(cloud.storage_client(), bucket)
    pipeline = cloud.pipeline(
        BIGQUERY_DATASET=SAMPLES_DATASET, GCS_BUCKET=bucket, DEAD_LETTER_BUCKET=bucket
    )
    rng = random.Random(SEED)  # noqa: S311 - sample data, not secrets
    tables = table_of_event_type()
    sent: dict[str, list[str]] = {}
    for event_type in EVENT_TYPES:
        events = [sample_event(event_type, rng=rng) for _ in range(samples)]
        send(pipeline, events)
        sent[event_type] = [event["event_id"] for event in events]
    one_type = [log_line_bytes(send(pipeline, [sample_event(t, rng=rng)])) for t in EVENT_TYPES]
    every_type = log_line_bytes(send(pipeline, [sample_event(t, rng=rng) for t in EVENT_TYPES]))
    one = sum(one_type) / len(one_type)

    row_bytes = {}
    for event_type, ids in sent.items():
        table = f"{project}.{SAMPLES_DATASET}.{tables[event_type]}"
        sizes = stored_row_bytes(client, table, ids)
        if sorted(sizes) != sorted(ids):
            raise RuntimeError(f"{event_type}: {len(ids) - len(sizes)} samples not found")
        row_bytes[event_type] = [sizes[event_id] for event_id in ids]
    pipeline.flush_archive()  # the instance's buffered archive lines, as at its shutdown
    archived: dict[str, list[int]] = {}
    for text in cloud.objects("archive/", bucket=bucket).values():
        for line in text.splitlines():
            archived.setdefault(json.loads(line)["event_type"], []).append(len(line.encode()) + 1)
    return {
        "tables": tables,
        "row_bytes": row_bytes,
        "archive_bytes": {t: sum(sizes) / len(sizes) for t, sizes in archived.items()},
        "log_line_bytes": one,
        "log_line_bytes_per_type": (every_type - one) / (len(EVENT_TYPES) - 1),
        "emulator_num_bytes": {
            table: int(client.get_table(f"{project}.{SAMPLES_DATASET}.{table}").num_bytes or 0)
            for table in sorted(set(tables.values()))
        },
    }


def measure_history(cloud: LocalCloud, history: History) -> dict[str, Any]:
    """What each scheduled script reads of ``history``, and the tables they fill."""
    client = cloud.bigquery_client()
    datasets = cloud.settings.warehouse_datasets
    create_warehouse(client, datasets)
    load_history(cloud, history)
    # The run the next night would do: its day before is the history's last day.
    run_date = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    backfill_partials(client, datasets, run_date)
    # A data-quality rule that fails on random samples is no reason to stop measuring.
    run_all(client, datasets, run_date)
    nightly = [
        NightlyRead(
            script=spec.name,
            statement=read.statement,
            # Without the project: the figures are the same in any.
            table=read.table.removeprefix(f"{cloud.settings.project}."),
            rows=read.scanned.rows,
            bytes=read.scanned.bytes,
        )
        for spec in SCHEDULED_TABLES
        for read in table_reads(client, scheduled_sql(spec, datasets), datasets, run_date)
    ]
    sizes = {}
    for spec in SCHEDULED_TABLES:
        scanned, partitions = table_size(client, table_name(spec, datasets), spec.partition_field)
        sizes[spec.name] = TableSize(rows=scanned.rows, bytes=scanned.bytes, partitions=partitions)
    return {
        "history": MeasuredHistory(
            days=history.days,
            events_per_day=history.events_per_day,
            users=history.users,
            mix=history_mix(),
        ),
        "nightly": nightly,
        "scheduled_tables": sizes,
    }


def measure(history: History | None = None, cloud: LocalCloud | None = None) -> Measurements:
    """Every measurement, on ``cloud`` or on a local cloud started (and stopped) for it."""
    if cloud is None:
        with LocalCloud(SETTINGS) as started:
            return measure(history, started)
    return Measurements(
        measured_on=dt.datetime.now(dt.UTC).date().isoformat(),
        **measure_rows(cloud),
        **measure_history(cloud, history or History()),
    )


def cached(
    remeasure: bool = False,
    say: Callable[[str], None] = print,
    path: Path = CACHE,
) -> Measurements:
    """The cached measurements when they are of the current code, else fresh ones (cached)."""
    current = fingerprint()
    if not remeasure and path.exists():
        saved = json.loads(path.read_text())
        if saved.get("fingerprint") == current:
            return Measurements.from_json(json.dumps(saved["measurements"]))
    say("measuring row sizes and the nightly reads on a local cloud (about two minutes) ...")
    measured = measure()
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = {"fingerprint": current, "measurements": json.loads(measured.to_json())}
    path.write_text(json.dumps(saved, indent=1, sort_keys=True) + "\n")
    return measured
