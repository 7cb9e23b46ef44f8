"""The dead-letter area: rows BigQuery did not take, kept in Cloud Storage for replay.

Each line holds the row exactly as it was sent, its insertId, why it failed and the kind of
failure, so a replay re-inserts it with the same insertId and the de-duplicated views keep
reads exact. The line format is written and read here only.
"""

import json
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any

from event_capture.contracts.archive_layout import object_name
from event_capture.ingest.retry import describe
from event_capture.ingest.row import Request, Row, per_table
from event_capture.ingest.sinks.gcs_objects import NdjsonWriter
from event_capture.ingest.sinks.result import (
    FailedRow,
    Failure,
    FailureKind,
    SinkResult,
    TablePart,
    all_failed,
)
from event_capture.platform.api_calls import DEAD_LETTER_BUCKET, ApiCall

DEAD_LETTER_AREA = "dead-letter"
REPLAYED_AREA = "dead-letter-replayed"
INVALID_AREA = "dead-letter-invalid"

# As the archive's: written once, read back after a 412 (gcs_objects.NdjsonWriter).
API_CALLS = (
    ApiCall("storage.objects.insert", DEAD_LETTER_BUCKET),
    ApiCall("storage.objects.get", DEAD_LETTER_BUCKET),
)


def encode(failed: FailedRow) -> str:
    """One NDJSON line; the row's JSON is spliced in as serialized once at validation."""
    row, failure = failed.row, failed.failure
    return (
        f'{{"insert_id":{json.dumps(row.event_id)},"table":{json.dumps(row.table)},'
        f'"event_type":{json.dumps(row.event_type)},"failure":"{failure.kind.value}",'
        f'"reason":{json.dumps(failure.detail)},"row":{row.json}}}'
    )


def _kind(entry: dict[str, Any]) -> FailureKind:
    if "failure" in entry:
        return FailureKind(entry["failure"])
    # Lines written before the kind had a field of its own carried it as a reason prefix.
    reason = entry.get("reason")
    invalid = isinstance(reason, str) and reason.startswith("invalid:")
    return FailureKind.INVALID if invalid else FailureKind.UNDELIVERED


def decode(text: str) -> list[FailedRow]:
    """The entries of one dead-letter object, in order, as ``encode`` wrote them."""
    entries = []
    for index, line in enumerate(line for line in text.splitlines() if line.strip()):
        entry = json.loads(line)
        data = entry["row"]
        row = Row(
            index=index,
            event_id=entry["insert_id"],
            event_type=entry["event_type"],
            table=entry["table"],
            user_id=data.get("user_id"),
            json=json.dumps(data, separators=(",", ":")),
            anonymous_id=data.get("anonymous_id"),
        )
        entries.append(FailedRow(row, Failure(_kind(entry), str(entry.get("reason", "")))))
    return entries


class DeadLetterSink:
    def __init__(self, writer: NdjsonWriter, *, executor: Executor | None = None) -> None:
        self._writer = writer
        self._executor = executor

    def write(self, failed: Sequence[FailedRow], request: Request) -> SinkResult:
        """Write failed rows, one object per table, the tables in parallel; ``stored`` are the
        rows now durable."""
        by_id = {entry.row.event_id: entry for entry in failed}

        def keep_table(table: str, rows: list[Row]) -> TablePart:
            name = object_name(f"{DEAD_LETTER_AREA}/{table}", request.received_at, request.id)
            lines = (encode(by_id[row.event_id]) for row in rows)
            try:
                retries = self._writer.create(name, lines, request=request)
            except Exception as error:  # noqa: BLE001 - reported; the caller answers 503
                return [], all_failed(rows, FailureKind.UNDELIVERED, describe(error)), 0
            return rows, [], retries

        parts = per_table((entry.row for entry in failed), keep_table, self._executor)
        not_written = [f for _, part_failed, _ in parts for f in part_failed]
        return SinkResult.of(
            [row for written, _, _ in parts for row in written],
            not_written,
            retries=sum(retries for _, _, retries in parts),
            error=not_written[0].failure.detail if not_written else None,
        )
