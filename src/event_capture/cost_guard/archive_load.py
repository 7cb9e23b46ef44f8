"""Load what capture archived but did not stream into the event tables, with batch load jobs.

Batch loads are free where streaming inserts are billed, which is the point of archive-only
mode. The archive's lines are the rows exactly as the insert would have sent them (every family
in one request object, each line naming its ``event_type``), so a line goes into its family's
table unchanged, with its original ``event_id``.

Nothing is loaded twice. A day at a time: the day's objects are read, the event ids its tables
already hold over the same receive times are looked up (one query per table, reading the
``event_id`` and ``received_at`` columns of those days only), and only the others are loaded,
in a job whose id is derived from them: a repeated load of the same rows is refused by BigQuery
as a job that already exists, and a repeated run finds them present.
"""

import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from event_capture.contracts.archive_layout import ARCHIVE_AREA, day_prefix, hour_of
from event_capture.platform.api_calls import (
    ARCHIVE_BUCKET,
    EVENT_TABLES,
    PROJECT,
    ApiCall,
    query_job,
)
from event_capture.platform.bigquery_surface import BigQueryClient
from event_capture.platform.query import TIMESTAMP, Query
from event_capture.platform.storage_surface import StorageBlob, StorageBucket
from event_capture.schemas.families import MODEL_BY_EVENT_TYPE
from event_capture.tables.bigquery_schema import PARTITION_COLUMN

if TYPE_CHECKING:
    from google.cloud.bigquery import LoadJobConfig

DOWNLOAD_THREADS = 8
# New load jobs per call, and job ids per set of rows over all calls.
LOAD_ATTEMPTS = 3
MAX_JOB_IDS = 12
DAY = dt.timedelta(days=1)

API_CALLS = (
    ApiCall("storage.objects.list", ARCHIVE_BUCKET),
    ApiCall("storage.objects.get", ARCHIVE_BUCKET),
    *query_job(reads=EVENT_TABLES),
    ApiCall("bigquery.jobs.insert#load", PROJECT),
    ApiCall("bigquery.jobs.insert#load-target", EVENT_TABLES),
    ApiCall("bigquery.jobs.get", PROJECT),
)


def present_query(table: str) -> Query:
    """Which archived events a table holds already; ``table`` is ours, never input."""
    return Query(
        f"SELECT DISTINCT event_id FROM `{table}` "  # noqa: S608
        f"WHERE {PARTITION_COLUMN} >= @start AND {PARTITION_COLUMN} <= @end",
        {"start": TIMESTAMP, "end": TIMESTAMP},
    )


class LoadError(RuntimeError):
    """An archived object could not be read or loaded; the text names it."""


@dataclass
class TableLoad:
    found: int = 0
    present: int = 0
    loaded: int = 0
    jobs: list[str] = field(default_factory=list)


@dataclass
class LoadReport:
    objects: int = 0
    tables: dict[str, TableLoad] = field(default_factory=dict)

    @property
    def loaded(self) -> int:
        return sum(t.loaded for t in self.tables.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "objects": self.objects,
            "loaded": self.loaded,
            "tables": {
                name: {"found": t.found, "present": t.present, "loaded": t.loaded}
                for name, t in sorted(self.tables.items())
            },
        }


@dataclass(frozen=True)
class _Line:
    event_id: str
    received_at: dt.datetime
    text: str


def _days(start: dt.datetime, end: dt.datetime) -> Iterator[dt.date]:
    day = start.astimezone(dt.UTC).date()
    while day <= end.astimezone(dt.UTC).date():
        yield day
        day += DAY


