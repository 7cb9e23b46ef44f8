"""The local stand-in for the Cloud Logging sink (``localcloud/log_sink.py``): which lines it
routes, how it dates them, and the row shape Logging's BigQuery tables have."""

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from event_capture.contracts import log_fields as log
from event_capture.report import capture_log
from event_capture.warehouse.catalog import Column
from localcloud.log_sink import LogEntry, read_entries, row

CAPTURE_LINE = {
    log.SEVERITY: "WARNING",
    "message": log.CAPTURE_MESSAGE,
    log.REQUEST_ID: "r1",
    log.HTTP_STATUS: 207,
    log.LATENCY_MS: 12.5,
    log.EVENTS_RECEIVED: 3,
    log.EVENTS_ACCEPTED: 2,
    log.EVENTS_REJECTED: 1,
    log.EVENTS_DEAD_LETTERED: 0,
    log.EVENTS_NOT_STORED: 0,
    log.BY_EVENT_TYPE: {"search": {"received": 3, "accepted": 2, "rejected": 1}},
    log.SINKS: {log.SINK_BIGQUERY: {"status": "ok", "rows": 2}},
}
REFUSED_LINE = {
    log.SEVERITY: "WARNING",
    "message": log.CAPTURE_MESSAGE,
    log.HTTP_STATUS: 415,
    log.RULE: "unsupported_media_type",
    log.POSITION: "request",
}
WRITTEN = dt.datetime(2026, 3, 10, 17, 30, tzinfo=dt.UTC)


def log_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "capture-function.log"
    path.write_text("\n".join(lines) + "\n")
    os.utime(path, (WRITTEN.timestamp(), WRITTEN.timestamp()))
    return path


def test_only_the_request_lines_of_capture_and_the_collector_are_routed(tmp_path: Path) -> None:
    collector = {"message": log.COLLECTOR_MESSAGE, log.EVENTS_ACCEPTED: 1}
    path = log_file(
        tmp_path,
        [
            "[2026-03-10 09:00:00 +0000] [12] [ERROR] Worker (pid:13) was sent SIGKILL!",
            json.dumps(CAPTURE_LINE),
            json.dumps({"message": "features", "http_status": 200}),
            json.dumps(collector),
            '{"message": "capture", "truncated',
            json.dumps(REFUSED_LINE),
        ],
    )

    entries = list(read_entries(path))

    assert [e.payload for e in entries] == [CAPTURE_LINE, collector, REFUSED_LINE]


def test_a_line_is_dated_by_its_own_time_else_by_its_files_last_write(tmp_path: Path) -> None:
    stamped = CAPTURE_LINE | {"time": "2026-03-08T10:00:00Z"}
    path = log_file(tmp_path, [json.dumps(CAPTURE_LINE), json.dumps(stamped)])

    times = [entry.timestamp for entry in read_entries(path)]

    assert times == [WRITTEN, dt.datetime(2026, 3, 8, 10, tzinfo=dt.UTC)]


def _columns(columns: tuple[Column, ...]) -> dict[str, Any]:
    return {c.name: _columns(c.fields) if c.fields else c.type for c in columns}


def test_a_row_has_the_shape_of_logging_s_bigquery_table() -> None:
    schema = _columns(capture_log.COLUMNS)

    out = row(LogEntry(timestamp=WRITTEN, payload=CAPTURE_LINE), project="p", insert_id="i1")

    assert set(out) <= set(schema)
    assert set(out["jsonPayload"]) <= set(schema["jsonPayload"])
    assert out["timestamp"] == WRITTEN and out["severity"] == "WARNING"
    assert out["logName"] == "projects/p/logs/run.googleapis.com%2Fstdout"
    assert out["resource"]["labels"]["service_name"] == log.CAPTURE_MESSAGE
    assert out["jsonPayload"][log.EVENTS_ACCEPTED] == 2.0
    # JSON numbers are FLOAT columns, as Logging writes them.
    for field in capture_log.NUMBER_FIELDS:
        assert schema["jsonPayload"][field] == "FLOAT"
        assert isinstance(out["jsonPayload"][field], float), field
    assert (
        out["jsonPayload"]["message"] == log.CAPTURE_MESSAGE
        and out["jsonPayload"]["request_id"] == "r1"
    )


def test_a_refused_request_has_no_counts() -> None:
    out = row(LogEntry(timestamp=WRITTEN, payload=REFUSED_LINE), project="p", insert_id="i2")

    assert out["jsonPayload"] == {
        "message": log.CAPTURE_MESSAGE,
        log.HTTP_STATUS: 415.0,
        log.RULE: "unsupported_media_type",
        log.POSITION: "request",
    }
