"""A stand-in for the Cloud Logging sink that routes the functions' request lines into BigQuery,
for ``make report`` on ``make run``'s local cloud (``tools/report.py``).

In the cloud, a Logging sink writes each request line of the capture function and the collector
into ``capture_logs.run_googleapis_com_stdout`` (``event_capture.report.capture_log``). Here
nothing routes logs, so ``make report`` does it once before it queries: it reads the local log
files, keeps the JSON lines whose ``message`` is a request line's, and writes them into the same
table on the emulator in the shape Logging gives them (``jsonPayload`` record, numbers as FLOAT,
``severity`` lifted out, the function as ``resource.labels.service_name``). Every run replaces
what earlier runs routed, so the table holds exactly what the files hold.

Cloud Logging dates an entry by the line's own ``time`` field when it has one, else by when it
received the line (moments after it was written). The functions' lines carry their ``time``;
a line without one (written before they did) is dated by its file's last write.
"""

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.cloud import bigquery

from event_capture.report import capture_log

# insertId's prefix for what this stand-in routed, so a rerun replaces it and only it.
LOCAL_PREFIX = "local-log-sink"


@dataclass(frozen=True, kw_only=True)
class LogEntry:
    """One request line as Cloud Logging received it."""

    timestamp: dt.datetime
    payload: dict[str, Any]


def _time_of(payload: dict[str, Any]) -> dt.datetime | None:
    value = payload.get("time")
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def read_entries(path: Path) -> Iterator[LogEntry]:
    """The request lines of a log file (other lines, such as gunicorn's, are skipped)."""
    written = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                payload = json.loads(line)
            except ValueError:
                continue
            if isinstance(payload, dict) and payload.get("message") in capture_log.MESSAGES:
                yield LogEntry(timestamp=_time_of(payload) or written, payload=payload)


def row(entry: LogEntry, *, project: str, insert_id: str) -> dict[str, Any]:
    """The entry as the sink's table holds it: the columns of ``capture_log.COLUMNS``."""
    payload = entry.payload
    json_payload: dict[str, Any] = {
        name: str(payload[name]) for name in capture_log.TEXT_FIELDS if name in payload
    }
    for name in capture_log.NUMBER_FIELDS:
        value = payload.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            json_payload[name] = float(value)
    return {
        "timestamp": entry.timestamp,
        "receiveTimestamp": entry.timestamp,
        "severity": payload.get("severity", "DEFAULT"),
        "logName": capture_log.log_name(project),
        "insertId": insert_id,
        "resource": {
            "type": capture_log.RESOURCE_TYPE,
            "labels": {"service_name": payload["message"], "project_id": project},
        },
        "jsonPayload": json_payload,
    }


def create_table(client: bigquery.Client, table: str) -> None:
    """The sink's table, as the lead's Pulumi creates it ahead of the first entry."""
    dataset = table.rsplit(".", 1)[0]
    client.create_dataset(dataset, exists_ok=True)
    spec = bigquery.Table(
        table,
        schema=[bigquery.SchemaField.from_api_repr(c.api_repr()) for c in capture_log.COLUMNS],
    )
    spec.time_partitioning = bigquery.TimePartitioning(field=capture_log.PARTITION_FIELD)
    client.create_table(spec, exists_ok=True)


def route(client: bigquery.Client, table: str, entries: Iterable[LogEntry]) -> int:
    """Replace what earlier runs routed into ``table`` with ``entries``; how many went in."""
    project = table.split(".", 1)[0]
    create_table(client, table)
    client.query(f"DELETE FROM `{table}` WHERE STARTS_WITH(insertId, '{LOCAL_PREFIX}-')").result()
    # A fresh id per run: insertAll drops a row whose insertId it saw a minute before, which
    # would lose a rerun's rows; no row ids are sent for the same reason.
    run = uuid.uuid4().hex[:12]
    rows = [
        row(entry, project=project, insert_id=f"{LOCAL_PREFIX}-{run}-{n}")
        for n, entry in enumerate(entries)
    ]
    # insertAll caps a request at 500 rows (and ~9 MB; these rows are small).
    for start in range(0, len(rows), 500):
        chunk = [_jsonable(r) for r in rows[start : start + 500]]
        errors = client.insert_rows_json(table, chunk, row_ids=[None] * len(chunk))
        if errors:
            raise RuntimeError(f"routing the log lines into {table} failed: {errors[:3]}")
    return len(rows)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, dt.datetime) else value
        for key, value in row.items()
    }


def route_files(client: bigquery.Client, table: str, paths: Iterable[Path]) -> int:
    """Every request line of the files that exist, routed (replacing earlier runs')."""
    entries = [entry for path in paths if path.is_file() for entry in read_entries(path)]
    return route(client, table, entries)