def _parse(name: str, text: str) -> Iterator[tuple[str, _Line]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            model = MODEL_BY_EVENT_TYPE[data["event_type"]]
            received_at = dt.datetime.fromisoformat(data[PARTITION_COLUMN])
            yield model.TABLE, _Line(str(data["event_id"]), received_at, line)
        except (ValueError, TypeError, KeyError):
            raise LoadError(f"{name}: line {number} is not an archived event") from None


class ArchiveLoader:
    def __init__(
        self,
        *,
        bucket: Callable[[], StorageBucket],
        bigquery: Callable[[], BigQueryClient],
        dataset: str,
        location: str | None = None,
        job_prefix: str = "archive-load",
    ) -> None:
        """``dataset``: ``project.dataset`` of the event tables; ``location``: theirs (a job is
        found by id only in its location)."""
        self._bucket = bucket
        self._bigquery = bigquery
        self._dataset = dataset
        self._location = location
        self._job_prefix = job_prefix

    def load(self, start: dt.datetime, end: dt.datetime) -> LoadReport:
        """Every archived event received in ``[start, end]`` that its table lacks."""
        report = LoadReport()
        for day in _days(start, end):
            by_table = self._read_day(day, start, end, report)
            for table, lines in sorted(by_table.items()):
                self._load_table(table, lines, report.tables.setdefault(table, TableLoad()))
        return report

    def _read_day(
        self, day: dt.date, start: dt.datetime, end: dt.datetime, report: LoadReport
    ) -> dict[str, list[_Line]]:
        first_hour = start.replace(minute=0, second=0, microsecond=0)
        blobs = [
            blob
            for blob in self._bucket().list_blobs(prefix=day_prefix(ARCHIVE_AREA, day))
            if (hour := hour_of(blob.name)) is not None and first_hour <= hour <= end
        ]
        report.objects += len(blobs)
        with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
            texts = list(pool.map(self._download, blobs))
        by_table: dict[str, dict[str, _Line]] = {}
        for blob, text in zip(blobs, texts, strict=True):
            for table, line in _parse(blob.name, text):
                if start <= line.received_at <= end:
                    # A resend archived twice is one event: the first copy is kept.
                    by_table.setdefault(table, {}).setdefault(line.event_id, line)
        return {table: list(lines.values()) for table, lines in by_table.items()}

    @staticmethod
    def _download(blob: StorageBlob) -> str:
        try:
            return blob.download_as_text()
        except Exception as error:
            raise LoadError(f"reading {blob.name}: {type(error).__name__}: {error}") from error

    def _load_table(self, table: str, lines: list[_Line], counts: TableLoad) -> None:
        from google.cloud import bigquery

        client = self._bigquery()
        ref = f"{self._dataset}.{table}"
        counts.found += len(lines)
        received = [line.received_at for line in lines]
        rows = present_query(ref).rows(client, start=min(received), end=max(received))
        present = {row["event_id"] for row in rows}
        missing = [line for line in lines if line.event_id not in present]
        counts.present += len(lines) - len(missing)
        if not missing:
            return
        digest = hashlib.sha256("\n".join(sorted(x.event_id for x in missing)).encode())
        base_id = f"{self._job_prefix}-{table}-{digest.hexdigest()[:32]}"
        data = ("\n".join(line.text for line in missing) + "\n").encode()
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
            # The table exists; CREATE_IF_NEEDED would need tables.create on the dataset.
            create_disposition=bigquery.CreateDisposition.CREATE_NEVER,
        )
        counts.jobs.append(self._load_once(client, ref, base_id, data, config))
        counts.loaded += len(missing)

    def _load_once(
        self, client: BigQueryClient, ref: str, base_id: str, data: bytes, config: "LoadJobConfig"
    ) -> str:
        """Run the load under the first of the rows' job ids that has not failed; the id of
        the job that loaded them.

        The same rows, the same ids: a repeated message finds the job that ran (BigQuery keeps
        a job id for good) instead of loading again. A job that failed (a transient error) is
        tried again under the next id, at most LOAD_ATTEMPTS new ones per call.
        """
        from google.api_core.exceptions import Conflict

        error: Exception | None = None
        started = 0
        for number in range(MAX_JOB_IDS):
            job_id = base_id if number == 0 else f"{base_id}-retry{number}"
            try:
                job = client.load_table_from_file(
                    io.BytesIO(data), ref, job_id=job_id, job_config=config, location=self._location
                )
                started += 1
            except Conflict:
                job = client.get_job(job_id, location=self._location)
            try:
                job.result()
            except Exception as failed:  # noqa: BLE001 - the next id, or the LoadError below
                error = failed
                if started >= LOAD_ATTEMPTS:
                    break
                continue
            return job_id
        # A row BigQuery refuses fails every attempt: the switch back waits for an operator
        # (the rows stay in the archive; the error names the table and the row).
        rows = data.count(b"\n")
        raise LoadError(f"loading {rows} rows into {ref}: {error}") from error
