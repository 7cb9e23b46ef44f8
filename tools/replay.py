"""Re-insert dead-lettered rows into BigQuery: ``make replay`` or ``python -m ingest.replay``.

Each dead-letter object is replayed with the rows' original insertIds, then moved to
``dead-letter-replayed/``, so a second run finds nothing to do. Rows BigQuery refuses again as
invalid go to ``dead-letter-invalid/`` for a person to look at; rows that fail transiently
(BigQuery still down) stay in ``dead-letter/`` for the next run. A crash between the insert and
the move only means the next run inserts the same rows again with the same insertIds, which
BigQuery de-duplicates and the de-duplicated views hide.

Runs with the same configuration variables as the function, under an identity that may read
and delete objects in the bucket (the function's own account can only create them).
"""

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from event_capture.ingest import clients
from event_capture.ingest.config import Config, load_config
from event_capture.ingest.sinks.bigquery import BigQuerySink
from event_capture.ingest.sinks.dead_letter import DEAD_LETTER_AREA, REPLAYED_AREA, dead_letter_line
from event_capture.ingest.validation import Row

INVALID_AREA = "dead-letter-invalid"


@dataclass(slots=True)
class ReplayReport:
    objects: int = 0
    rows: int = 0
    inserted: int = 0
    invalid: int = 0
    still_failing: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "objects": self.objects,
            "rows": self.rows,
            "inserted": self.inserted,
            "invalid": self.invalid,
            "still_failing": self.still_failing,
        }


def rows_from_object(text: str) -> list[Row]:
    rows = []
    for index, line in enumerate(line for line in text.splitlines() if line.strip()):
        entry: dict[str, Any] = json.loads(line)
        data: dict[str, Any] = entry["row"]
        rows.append(
            Row(
                index=index,
                event_id=entry["insert_id"],
                event_type=entry["event_type"],
                table=entry["table"],
                user_id=data["user_id"],
                data=data,
                json=json.dumps(data, separators=(",", ":")),
            )
        )
    return rows


def _sibling(name: str, area: str, suffix: str = "") -> str:
    # dead-letter/<table>/dt=.../x.ndjson -> <area>/<table>/dt=.../x<suffix>.ndjson
    rest = name.split("/", 1)[1]
    if suffix:
        rest = rest.removesuffix(".ndjson") + suffix + ".ndjson"
    return f"{area}/{rest}"


def replay(
    bucket: Any,
    sink: BigQuerySink,
    progress: TextIO = sys.stderr,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ReplayReport:
    report = ReplayReport()
    blobs = sorted(bucket.list_blobs(prefix=f"{DEAD_LETTER_AREA}/"), key=lambda b: b.name)
    if not blobs:
        print("nothing to replay", file=progress)
        return report
    for number, blob in enumerate(blobs, start=1):
        rows = rows_from_object(blob.download_as_text())
        result = sink.insert(rows)
        invalid = [(r, why) for r, why in result.failed if why.startswith("invalid")]
        transient = [(r, why) for r, why in result.failed if not why.startswith("invalid")]
        stamp = now().strftime("%Y%m%dT%H%M%S")
        # Leftovers are written before the original is moved: a crash in between repeats
        # work (same insertIds) but never loses a row.
        if invalid:
            _create(bucket, _sibling(blob.name, INVALID_AREA), invalid)
        if transient:
            _create(bucket, _sibling(blob.name, DEAD_LETTER_AREA, f"-retry-{stamp}"), transient)
        _move(bucket, blob, _sibling(blob.name, REPLAYED_AREA))
        report.objects += 1
        report.rows += len(rows)
        report.inserted += len(result.inserted)
        report.invalid += len(invalid)
        report.still_failing += len(transient)
        print(
            f"[{number}/{len(blobs)}] {blob.name}: {len(rows)} rows, "
            f"{len(result.inserted)} inserted, {len(invalid)} invalid, "
            f"{len(transient)} left for the next run",
            file=progress,
            flush=True,
        )
    return report


def _create(bucket: Any, name: str, entries: list[tuple[Row, str]]) -> None:
    data = "".join(dead_letter_line(row, reason) + "\n" for row, reason in entries)
    try:
        bucket.blob(name).upload_from_string(
            data, content_type="application/x-ndjson", if_generation_match=0
        )
    except Exception as error:
        if getattr(error, "code", None) != 412:  # written by an earlier, interrupted run
            raise


def _move(bucket: Any, blob: Any, destination: str) -> None:
    try:
        bucket.copy_blob(blob, bucket, destination, if_generation_match=0)
    except Exception as error:
        if getattr(error, "code", None) != 412:
            raise
    try:
        bucket.delete_blob(blob.name, if_generation_match=blob.generation)
    except Exception as error:
        if getattr(error, "code", None) not in (404, 412):  # already moved by another run
            raise


def main(argv: list[str] | None = None, config: Config | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    config = config or load_config()
    if not (config.bigquery_enabled and config.dead_letter_bucket and config.project):
        print(
            "replay needs BIGQUERY_ENABLED=true, GCP_PROJECT and DEAD_LETTER_BUCKET or GCS_BUCKET",
            file=sys.stderr,
        )
        return 2
    sink = BigQuerySink(
        lambda: clients.bigquery_client(config),
        config.project,
        config.bigquery_dataset,
        config.bigquery_deadline_seconds,
    )
    bucket = clients.storage_client(config).bucket(config.dead_letter_bucket)
    report = replay(bucket, sink)
    print(json.dumps({"message": "replay", **report.as_dict()}))
    return 1 if report.still_failing else 0


if __name__ == "__main__":
    sys.exit(main())
